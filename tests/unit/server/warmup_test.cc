// The warm-up of new source addresses: what a schedule allows on each day,
// the hourly bucket, and the check that makes source selection pass over an
// address out of its sessions.
#include "warmup.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using SourceSelection = ServerConfig::SourceSelection;

constexpr int64_t kDecember1 = 20788;  // 2026-12-01, days since the epoch
const SteadyTime kStart = SteadyTime{} + hours(1000);

SocketAddress ip(std::string_view text) { return *SocketAddress::parse_ip(text, 0); }

// Noon (or `at` into the day) on day `day` of a warm-up starting 2026-12-01.
WallTime on_day(int64_t day, std::chrono::seconds at = hours(12)) {
  return WallTime{} + days(kDecember1 + day - 1) + at;
}

Warmup warmup(std::vector<Warmup::Step> schedule,
              std::vector<std::string_view> sources = {"192.0.2.11"}) {
  Warmup w;
  for (auto text : sources) w.source.push_back(ip(text));
  w.start_day = kDecember1;
  w.schedule = std::move(schedule);
  return w;
}

TEST(WarmupPerHour, OnEachDayBoundary) {
  const Warmup w = warmup({{1, 20}, {3, 100}, {7, 500}});
  EXPECT_EQ(warmup_per_hour(w, on_day(-30)), 0u);
  EXPECT_EQ(warmup_per_hour(w, on_day(0, hours(23) + minutes(59) + seconds(59))), 0u);
  EXPECT_EQ(warmup_per_hour(w, on_day(1, seconds(0))), 20u);
  EXPECT_EQ(warmup_per_hour(w, on_day(2, hours(23) + minutes(59))), 20u);
  EXPECT_EQ(warmup_per_hour(w, on_day(3, seconds(0))), 100u);
  EXPECT_EQ(warmup_per_hour(w, on_day(6)), 100u);
  EXPECT_EQ(warmup_per_hour(w, on_day(7, seconds(0))), 500u);
  EXPECT_EQ(warmup_per_hour(w, on_day(13, hours(23) + minutes(59))), 500u);
  EXPECT_EQ(warmup_per_hour(w, on_day(14, seconds(0))), std::nullopt);
  EXPECT_EQ(warmup_per_hour(w, on_day(400)), std::nullopt);
}

TEST(WarmupPerHour, AZeroStepEndsTheWarmupThatDay) {
  const Warmup w = warmup({{1, 20}, {3, 100}, {7, 0}});
  EXPECT_EQ(warmup_per_hour(w, on_day(0)), 0u);
  EXPECT_EQ(warmup_per_hour(w, on_day(1)), 20u);
  EXPECT_EQ(warmup_per_hour(w, on_day(2)), 20u);
  EXPECT_EQ(warmup_per_hour(w, on_day(3)), 100u);
  EXPECT_EQ(warmup_per_hour(w, on_day(6, hours(23) + minutes(59))), 100u);
  EXPECT_EQ(warmup_per_hour(w, on_day(7, seconds(0))), std::nullopt);
  EXPECT_EQ(warmup_per_hour(w, on_day(13)), std::nullopt);
  EXPECT_EQ(warmup_per_hour(w, on_day(14)), std::nullopt);
}

TEST(WarmupPerHour, AOneStepSchedule) {
  const Warmup w = warmup({{1, 3}});
  EXPECT_EQ(warmup_day(w, on_day(1)), 1);
  EXPECT_EQ(warmup_per_hour(w, on_day(1)), 3u);
  EXPECT_EQ(warmup_per_hour(w, on_day(7)), 3u);
  EXPECT_EQ(warmup_per_hour(w, on_day(8)), std::nullopt);
  EXPECT_EQ(warmup_per_hour(warmup({{1, 0}}), on_day(1)), std::nullopt);
  EXPECT_EQ(warmup_per_hour(warmup({{1, 0}}), on_day(0)), 0u);
}

TEST(WarmupOf, FindsTheEntryOfAnAddress) {
  const std::vector<Warmup> warmups = {warmup({{1, 3}}, {"192.0.2.11", "2001:db8::11"}),
                                       warmup({{1, 5}}, {"192.0.2.12"})};
  EXPECT_EQ(warmup_of(warmups, ip("2001:db8::11")), &warmups[0]);
  EXPECT_EQ(warmup_of(warmups, ip("192.0.2.12")), &warmups[1]);
  EXPECT_EQ(warmup_of(warmups, ip("192.0.2.10")), nullptr);
}

