// AuthRefusals: every refusal counted by status; one line per address and
// reason an interval.
#include "auth_refusals.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using namespace std::chrono_literals;
using frame::AuthStatus;

TEST(AuthRefusals, CountsEveryRefusalByStatusAndLogsOncePerAddressAndReason) {
  AuthRefusals refusals;
  const auto t0 = LogRateLimit::Clock::time_point{} + 1h;
  EXPECT_EQ(refusals.refuse("10.0.0.1", AuthStatus::UnknownKey, "unknown key k1", t0), 0u);
  EXPECT_FALSE(refusals.refuse("10.0.0.1", AuthStatus::UnknownKey, "unknown key k1", t0 + 1s));
  EXPECT_FALSE(refusals.refuse("10.0.0.1", AuthStatus::UnknownKey, "unknown key k1", t0 + 2s));
  EXPECT_EQ(refusals.refuse("10.0.0.1", AuthStatus::UnknownKey, "unknown key k2", t0 + 3s), 0u)
      << "another key is another reason";
  EXPECT_EQ(refusals.refuse("10.0.0.2", AuthStatus::UnknownKey, "unknown key k1", t0 + 4s), 0u)
      << "another address";
  EXPECT_EQ(refusals.refuse("10.0.0.1", AuthStatus::NotAllowed, "tenant a is disabled", t0 + 5s),
            0u);
  EXPECT_EQ(refusals.refuse("10.0.0.1", AuthStatus::UnknownKey, "unknown key k1", t0 + 10s), 2u)
      << "the line after the interval says how many were left out";

  EXPECT_EQ(refusals.count(AuthStatus::UnknownKey), 6u) << "counted whether logged or not";
  EXPECT_EQ(refusals.count(AuthStatus::NotAllowed), 1u);
  EXPECT_EQ(refusals.count(AuthStatus::BadSignature), 0u);
  EXPECT_EQ(refusals.count(AuthStatus::Ok), 0u);
}

}  // namespace
}  // namespace mx
