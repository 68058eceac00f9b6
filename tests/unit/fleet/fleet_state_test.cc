// FleetState: the fail-static mode and its arithmetic, the refused-until
// cache, and the batching of byte counts, with the clock driven by the test.
#include "fleet/fleet_state.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using namespace std::chrono_literals;
using Limits = ServerConfig::Limits;

const FleetState::Steady kT0{};
const FleetState::Wall kNoon = FleetState::Wall{} + std::chrono::days(20000) + 12h;

Limits limits(uint32_t connections, uint32_t per_minute, uint32_t per_destination, uint64_t bytes) {
  Limits l;
  l.max_connections = connections;
  l.connections_per_minute = per_minute;
  l.max_per_destination = per_destination;
  l.bytes_per_day = bytes;
  return l;
}

TEST(FleetState, StartsLocalWithTheWholeLimitUntilRedisAnswers) {
  FleetState state;
  EXPECT_EQ(state.mode(), FleetMode::Local);
  EXPECT_EQ(state.fleet_size(), 1u);
  const Limits local = state.local_limits(limits(10, 60, 2, 1000));
  EXPECT_EQ(local.max_connections, 10u);
  EXPECT_EQ(local.connections_per_minute, 60u);
  EXPECT_EQ(local.max_per_destination, 2u);
  EXPECT_EQ(local.bytes_per_day, 1000u);
}

TEST(FleetState, SharedLeavesOnlyTheByteCheckToRedisTotals) {
  FleetState state;
  EXPECT_EQ(state.on_answer(3), FleetChange::BecameShared);
  EXPECT_EQ(state.on_answer(3), FleetChange::None);
  EXPECT_EQ(state.mode(), FleetMode::Shared);
  const Limits local = state.local_limits(limits(10, 60, 2, 1000));
  EXPECT_EQ(local.max_connections, 0u);
  EXPECT_EQ(local.connections_per_minute, 0u);
  EXPECT_EQ(local.max_per_destination, 0u);
  EXPECT_EQ(local.bytes_per_day, 0u);
}

TEST(FleetState, FailureEnforcesEachLimitOverTheLastFleetSizeRoundedUp) {
  FleetState state;
  state.on_answer(3);
  EXPECT_EQ(state.on_failure(), FleetChange::BecameLocal);
  EXPECT_EQ(state.on_failure(), FleetChange::None);  // logged once
  EXPECT_EQ(state.fleet_size(), 3u);
  const Limits local = state.local_limits(limits(10, 60, 2, 1000));
  EXPECT_EQ(local.max_connections, 4u);          // ceil(10 / 3)
  EXPECT_EQ(local.connections_per_minute, 20u);  // 60 / 3
  EXPECT_EQ(local.max_per_destination, 1u);      // ceil(2 / 3): never 0 (unlimited)
  EXPECT_EQ(local.bytes_per_day, 334u);          // ceil(1000 / 3)
  const Limits unlimited = state.local_limits(limits(0, 0, 0, 0));
  EXPECT_EQ(unlimited.max_connections, 0u);
  EXPECT_EQ(unlimited.bytes_per_day, 0u);
}

TEST(FleetState, FleetSizeFollowsTheAnswersAndAZeroKeepsTheLast) {
  FleetState state;
  state.on_answer(5);
  EXPECT_EQ(state.fleet_size(), 5u);
  state.on_answer(0);
  EXPECT_EQ(state.fleet_size(), 5u);
  state.on_answer(2);
  state.on_failure();
  EXPECT_EQ(state.local_limits(limits(9, 0, 0, 0)).max_connections, 5u);
  EXPECT_EQ(state.on_answer(2), FleetChange::BecameShared);
}

TEST(FleetState, RefusedUntilAnswersLocallyUntilItsTime) {
  FleetState state;
  state.on_answer(2);
  state.refuse_until("acme", "connections_per_minute 60 exceeded", kT0 + 1500ms);
  EXPECT_EQ(state.cached_refusal("acme", kT0), "connections_per_minute 60 exceeded");
  EXPECT_EQ(state.cached_refusal("acme", kT0 + 1499ms), "connections_per_minute 60 exceeded");
  EXPECT_FALSE(state.cached_refusal("other", kT0));
  EXPECT_FALSE(state.cached_refusal("acme", kT0 + 1500ms));
  EXPECT_FALSE(state.cached_refusal("acme", kT0));  // forgotten once past
}

