#include "mxegress/config/duration.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesEachUnit) {
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("10m"), milliseconds(600'000));
  EXPECT_EQ(parse_duration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parse_duration("1d"), milliseconds(86'400'000));
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
  EXPECT_EQ(parse_duration("007s"), milliseconds(7'000));
}

TEST(Duration, RejectsAnythingElse) {
  for (const char* text : {"", "30", "s", "ms", "1.5s", "-1s", "+1s", " 1s", "1s ", "1 s", "1S",
                           "1sec", "1h30m", "1w", "1us", "0x10s", "1e3ms"}) {
    EXPECT_FALSE(parse_duration(text)) << text;
  }
}

TEST(Duration, RejectsOverflow) {
  EXPECT_EQ(parse_duration("9223372036854775807ms"), milliseconds(9223372036854775807));
  EXPECT_FALSE(parse_duration("9223372036854775808ms"));
  EXPECT_FALSE(parse_duration("106751991167301d"));
  EXPECT_TRUE(parse_duration("106751991167d"));
  EXPECT_FALSE(parse_duration("99999999999999999999999999s"));
}

TEST(Duration, FormatsTheLargestExactUnit) {
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(milliseconds(30'000)), "30s");
  EXPECT_EQ(format_duration(milliseconds(600'000)), "10m");
  EXPECT_EQ(format_duration(milliseconds(5'400'000)), "90m");
  EXPECT_EQ(format_duration(milliseconds(86'400'000)), "1d");
  EXPECT_EQ(format_duration(milliseconds(0)), "0ms");
}

}  // namespace
}  // namespace mx
