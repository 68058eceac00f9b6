#include "tenant_usage.h"

#include <gtest/gtest.h>

#include <memory>

namespace mx {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime kStart = SteadyTime{} + hours(1000);
// 2026-11-22T00:00:00Z, a UTC day boundary (days since the epoch).
const WallTime kMidnight = WallTime{} + days(20779);

SocketAddress ip(std::string_view text) { return *SocketAddress::parse_ip(text, 0); }

ServerConfig::Limits limits(uint32_t max_connections, uint32_t per_minute, uint32_t per_destination,
                            uint64_t bytes_per_day) {
  ServerConfig::Limits l;
  l.max_connections = max_connections;
  l.connections_per_minute = per_minute;
  l.max_per_destination = per_destination;
  l.bytes_per_day = bytes_per_day;
  return l;
}

// --- TokenBucket -------------------------------------------------------

TEST(TokenBucket, StartsFull) {
  TokenBucket bucket(std::chrono::minutes(1));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.take(5, kStart)) << i;
  EXPECT_FALSE(bucket.take(5, kStart));
}

TEST(TokenBucket, RefusesWhenEmptyUntilATokenRefills) {
  TokenBucket bucket(std::chrono::minutes(1));
  ASSERT_TRUE(bucket.take(1, kStart));
  EXPECT_FALSE(bucket.take(1, kStart));
  EXPECT_FALSE(bucket.take(1, kStart + seconds(30)));
  EXPECT_FALSE(bucket.take(1, kStart + seconds(59)));
  EXPECT_TRUE(bucket.take(1, kStart + seconds(60)));
  EXPECT_FALSE(bucket.take(1, kStart + seconds(60)));
}

TEST(TokenBucket, RefillsAtRateOverSixtyPerSecond) {
  TokenBucket bucket(std::chrono::minutes(1));
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(bucket.take(60, kStart));
  ASSERT_FALSE(bucket.take(60, kStart));
  // 60 a minute: one a second, half a token after 500 ms.
  EXPECT_FALSE(bucket.take(60, kStart + milliseconds(500)));
  EXPECT_TRUE(bucket.take(60, kStart + milliseconds(1000)));
  EXPECT_FALSE(bucket.take(60, kStart + milliseconds(1000)));
  // Ten seconds later: ten tokens, not more.
  const SteadyTime later = kStart + milliseconds(11000);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(bucket.take(60, later)) << i;
  EXPECT_FALSE(bucket.take(60, later));
}

TEST(TokenBucket, RefillStopsAtCapacity) {
  TokenBucket bucket(std::chrono::minutes(1));
  ASSERT_TRUE(bucket.take(3, kStart));
  // An hour idle refills to 3, not 60.
  const SteadyTime later = kStart + hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.take(3, later)) << i;
  EXPECT_FALSE(bucket.take(3, later));
}

TEST(TokenBucket, LowerRateClampsTheTokens) {
  TokenBucket bucket(std::chrono::minutes(1));
  ASSERT_TRUE(bucket.take(10, kStart));  // 9 left of 10
  // The rate drops to 2 (a reload): at most 2 left, not 9.
  EXPECT_TRUE(bucket.take(2, kStart));
  EXPECT_TRUE(bucket.take(2, kStart));
  EXPECT_FALSE(bucket.take(2, kStart));
  // A higher rate does not fill an empty bucket at once.
  EXPECT_FALSE(bucket.take(100, kStart));
}

// --- TenantUsage::admit ------------------------------------------------

TEST(TenantUsage, NoLimitsAdmitsEverything) {
  TenantUsage usage;
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(usage.admit(limits(0, 0, 0, 0), kStart, kMidnight), std::nullopt);
  EXPECT_EQ(usage.active(), 1000u);
}

TEST(TenantUsage, MaxConnectionsHitAndReleased) {
  TenantUsage usage;
  const auto l = limits(2, 0, 0, 0);
  EXPECT_EQ(usage.admit(l, kStart, kMidnight), std::nullopt);
  EXPECT_EQ(usage.admit(l, kStart, kMidnight), std::nullopt);
  EXPECT_EQ(usage.admit(l, kStart, kMidnight), "max_connections 2 reached");
  EXPECT_EQ(usage.active(), 2u);  // the refused one does not count
  usage.release();
  EXPECT_EQ(usage.active(), 1u);
  EXPECT_EQ(usage.admit(l, kStart, kMidnight), std::nullopt);
  EXPECT_EQ(usage.active(), 2u);
}

