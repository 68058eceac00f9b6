// SourceHealth with a test clock: when an address becomes suspect at a
// provider, how it recovers, and what a tenant that avoids it may use.
#include "smtp/source_health.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using namespace std::chrono_literals;
using Change = SourceHealth::Change;

class SourceHealthTest : public ::testing::Test {
 protected:
  SourceHealth::Verdict banner(int code, std::chrono::milliseconds at,
                               const std::string& source = "192.0.2.10",
                               const std::string& provider = "example.net") {
    return health_.record(source, provider, code, "text of " + std::to_string(code), t0_ + at,
                          settings_);
  }
  // Whether an avoiding tenant may use the address now; if so, it does (a
  // session leaves from it).
  bool usable(std::chrono::milliseconds at, const std::string& source = "192.0.2.10") {
    if (health_.avoid(source, "example.net", t0_ + at)) return false;
    health_.leaving_from(source, "example.net", t0_ + at);
    return true;
  }

  SourceHealth health_;
  SourceHealth::Settings settings_{1h, 4, 50, 10min};
  SourceHealth::Clock::time_point t0_ = SourceHealth::Clock::now();
};

TEST_F(SourceHealthTest, SuspectOnceTheShareOfRefusalsReachesTheThresholdWithEnoughSessions) {
  EXPECT_EQ(banner(554, 0s).change, Change::None);
  EXPECT_EQ(banner(554, 1s).change, Change::None);
  EXPECT_EQ(banner(220, 2s).change, Change::None);  // 2 of 3: not enough sessions yet
  const auto verdict = banner(220, 3s);             // 2 of 4 = 50 %
  EXPECT_EQ(verdict.change, Change::BecameSuspect);
  EXPECT_EQ(verdict.sessions, 4u);
  EXPECT_EQ(verdict.refused, 2u);
  ASSERT_EQ(health_.entries().size(), 1u);
  const auto entry = health_.entries()[0];
  EXPECT_TRUE(entry.suspect);
  EXPECT_EQ(entry.source, "192.0.2.10");
  EXPECT_EQ(entry.provider, "example.net");
  EXPECT_EQ(entry.example, "554 text of 554");
  EXPECT_EQ(health_.suspects(), 1u);
}

TEST_F(SourceHealthTest, ThrottlingCountsButOtherTemporaryRepliesDoNot) {
  EXPECT_TRUE(is_refusing_banner(421));
  EXPECT_TRUE(is_refusing_banner(550));
  EXPECT_FALSE(is_refusing_banner(450));
  EXPECT_FALSE(is_refusing_banner(220));
  for (int i = 0; i < 3; ++i) banner(450, std::chrono::seconds(i));
  EXPECT_EQ(banner(421, 4s).change, Change::None);  // 1 of 4
  EXPECT_EQ(banner(421, 5s).change, Change::None);  // 2 of 5
  EXPECT_EQ(banner(421, 6s).change, Change::BecameSuspect);  // 3 of 6
}

TEST_F(SourceHealthTest, EachSourceAndProviderPairIsJudgedApart) {
  for (int i = 0; i < 4; ++i) banner(554, std::chrono::seconds(i));
  EXPECT_EQ(banner(220, 10s, "192.0.2.11").change, Change::None);
  EXPECT_EQ(banner(220, 10s, "192.0.2.10", "other.example").change, Change::None);
  EXPECT_FALSE(usable(11s));
  EXPECT_TRUE(usable(11s, "192.0.2.11"));
  EXPECT_FALSE(health_.avoid("192.0.2.10", "other.example", t0_ + 11s));
}

TEST_F(SourceHealthTest, OldBannersLeaveTheWindow) {
  for (int i = 0; i < 3; ++i) banner(554, std::chrono::seconds(i));
  // An hour later the three refusals are gone: one refusal of one session.
  EXPECT_EQ(banner(554, 1h + 10s).sessions, 1u);
  EXPECT_EQ(health_.suspects(), 0u);
}

TEST_F(SourceHealthTest, RecoversWhenTheShareFallsBelowTheThreshold) {
  for (int i = 0; i < 4; ++i) banner(554, std::chrono::seconds(i));
  EXPECT_EQ(health_.suspects(), 1u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(banner(220, std::chrono::seconds(10 + i)).change, Change::None);
  EXPECT_EQ(banner(220, 20s).change, Change::Recovered);  // 4 of 9
  EXPECT_EQ(health_.suspects(), 0u);
  ASSERT_EQ(health_.entries().size(), 1u);  // still listed, no longer suspect
  EXPECT_FALSE(health_.entries()[0].suspect);
  EXPECT_TRUE(usable(21s));
}

TEST_F(SourceHealthTest, AvoidedDuringTheCooldownThenOneTestSession) {
  for (int i = 0; i < 4; ++i) banner(554, std::chrono::seconds(i));
  EXPECT_FALSE(usable(5s));
  EXPECT_FALSE(usable(9min));
  EXPECT_TRUE(usable(11min));    // the test session
  EXPECT_FALSE(usable(11min));   // the others wait for its banner
  EXPECT_EQ(banner(220, 11min + 1s).change, Change::Recovered);  // welcome again: afresh
  EXPECT_TRUE(usable(11min + 2s));
  EXPECT_EQ(health_.entries()[0].sessions, 1u);
}

TEST_F(SourceHealthTest, ARefusedTestSessionStartsAnotherCooldown) {
  for (int i = 0; i < 4; ++i) banner(554, std::chrono::seconds(i));
  EXPECT_TRUE(usable(11min));
  EXPECT_EQ(banner(554, 11min + 1s).change, Change::None);
  EXPECT_FALSE(usable(12min));
  EXPECT_FALSE(usable(21min));
  EXPECT_TRUE(usable(21min + 2s));
}

TEST_F(SourceHealthTest, ATestSessionThatBringsNoBannerIsReplacedAfterAMinute) {
  for (int i = 0; i < 4; ++i) banner(554, std::chrono::seconds(i));
  EXPECT_TRUE(usable(11min));
  EXPECT_FALSE(usable(11min + 30s));
  EXPECT_TRUE(usable(12min + 1s));
}

TEST_F(SourceHealthTest, UnknownPairsAreUsable) { EXPECT_TRUE(usable(0s)); }

TEST_F(SourceHealthTest, AskingDoesNotTakeTheTestOnlyLeavingDoes) {
  for (int i = 0; i < 4; ++i) banner(554, std::chrono::seconds(i));
  // Several sessions ask after the cooldown; the one that leaves from it tests.
  EXPECT_FALSE(health_.avoid("192.0.2.10", "example.net", t0_ + 11min));
  EXPECT_FALSE(health_.avoid("192.0.2.10", "example.net", t0_ + 11min));
  health_.leaving_from("192.0.2.10", "example.net", t0_ + 11min);
  EXPECT_TRUE(health_.avoid("192.0.2.10", "example.net", t0_ + 11min));
  // Leaving from an address that is not suspect changes nothing.
  health_.leaving_from("192.0.2.11", "example.net", t0_ + 11min);
  EXPECT_FALSE(health_.avoid("192.0.2.11", "example.net", t0_ + 11min));
}

}  // namespace
}  // namespace mx
