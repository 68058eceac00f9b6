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

TEST(LogRateLimit, NoteSaysHowManyOnlyWhenSome) {
  EXPECT_EQ(left_out_note(0), "");
  EXPECT_EQ(left_out_note(3), " (3 more like it not logged)");
}

}  // namespace
}  // namespace mx