TEST(FleetState, LosingRedisForgetsTheFleetsRefusals) {
  FleetState state;
  state.on_answer(2);
  state.refuse_until("acme", "connections_per_minute 60 exceeded", kT0 + 10s);
  state.on_failure();
  EXPECT_FALSE(state.cached_refusal("acme", kT0));
}

TEST(FleetState, BytesFlushAtMostOncePerIntervalPerTenant) {
  FleetState state;
  state.add_bytes("acme", 100, kNoon);
  state.add_bytes("acme", 50, kNoon);
  state.add_bytes("beta", 7, kNoon);
  auto first = state.take_flushes(kT0);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].tenant, "acme");
  EXPECT_EQ(first[0].bytes, 150u);
  EXPECT_EQ(first[0].day, FleetState::utc_day(kNoon));
  EXPECT_EQ(first[1].tenant, "beta");
  EXPECT_EQ(first[1].bytes, 7u);
  state.on_flushed(first[0], 150);
  state.on_flushed(first[1], 7);
  state.add_bytes("acme", 10, kNoon);
  EXPECT_TRUE(state.take_flushes(kT0 + 999ms).empty());
  auto second = state.take_flushes(kT0 + 1s);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].bytes, 10u);
  EXPECT_TRUE(state.take_flushes(kT0 + 5s).empty());  // nothing new
}

TEST(FleetState, AFlushInFlightIsNotSentTwiceAndAFailedOneIsPendingAgain) {
  FleetState state;
  state.add_bytes("acme", 100, kNoon);
  auto first = state.take_flushes(kT0);
  ASSERT_EQ(first.size(), 1u);
  state.add_bytes("acme", 20, kNoon);
  EXPECT_TRUE(state.take_flushes(kT0 + 2s).empty());  // waits for the answer
  state.on_flush_failed(first[0]);
  auto again = state.take_flushes(kT0 + 2s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].bytes, 120u);
}

TEST(FleetState, ByteRefusalComparesTheFleetTotalPlusWhatIsPendingHere) {
  FleetState state;
  state.on_answer(3);
  const Limits l = limits(0, 0, 0, 1000);
  EXPECT_FALSE(state.refuse_bytes("acme", l, kNoon));
  state.add_bytes("acme", 100, kNoon);
  auto flush = state.take_flushes(kT0);
  state.on_flushed(flush[0], 900);  // the other servers relayed 800
  EXPECT_FALSE(state.refuse_bytes("acme", l, kNoon));
  state.add_bytes("acme", 99, kNoon);
  EXPECT_FALSE(state.refuse_bytes("acme", l, kNoon));
  state.add_bytes("acme", 1, kNoon);
  EXPECT_EQ(state.refuse_bytes("acme", l, kNoon), "bytes_per_day 1000 reached");
  EXPECT_FALSE(state.refuse_bytes("acme", limits(0, 0, 0, 0), kNoon));
  // A new UTC day starts from zero.
  EXPECT_FALSE(state.refuse_bytes("acme", l, kNoon + 24h));
}

TEST(FleetState, AnAnswerForYesterdaysFlushDoesNotCountToday) {
  FleetState state;
  state.add_bytes("acme", 100, kNoon);
  auto flush = state.take_flushes(kT0);
  state.add_bytes("acme", 5, kNoon + 24h);
  state.on_flushed(flush[0], 5000);
  EXPECT_FALSE(state.refuse_bytes("acme", limits(0, 0, 0, 1000), kNoon + 24h));
  auto today = state.take_flushes(kT0 + 2s);
  ASSERT_EQ(today.size(), 1u);
  EXPECT_EQ(today[0].bytes, 5u);
  EXPECT_EQ(today[0].day, FleetState::utc_day(kNoon) + 1);
}

}  // namespace
}  // namespace mx