TEST(TenantUsage, ReleaseNeverGoesBelowZero) {
  TenantUsage usage;
  usage.release();
  EXPECT_EQ(usage.active(), 0u);
  EXPECT_EQ(usage.admit(limits(1, 0, 0, 0), kStart, kMidnight), std::nullopt);
  EXPECT_EQ(usage.active(), 1u);
}

TEST(TenantUsage, ConnectionsPerMinuteHitAndRefilled) {
  TenantUsage usage;
  const auto l = limits(0, 2, 0, 0);
  EXPECT_EQ(usage.admit(l, kStart, kMidnight), std::nullopt);
  EXPECT_EQ(usage.admit(l, kStart, kMidnight), std::nullopt);
  EXPECT_EQ(usage.admit(l, kStart, kMidnight), "connections_per_minute 2 exceeded");
  // Releasing a connection gives no token back; time does (2/min: 30 s).
  usage.release();
  EXPECT_EQ(usage.admit(l, kStart + seconds(29), kMidnight), "connections_per_minute 2 exceeded");
  EXPECT_EQ(usage.admit(l, kStart + seconds(30), kMidnight), std::nullopt);
}

TEST(TenantUsage, RefusalByMaxConnectionsTakesNoToken) {
  TenantUsage usage;
  const auto l = limits(1, 2, 0, 0);
  ASSERT_EQ(usage.admit(l, kStart, kMidnight), std::nullopt);  // token 1 of 2
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(usage.admit(l, kStart, kMidnight), "max_connections 1 reached");
  }
  usage.release();
  EXPECT_EQ(usage.admit(l, kStart, kMidnight), std::nullopt);  // token 2 of 2
}

TEST(TenantUsage, BytesPerDayHitAndResetAtUtcMidnight) {
  TenantUsage usage;
  const auto l = limits(0, 0, 0, 1000);
  const WallTime evening = kMidnight + hours(23) + milliseconds(59 * 60 * 1000 + 59'999);
  usage.add_bytes(999, kMidnight + hours(1));
  EXPECT_EQ(usage.bytes_today(evening), 999u);
  EXPECT_EQ(usage.admit(l, kStart, evening), std::nullopt);
  usage.release();
  usage.add_bytes(1, evening);
  EXPECT_EQ(usage.bytes_today(evening), 1000u);
  EXPECT_EQ(usage.admit(l, kStart, evening), "bytes_per_day 1000 reached");
  // One millisecond later it is the next UTC day.
  const WallTime next_day = kMidnight + days(1);
  ASSERT_EQ(evening + milliseconds(1), next_day);
  EXPECT_EQ(usage.bytes_today(next_day), 0u);
  EXPECT_EQ(usage.admit(l, kStart, next_day), std::nullopt);
  usage.add_bytes(10, next_day);
  EXPECT_EQ(usage.bytes_today(next_day + hours(5)), 10u);
  EXPECT_EQ(usage.bytes_today(next_day + days(1)), 0u);
}

TEST(TenantUsage, BytesPerDayCountsBothWaysAdded) {
  TenantUsage usage;
  usage.add_bytes(300, kMidnight);
  usage.add_bytes(700, kMidnight + seconds(1));
  EXPECT_EQ(usage.bytes_today(kMidnight + hours(12)), 1000u);
  EXPECT_EQ(usage.admit(limits(0, 0, 0, 1001), kStart, kMidnight), std::nullopt);
  EXPECT_EQ(usage.admit(limits(0, 0, 0, 1000), kStart, kMidnight), "bytes_per_day 1000 reached");
}

// --- destinations ------------------------------------------------------

TEST(TenantUsage, MaxPerDestinationHitAndReleased) {
  TenantUsage usage;
  const auto l = limits(0, 0, 2, 0);
  EXPECT_EQ(usage.admit_destination(l, "192.0.2.1"), std::nullopt);
  EXPECT_EQ(usage.admit_destination(l, "192.0.2.1"), std::nullopt);
  EXPECT_EQ(usage.admit_destination(l, "192.0.2.1"), "max_per_destination 2 reached for 192.0.2.1");
  // Another destination has its own count.
  EXPECT_EQ(usage.admit_destination(l, "2001:db8::1"), std::nullopt);
  usage.release_destination("192.0.2.1");
  EXPECT_EQ(usage.admit_destination(l, "192.0.2.1"), std::nullopt);
  EXPECT_EQ(usage.admit_destination(l, "192.0.2.1"), "max_per_destination 2 reached for 192.0.2.1");
}

TEST(TenantUsage, ReleasingAnUnknownDestinationIsHarmless) {
  TenantUsage usage;
  const auto l = limits(0, 0, 1, 0);
  usage.release_destination("192.0.2.9");
  EXPECT_EQ(usage.admit_destination(l, "192.0.2.9"), std::nullopt);
  EXPECT_EQ(usage.admit_destination(l, "192.0.2.9"), "max_per_destination 1 reached for 192.0.2.9");
  usage.release_destination("192.0.2.9");
  usage.release_destination("192.0.2.9");  // once too often
  EXPECT_EQ(usage.admit_destination(l, "192.0.2.9"), std::nullopt);
  EXPECT_EQ(usage.admit_destination(l, "192.0.2.9"), "max_per_destination 1 reached for 192.0.2.9");
}

TEST(TenantUsage, NoPerDestinationLimit) {
  TenantUsage usage;
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(usage.admit_destination(limits(0, 0, 0, 0), "192.0.2.1"), std::nullopt);
  }
}

