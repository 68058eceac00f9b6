// Tier (a): how many tunnels the client opens and keeps (pool_policy.h).
#include "pool_policy.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;

WarmRule rule(uint32_t pool, uint32_t pool_max, uint32_t sessions_per_tunnel,
              milliseconds idle = minutes(5)) {
  return {pool, pool_max, sessions_per_tunnel, idle};
}

// --- tunnels_to_open --------------------------------------------------------

TEST(TunnelsToOpen, WarmUpOpensThePoolForThePreferredServer) {
  const WarmRule r = rule(2, 32, 100);
  EXPECT_EQ(tunnels_to_open(r, 0, 0, 0, true), 2u);
  EXPECT_EQ(tunnels_to_open(r, 1, 0, 0, true), 1u);
  EXPECT_EQ(tunnels_to_open(r, 2, 0, 0, true), 0u);
  EXPECT_EQ(tunnels_to_open(r, 7, 0, 0, true), 0u) << "more ready than the pool is not negative";
  EXPECT_EQ(tunnels_to_open(rule(5, 32, 1), 0, 0, 0, true), 5u);
}

TEST(TunnelsToOpen, APoolOfZeroOpensNothingAhead) {
  EXPECT_EQ(tunnels_to_open(rule(0, 32, 100), 0, 0, 0, true), 0u);
}

TEST(TunnelsToOpen, ANonPreferredServerOpensOnlyForWaitingSessions) {
  const WarmRule r = rule(2, 32, 100);
  EXPECT_EQ(tunnels_to_open(r, 0, 0, 0, false), 0u);
  EXPECT_EQ(tunnels_to_open(r, 0, 0, 1, false), 1u);
  EXPECT_EQ(tunnels_to_open(rule(2, 32, 1), 0, 0, 3, false), 3u);
}

TEST(TunnelsToOpen, OneSessionPerTunnelOpensOnePerWaitingSession) {
  const WarmRule r = rule(0, 32, 1);
  EXPECT_EQ(tunnels_to_open(r, 0, 0, 1, true), 1u);
  EXPECT_EQ(tunnels_to_open(r, 0, 0, 7, true), 7u);
  EXPECT_EQ(tunnels_to_open(r, 0, 0, 7, false), 7u);
}

TEST(TunnelsToOpen, AHundredSessionsPerTunnelRoundUp) {
  const WarmRule r = rule(0, 32, 100);
  EXPECT_EQ(tunnels_to_open(r, 0, 0, 1, false), 1u);
  EXPECT_EQ(tunnels_to_open(r, 0, 0, 100, false), 1u);
  EXPECT_EQ(tunnels_to_open(r, 0, 0, 101, false), 2u);
  EXPECT_EQ(tunnels_to_open(r, 0, 0, 250, false), 3u);
}

TEST(TunnelsToOpen, ZeroSessionsPerTunnelCountsAsOne) {
  EXPECT_EQ(tunnels_to_open(rule(0, 32, 0), 0, 0, 3, false), 3u);
}

TEST(TunnelsToOpen, WaitingAndPoolOverlapTheyDoNotAddUp) {
  // One opening serves the waiting session and then stays warm.
  EXPECT_EQ(tunnels_to_open(rule(2, 32, 100), 0, 0, 1, true), 2u);
  EXPECT_EQ(tunnels_to_open(rule(2, 32, 100), 0, 0, 150, true), 2u);
  EXPECT_EQ(tunnels_to_open(rule(2, 32, 1), 0, 0, 3, true), 3u);
  EXPECT_EQ(tunnels_to_open(rule(2, 32, 100), 0, 0, 250, true), 3u);
}

