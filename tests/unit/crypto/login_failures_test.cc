// LoginFailures: the backoff an address earns by failing logins, on a
// clock the test moves.
#include "mxegress/crypto/login_failures.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using namespace std::chrono_literals;
using Clock = LoginFailures::Clock;

class LoginFailuresTest : public ::testing::Test {
 protected:
  LoginFailures failures_{{3, 60s}};
  Clock::time_point t0_ = Clock::time_point{} + 1000s;
};

TEST_F(LoginFailuresTest, BacksOffAtTheThresholdAndNotBefore) {
  EXPECT_FALSE(failures_.failed("10.0.0.1", t0_));
  EXPECT_FALSE(failures_.failed("10.0.0.1", t0_ + 1s));
  EXPECT_FALSE(failures_.in_backoff("10.0.0.1", t0_ + 2s));
  EXPECT_TRUE(failures_.failed("10.0.0.1", t0_ + 2s)) << "the third starts the backoff";
  EXPECT_TRUE(failures_.in_backoff("10.0.0.1", t0_ + 2s));
  EXPECT_TRUE(failures_.in_backoff("10.0.0.1", t0_ + 61s));
}

TEST_F(LoginFailuresTest, TheBackoffEndsOnTimeAndStartsAfresh) {
  for (int i = 0; i < 3; ++i) failures_.failed("10.0.0.1", t0_);
  EXPECT_TRUE(failures_.in_backoff("10.0.0.1", t0_ + 59s));
  EXPECT_FALSE(failures_.in_backoff("10.0.0.1", t0_ + 60s));
  EXPECT_EQ(failures_.addresses(), 0u) << "forgotten once over";
  EXPECT_FALSE(failures_.failed("10.0.0.1", t0_ + 61s)) << "one failure of a new count";
  EXPECT_FALSE(failures_.in_backoff("10.0.0.1", t0_ + 61s));
}

TEST_F(LoginFailuresTest, RefusedAttemptsDoNotExtendTheBackoff) {
  for (int i = 0; i < 3; ++i) failures_.failed("10.0.0.1", t0_);
  for (auto t = t0_; t < t0_ + 60s; t += 1s) EXPECT_TRUE(failures_.in_backoff("10.0.0.1", t));
  // A check admitted before the backoff that fails during it: not counted.
  EXPECT_FALSE(failures_.failed("10.0.0.1", t0_ + 30s));
  EXPECT_FALSE(failures_.in_backoff("10.0.0.1", t0_ + 60s));
}

TEST_F(LoginFailuresTest, FailuresOlderThanTheWindowAreForgotten) {
  failures_.failed("10.0.0.1", t0_);
  failures_.failed("10.0.0.1", t0_ + 30s);
  EXPECT_FALSE(failures_.failed("10.0.0.1", t0_ + 60s)) << "the window restarted";
  EXPECT_FALSE(failures_.in_backoff("10.0.0.1", t0_ + 60s));
  failures_.failed("10.0.0.1", t0_ + 61s);
  EXPECT_TRUE(failures_.failed("10.0.0.1", t0_ + 62s));
}

TEST_F(LoginFailuresTest, AddressesAreIndependent) {
  for (int i = 0; i < 3; ++i) failures_.failed("10.0.0.1", t0_);
  failures_.failed("10.0.0.2", t0_);
  failures_.failed("fd00::1", t0_);
  EXPECT_TRUE(failures_.in_backoff("10.0.0.1", t0_ + 1s));
  EXPECT_FALSE(failures_.in_backoff("10.0.0.2", t0_ + 1s));
  EXPECT_FALSE(failures_.in_backoff("fd00::1", t0_ + 1s));
  EXPECT_FALSE(failures_.in_backoff("10.0.0.3", t0_ + 1s));
}

TEST_F(LoginFailuresTest, ThresholdZeroNeverBacksOff) {
  failures_.set_settings({0, 60s});
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(failures_.failed("10.0.0.1", t0_));
  EXPECT_FALSE(failures_.in_backoff("10.0.0.1", t0_));
  EXPECT_EQ(failures_.addresses(), 0u);
}

TEST_F(LoginFailuresTest, RemembersABoundedNumberOfAddresses) {
  for (size_t i = 0; i < LoginFailures::kMaxAddresses + 10; ++i) {
    failures_.failed("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256),
                     t0_ + std::chrono::milliseconds(i));
  }
  EXPECT_EQ(failures_.addresses(), LoginFailures::kMaxAddresses);
  for (int i = 0; i < 3; ++i) failures_.failed("10.9.9.9", t0_ + 10s);
  EXPECT_TRUE(failures_.in_backoff("10.9.9.9", t0_ + 11s)) << "the newest is kept";
}

}  // namespace
}  // namespace mx
