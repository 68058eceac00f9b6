#include "mxegress/config/key_suggestion.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using Keys = std::set<std::string, std::less<>>;

TEST(KeyEditDistance, CountsEachKindOfEditOnce) {
  EXPECT_EQ(key_edit_distance("listen", "listen"), 0u);
  EXPECT_EQ(key_edit_distance("max_conections", "max_connections"), 1u);    // insertion
  EXPECT_EQ(key_edit_distance("max_connectionss", "max_connections"), 1u);  // deletion
  EXPECT_EQ(key_edit_distance("lisken", "listen"), 1u);                     // substitution
  EXPECT_EQ(key_edit_distance("nmae", "name"), 1u);                         // swap of neighbours
  EXPECT_EQ(key_edit_distance("Listen", "listen"), 0u);                     // case does not count
  EXPECT_EQ(key_edit_distance("", "abc"), 3u);
  EXPECT_EQ(key_edit_distance("abc", ""), 3u);
  EXPECT_EQ(key_edit_distance("source", "tunnel_from"), 10u);
}

TEST(NearestKnownKey, SuggestsATypo) {
  const Keys known{"name", "key", "source", "max_connections", "max_connections_per_destination"};
  EXPECT_EQ(nearest_known_key("max_conections", known), "max_connections");
  EXPECT_EQ(nearest_known_key("nmae", known), "name");
  EXPECT_EQ(nearest_known_key("sorce", known), "source");
  EXPECT_EQ(nearest_known_key("Source", known), "source");
}

TEST(NearestKnownKey, StaysQuietWhenNothingIsClose) {
  const Keys known{"name", "key", "source"};
  EXPECT_EQ(nearest_known_key("bogus", known), std::nullopt);
  EXPECT_EQ(nearest_known_key("threads", known), std::nullopt);
  EXPECT_EQ(nearest_known_key("anything", Keys{}), std::nullopt);
}

TEST(NearestKnownKey, AllowsFewerEditsForShortKeys) {
  // Two edits would turn "ky" into "key" and "src" into anything short.
  EXPECT_EQ(nearest_known_key("ky", Keys{"key"}), "key");             // one edit, length 2: allowed
  EXPECT_EQ(nearest_known_key("kx", Keys{"key"}), std::nullopt);      // two edits, length 2
  EXPECT_EQ(nearest_known_key("sourc_x", Keys{"source"}), "source");  // two edits, length 7
  EXPECT_EQ(nearest_known_key("sxurxe", Keys{"source"}), "source");   // two edits, length 6
  EXPECT_EQ(nearest_known_key("sxxrce", Keys{"source"}), "source");
  EXPECT_EQ(nearest_known_key("sxxrxe", Keys{"source"}), std::nullopt);  // three edits
}

TEST(NearestKnownKey, PrefersTheNearestThenTheFirstInOrder) {
  EXPECT_EQ(nearest_known_key("pool_mix", Keys{"pool_max", "pool_min"}), "pool_max");
  EXPECT_EQ(nearest_known_key("pool_max_", Keys{"pool", "pool_max"}), "pool_max");
}

}  // namespace
}  // namespace mx