// --- source addresses --------------------------------------------------

const std::vector<SocketAddress> kSources = {ip("203.0.113.10"), ip("2001:db8::10"),
                                             ip("203.0.113.11"), ip("2001:db8::11")};

TEST(TenantUsage, RoundRobinAlternatesWithinTheFamily) {
  TenantUsage usage;
  const auto rr = ServerConfig::SourceSelection::RoundRobin;
  std::vector<std::string> v4;
  for (int i = 0; i < 4; ++i) v4.push_back(usage.pick_source(kSources, rr, AF_INET)->ip_string());
  EXPECT_EQ(v4, (std::vector<std::string>{"203.0.113.10", "203.0.113.11", "203.0.113.10",
                                          "203.0.113.11"}));
}

TEST(TenantUsage, RoundRobinAlternatesPerFamilyWhenInterleaved) {
  TenantUsage usage;
  const auto rr = ServerConfig::SourceSelection::RoundRobin;
  std::vector<std::string> v4, v6;
  for (int i = 0; i < 4; ++i) {
    v4.push_back(usage.pick_source(kSources, rr, AF_INET)->ip_string());
    v6.push_back(usage.pick_source(kSources, rr, AF_INET6)->ip_string());
  }
  // Each family takes its own addresses in turn, whatever the other does.
  EXPECT_EQ(v4, (std::vector<std::string>{"203.0.113.10", "203.0.113.11", "203.0.113.10",
                                          "203.0.113.11"}));
  EXPECT_EQ(v6, (std::vector<std::string>{"2001:db8::10", "2001:db8::11", "2001:db8::10",
                                          "2001:db8::11"}));
}

TEST(TenantUsage, LeastUsedPicksTheLeastBusy) {
  TenantUsage usage;
  const auto lu = ServerConfig::SourceSelection::LeastUsed;
  const auto a = usage.pick_source(kSources, lu, AF_INET);
  const auto b = usage.pick_source(kSources, lu, AF_INET);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->ip_string(), "203.0.113.10");
  EXPECT_EQ(b->ip_string(), "203.0.113.11");
  EXPECT_EQ(usage.pick_source(kSources, lu, AF_INET)->ip_string(), "203.0.113.10");  // 2 : 1
  EXPECT_EQ(usage.pick_source(kSources, lu, AF_INET)->ip_string(), "203.0.113.11");  // 2 : 2
  // Free two on .11: it becomes the least busy, twice.
  usage.release_source(*b);
  usage.release_source(*b);
  EXPECT_EQ(usage.pick_source(kSources, lu, AF_INET)->ip_string(), "203.0.113.11");
  EXPECT_EQ(usage.pick_source(kSources, lu, AF_INET)->ip_string(), "203.0.113.11");
  EXPECT_EQ(usage.pick_source(kSources, lu, AF_INET)->ip_string(), "203.0.113.10");  // 2 : 2 again
  // The IPv6 sources were never used: their own count.
  EXPECT_EQ(usage.pick_source(kSources, lu, AF_INET6)->ip_string(), "2001:db8::10");
}

