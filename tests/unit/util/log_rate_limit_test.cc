#include "mxegress/util/log_rate_limit.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using namespace std::chrono_literals;

TEST(LogRateLimit, OneLinePerIntervalCountingWhatWasLeftOut) {
  LogRateLimit limit(10s);
  const auto t0 = LogRateLimit::Clock::time_point{} + 1h;
  ASSERT_EQ(limit.admit(t0), 0u);
  EXPECT_FALSE(limit.admit(t0 + 1s));
  EXPECT_FALSE(limit.admit(t0 + 9s));
  auto next = limit.admit(t0 + 10s);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 2u);
  EXPECT_FALSE(limit.admit(t0 + 11s));
  EXPECT_EQ(limit.admit(t0 + 30s), 1u);
}

TEST(KeyedLogRateLimit, EachKeyHasItsOwnInterval) {
  KeyedLogRateLimit limit(10s);
  const auto t0 = LogRateLimit::Clock::time_point{} + 1h;
  ASSERT_EQ(limit.admit("10.0.0.1 unknown key", t0), 0u);
  EXPECT_FALSE(limit.admit("10.0.0.1 unknown key", t0 + 1s));
  EXPECT_EQ(limit.admit("10.0.0.2 unknown key", t0 + 2s), 0u) << "another party, logged at once";
  EXPECT_EQ(limit.admit("10.0.0.1 bad signature", t0 + 3s), 0u) << "another reason too";
  EXPECT_FALSE(limit.admit("10.0.0.1 unknown key", t0 + 4s));
  EXPECT_EQ(limit.admit("10.0.0.1 unknown key", t0 + 10s), 2u);
  EXPECT_EQ(limit.keys(), 3u);
}

TEST(KeyedLogRateLimit, BoundedKeysForgetTheSilentThenShareAnOverflowKey) {
  KeyedLogRateLimit limit(10s, 2);
  const auto t0 = LogRateLimit::Clock::time_point{} + 1h;
  ASSERT_TRUE(limit.admit("a", t0));
  ASSERT_TRUE(limit.admit("b", t0 + 5s));
  // Full, and neither is silent for 10 s: new keys share the overflow key.
  EXPECT_EQ(limit.admit("c", t0 + 6s), 0u);
  EXPECT_FALSE(limit.admit("d", t0 + 7s));
  EXPECT_FALSE(limit.admit("e", t0 + 8s));
  EXPECT_EQ(limit.keys(), 2u);
  // "a" has been silent for 10 s: forgotten, and "f" takes its place.
  EXPECT_EQ(limit.admit("f", t0 + 10s), 0u);
  EXPECT_EQ(limit.keys(), 2u);
  EXPECT_FALSE(limit.admit("f", t0 + 11s)) << "remembered now";
  EXPECT_TRUE(limit.admit("b", t0 + 15s));
  EXPECT_EQ(limit.admit("g", t0 + 16s), 2u) << "the overflow key counted d and e";
}

TEST(LogRateLimit, NoteSaysHowManyOnlyWhenSome) {
  EXPECT_EQ(left_out_note(0), "");
  EXPECT_EQ(left_out_note(3), " (3 more like it not logged)");
}

}  // namespace
}  // namespace mx