TEST(TunnelsToOpen, OpeningsUnderWayAreCounted) {
  const WarmRule pool = rule(2, 32, 100);
  EXPECT_EQ(tunnels_to_open(pool, 0, 1, 0, true), 1u);
  EXPECT_EQ(tunnels_to_open(pool, 0, 2, 0, true), 0u);
  EXPECT_EQ(tunnels_to_open(pool, 1, 1, 0, true), 0u);
  EXPECT_EQ(tunnels_to_open(pool, 0, 5, 0, true), 0u) << "more under way than needed";
  const WarmRule single = rule(0, 32, 1);
  EXPECT_EQ(tunnels_to_open(single, 0, 3, 5, false), 2u);
  EXPECT_EQ(tunnels_to_open(single, 0, 5, 5, false), 0u);
  EXPECT_EQ(tunnels_to_open(rule(0, 32, 100), 0, 1, 100, false), 0u);
  EXPECT_EQ(tunnels_to_open(rule(0, 32, 100), 0, 1, 101, false), 1u);
}

TEST(TunnelsToOpen, NoMoreThanMaxOpeningHandshakesAtOnce) {
  WarmRule single = rule(0, 32, 1);
  single.max_opening = 16;
  EXPECT_EQ(tunnels_to_open(single, 0, 0, 500, false), 16u) << "a burst waits its turn";
  EXPECT_EQ(tunnels_to_open(single, 0, 10, 500, false), 6u);
  EXPECT_EQ(tunnels_to_open(single, 0, 16, 500, false), 0u);
  EXPECT_EQ(tunnels_to_open(single, 0, 20, 500, false), 0u) << "over the cap is not negative";
  EXPECT_EQ(tunnels_to_open(single, 0, 15, 3, false), 0u) << "the cap never adds openings";
  WarmRule pool = rule(40, 64, 100);
  pool.max_opening = 16;
  EXPECT_EQ(tunnels_to_open(pool, 0, 0, 0, true), 16u) << "warming up is capped too";
}

// --- close_empty_tunnel -----------------------------------------------------

TEST(CloseEmptyTunnel, ThePoolIsKeptHoweverLongItIsEmpty) {
  const WarmRule r = rule(2, 32, 100, minutes(5));
  EXPECT_FALSE(close_empty_tunnel(r, 0, milliseconds(0)));
  EXPECT_FALSE(close_empty_tunnel(r, 1, minutes(5)));
  EXPECT_FALSE(close_empty_tunnel(r, 1, minutes(1000)));
}

TEST(CloseEmptyTunnel, BeyondThePoolClosesAfterPoolIdleTimeout) {
  const WarmRule r = rule(2, 32, 100, milliseconds(300000));
  EXPECT_FALSE(close_empty_tunnel(r, 2, milliseconds(0)));
  EXPECT_FALSE(close_empty_tunnel(r, 2, milliseconds(299999)));
  EXPECT_TRUE(close_empty_tunnel(r, 2, milliseconds(300000)));
  EXPECT_TRUE(close_empty_tunnel(r, 31, milliseconds(300001)));
  EXPECT_FALSE(close_empty_tunnel(r, 31, milliseconds(299999)));
}

TEST(CloseEmptyTunnel, BeyondPoolMaxClosesAtOnce) {
  const WarmRule r = rule(2, 4, 100, minutes(5));
  EXPECT_FALSE(close_empty_tunnel(r, 3, milliseconds(0)));
  EXPECT_TRUE(close_empty_tunnel(r, 4, milliseconds(0)));
  EXPECT_TRUE(close_empty_tunnel(r, 40, milliseconds(0)));
  // pool == pool_max: the first beyond the pool goes at once too.
  EXPECT_TRUE(close_empty_tunnel(rule(2, 2, 100, minutes(5)), 2, milliseconds(0)));
  EXPECT_FALSE(close_empty_tunnel(rule(2, 2, 100, minutes(5)), 1, milliseconds(0)));
}

TEST(CloseEmptyTunnel, APoolOfZeroKeepsNoneOnceIdle) {
  const WarmRule r = rule(0, 32, 100, milliseconds(1000));
  EXPECT_FALSE(close_empty_tunnel(r, 0, milliseconds(999)));
  EXPECT_TRUE(close_empty_tunnel(r, 0, milliseconds(1000)));
  EXPECT_TRUE(close_empty_tunnel(rule(0, 0, 100, minutes(5)), 0, milliseconds(0)));
}

}  // namespace
}  // namespace mx