TEST(TenantUsage, ReleaseSourceFreesItForLeastUsed) {
  TenantUsage usage;
  const auto lu = ServerConfig::SourceSelection::LeastUsed;
  const std::vector<SocketAddress> two = {ip("203.0.113.10"), ip("203.0.113.11")};
  const auto first = usage.pick_source(two, lu, AF_INET);
  const auto second = usage.pick_source(two, lu, AF_INET);
  ASSERT_EQ(first->ip_string(), "203.0.113.10");
  ASSERT_EQ(second->ip_string(), "203.0.113.11");
  usage.release_source(*first);
  EXPECT_EQ(usage.pick_source(two, lu, AF_INET)->ip_string(), "203.0.113.10");
}

TEST(TenantUsage, NoSourceOfTheFamily) {
  TenantUsage usage;
  const std::vector<SocketAddress> v4_only = {ip("203.0.113.10")};
  EXPECT_EQ(usage.pick_source(v4_only, ServerConfig::SourceSelection::RoundRobin, AF_INET6),
            std::nullopt);
  EXPECT_EQ(usage.pick_source(v4_only, ServerConfig::SourceSelection::LeastUsed, AF_INET6),
            std::nullopt);
  const std::vector<SocketAddress> v6_only = {ip("2001:db8::10")};
  EXPECT_EQ(usage.pick_source(v6_only, ServerConfig::SourceSelection::RoundRobin, AF_INET),
            std::nullopt);
}

TEST(TenantUsage, NoSourcesLetsTheKernelPick) {
  TenantUsage usage;
  for (const int family : {AF_INET, AF_INET6}) {
    const auto source = usage.pick_source({}, ServerConfig::SourceSelection::RoundRobin, family);
    ASSERT_TRUE(source.has_value());
    EXPECT_EQ(source->family(), AF_UNSPEC);
    EXPECT_EQ(source->len(), 0u);
  }
}

// --- UsageLease --------------------------------------------------------

TEST(UsageLease, GivesEverythingBackWhenDestroyed) {
  auto usage = std::make_shared<TenantUsage>();
  const auto l = limits(1, 0, 1, 0);
  const std::vector<SocketAddress> two = {ip("203.0.113.10"), ip("203.0.113.11")};
  const auto lu = ServerConfig::SourceSelection::LeastUsed;
  {
    UsageLease lease(usage);
    ASSERT_EQ(lease.usage().admit(l, kStart, kMidnight), std::nullopt);
    ASSERT_EQ(lease.usage().admit_destination(l, "192.0.2.1"), std::nullopt);
    lease.hold_destination("192.0.2.1");
    const auto source = lease.usage().pick_source(two, lu, AF_INET);
    ASSERT_EQ(source->ip_string(), "203.0.113.10");
    lease.hold_source(*source);

    EXPECT_EQ(usage->active(), 1u);
    EXPECT_EQ(usage->admit(l, kStart, kMidnight), "max_connections 1 reached");
    EXPECT_EQ(usage->admit_destination(l, "192.0.2.1"),
              "max_per_destination 1 reached for 192.0.2.1");
  }
  EXPECT_EQ(usage->active(), 0u);
  EXPECT_EQ(usage->admit_destination(l, "192.0.2.1"), std::nullopt);
  // .10 was released: least-used takes it again rather than .11.
  EXPECT_EQ(usage->pick_source(two, lu, AF_INET)->ip_string(), "203.0.113.10");
}

TEST(UsageLease, WithoutDestinationOrSourceReleasesTheConnection) {
  auto usage = std::make_shared<TenantUsage>();
  ASSERT_EQ(usage->admit(limits(1, 0, 0, 0), kStart, kMidnight), std::nullopt);
  {
    UsageLease lease(usage);
    lease.hold_source(SocketAddress{});  // the kernel picked: nothing to give back
  }
  EXPECT_EQ(usage->active(), 0u);
}

TEST(UsageRegistry, OneUsagePerTenantKeptAcrossLookups) {
  UsageRegistry registry;
  auto a = registry.for_tenant("acme");
  ASSERT_EQ(a->admit(limits(0, 0, 0, 0), kStart, kMidnight), std::nullopt);
  EXPECT_EQ(registry.for_tenant("acme"), a);
  EXPECT_EQ(registry.for_tenant("acme")->active(), 1u);
  EXPECT_NE(registry.for_tenant("beta"), a);
  EXPECT_EQ(registry.for_tenant("beta")->active(), 0u);
}

}  // namespace
}  // namespace mx