// --- the hourly bucket -------------------------------------------------

TEST(WarmupBucket, AnHourRefillsTheCount) {
  TenantUsage usage;
  const SocketAddress warm = ip("192.0.2.11");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(usage.warmup_token_left(warm, 3, kStart)) << i;
    usage.take_warmup_token(warm, 3, kStart);
  }
  EXPECT_FALSE(usage.warmup_token_left(warm, 3, kStart));
  // Three an hour: one every 20 minutes.
  EXPECT_FALSE(usage.warmup_token_left(warm, 3, kStart + minutes(19)));
  EXPECT_TRUE(usage.warmup_token_left(warm, 3, kStart + minutes(20)));
  EXPECT_TRUE(usage.warmup_token_left(warm, 3, kStart + hours(5)));
  usage.take_warmup_token(warm, 3, kStart + hours(5));
  usage.take_warmup_token(warm, 3, kStart + hours(5));
  usage.take_warmup_token(warm, 3, kStart + hours(5));
  EXPECT_FALSE(usage.warmup_token_left(warm, 3, kStart + hours(5)));
  // Each address has its own.
  EXPECT_TRUE(usage.warmup_token_left(ip("192.0.2.12"), 3, kStart + hours(5)));
}

TEST(WarmupBucket, LookingTakesNoToken) {
  TenantUsage usage;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(usage.warmup_token_left(ip("192.0.2.11"), 1, kStart));
}

TEST(WarmupBucket, ATokenTakenAfterTheLastIsOwed) {
  TenantUsage usage;
  const SocketAddress warm = ip("192.0.2.11");
  usage.take_warmup_token(warm, 1, kStart);
  usage.take_warmup_token(warm, 1, kStart);  // two threads saw the one token
  // Owed: an hour brings the bucket back to zero, two to a token.
  EXPECT_FALSE(usage.warmup_token_left(warm, 1, kStart + minutes(61)));
  EXPECT_TRUE(usage.warmup_token_left(warm, 1, kStart + minutes(121)));
}

TEST(WarmupBucket, ANewScheduleAppliesAtOnceKeepingTheTokens) {
  TenantUsage usage;
  const SocketAddress warm = ip("192.0.2.11");
  for (int i = 0; i < 20; ++i) usage.take_warmup_token(warm, 100, kStart);  // 80 left
  // Lowered to 5 an hour: 5 left, not 80.
  for (int i = 0; i < 5; ++i) usage.take_warmup_token(warm, 5, kStart);
  EXPECT_FALSE(usage.warmup_token_left(warm, 5, kStart));
  // Raised to 60 an hour: the empty bucket refills at 60 an hour, from now.
  EXPECT_FALSE(usage.warmup_token_left(warm, 60, kStart + seconds(30)));
  EXPECT_TRUE(usage.warmup_token_left(warm, 60, kStart + seconds(60)));
}

// --- the check, with pick_source ----------------------------------------

TEST(WarmupCheck, PassesOverAnAddressOutOfTokensAndSaysWhy) {
  TenantUsage usage;
  const std::vector<SocketAddress> sources = {ip("192.0.2.10"), ip("192.0.2.11")};
  const std::vector<Warmup> warmups = {warmup({{1, 20}, {3, 2}})};
  const WallTime day3 = on_day(3);
  std::vector<std::string> picked;
  for (int i = 0; i < 6; ++i) {
    WarmupCheck check(warmups, usage, kStart, day3);
    auto source =
        usage.pick_source(sources, SourceSelection::RoundRobin, AF_INET, check.as_source_check());
    ASSERT_TRUE(source);
    picked.push_back(source->ip_string());
    take_warmup_token(warmups, usage, *source, kStart, day3);
  }
  EXPECT_EQ(picked, (std::vector<std::string>{"192.0.2.10", "192.0.2.11", "192.0.2.10",
                                              "192.0.2.11", "192.0.2.10", "192.0.2.10"}));
  // Only the warming address left: nothing, and why.
  WarmupCheck check(warmups, usage, kStart, day3);
  EXPECT_EQ(usage.pick_source({ip("192.0.2.11")}, SourceSelection::RoundRobin, AF_INET,
                              check.as_source_check()),
            std::nullopt);
  EXPECT_EQ(check.refusal(), "warmup of 192.0.2.11 (day 3): 2 sessions an hour reached");
}

TEST(WarmupCheck, AnAddressBeforeItsStartIsNeverUsed) {
  TenantUsage usage;
  const std::vector<Warmup> warmups = {warmup({{1, 20}}, {"192.0.2.11", "192.0.2.12"})};
  WarmupCheck check(warmups, usage, kStart, on_day(0));
  EXPECT_EQ(usage.pick_source({ip("192.0.2.11"), ip("192.0.2.12")}, SourceSelection::LeastUsed,
                              AF_INET, check.as_source_check()),
            std::nullopt);
  EXPECT_EQ(check.refusal(),
            "warmup of 192.0.2.11: not in service before 2026-12-01; "
            "warmup of 192.0.2.12: not in service before 2026-12-01");
}

TEST(WarmupCheck, AfterTheWarmupAndForOtherAddressesItSaysUse) {
  TenantUsage usage;
  const std::vector<Warmup> warmups = {warmup({{1, 1}})};
  usage.take_warmup_token(ip("192.0.2.11"), 1, kStart);
  WarmupCheck during(warmups, usage, kStart, on_day(2));
  EXPECT_EQ(during(ip("192.0.2.11")), SourceVerdict::Skip);
  EXPECT_EQ(during(ip("192.0.2.10")), SourceVerdict::Use);
  WarmupCheck after(warmups, usage, kStart, on_day(8));
  EXPECT_EQ(after(ip("192.0.2.11")), SourceVerdict::Use);
  EXPECT_TRUE(after.refusal().empty());
  // A tenant without warm-ups asks nothing.
  const std::vector<Warmup> none;
  EXPECT_FALSE(WarmupCheck(none, usage, kStart, on_day(2)).as_source_check());
}

TEST(WarmupCheck, NoTokenIsTakenAfterTheWarmup) {
  TenantUsage usage;
  const std::vector<Warmup> warmups = {warmup({{1, 1}})};
  take_warmup_token(warmups, usage, ip("192.0.2.11"), kStart, on_day(8));  // over: not counted
  take_warmup_token(warmups, usage, ip("192.0.2.11"), kStart, on_day(0));  // not in service
  EXPECT_TRUE(usage.warmup_token_left(ip("192.0.2.11"), 1, kStart));
  take_warmup_token(warmups, usage, ip("192.0.2.11"), kStart, on_day(1));
  EXPECT_FALSE(usage.warmup_token_left(ip("192.0.2.11"), 1, kStart));
}

TEST(DescribeWarmups, OneLinePerAddressWarmingUpOrNotYetInService) {
  ServerConfig config;
  config.tenants.resize(2);
  config.tenants[0].name = "acme";
  config.tenants[0].warmup = {warmup({{1, 20}, {3, 100}}, {"192.0.2.11", "192.0.2.12"})};
  config.tenants[1].name = "beta";
  config.tenants[1].warmup = {warmup({{1, 5}}, {"192.0.2.21"})};
  config.tenants[1].warmup[0].start_day += 3;  // day 0 of acme is day -3 of beta
  EXPECT_EQ(describe_warmups(config, on_day(0)),
            (std::vector<std::string>{
                R"(tenant "acme": 192.0.2.11 is not in service before 2026-12-01 (warm-up))",
                R"(tenant "acme": 192.0.2.12 is not in service before 2026-12-01 (warm-up))",
                R"(tenant "beta": 192.0.2.21 is not in service before 2026-12-04 (warm-up))",
            }));
  EXPECT_EQ(describe_warmups(config, on_day(4)),
            (std::vector<std::string>{
                R"(tenant "acme": 192.0.2.11 warms up: day 4, at most 100 sessions an hour)",
                R"(tenant "acme": 192.0.2.12 warms up: day 4, at most 100 sessions an hour)",
                R"(tenant "beta": 192.0.2.21 warms up: day 1, at most 5 sessions an hour)",
            }));
  EXPECT_TRUE(describe_warmups(config, on_day(20)).empty()) << "every warm-up is over";
}

TEST(WarmupRefusal, IsCountedAsTheWarmupLimit) {
  EXPECT_EQ(tenant_limit_of("warmup of 192.0.2.11 (day 2): 20 sessions an hour reached"),
            TenantLimit::Warmup);
  EXPECT_EQ(tenant_limit_of("warmup of 192.0.2.11: not in service before 2026-12-01"),
            TenantLimit::Warmup);
  EXPECT_EQ(tenant_limit_label(TenantLimit::Warmup), "warmup");
}

}  // namespace
}  // namespace mx
