// Tier (a): which egress server a session goes to (server_choice.h), a pure
// function of the servers' state.
#include "server_choice.h"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <vector>

namespace mx {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

const Clock::time_point kNow = Clock::time_point{} + std::chrono::hours(1000);

ServerStatus server(uint32_t priority, uint32_t weight = 100, bool ready = true) {
  ServerStatus s;
  s.priority = priority;
  s.weight = weight;
  s.ready = ready;
  return s;
}

ServerStatus down(uint32_t priority, Clock::time_point retry_at, uint32_t weight = 100) {
  ServerStatus s = server(priority, weight);
  s.up = false;
  s.retry_at = retry_at;
  return s;
}

std::optional<size_t> choose(const std::vector<ServerStatus>& servers, bool need_ready = false,
                             std::vector<size_t> exclude = {}, uint64_t random = 0) {
  return choose_server(servers, kNow, need_ready, exclude, random);
}

// How many of the draws random = 0 .. draws-1 go to each server.
std::map<size_t, int> split(const std::vector<ServerStatus>& servers, uint64_t draws,
                            uint64_t offset = 0) {
  std::map<size_t, int> counts;
  for (uint64_t r = 0; r < draws; ++r) {
    const auto chosen = choose(servers, false, {}, offset + r);
    EXPECT_TRUE(chosen.has_value());
    if (chosen) ++counts[*chosen];
  }
  return counts;
}

TEST(ServerUsable, UpIsUsableDownOnlyOnceItsRetryIsDue) {
  EXPECT_TRUE(server_usable(server(10), kNow));
  EXPECT_FALSE(server_usable(down(10, kNow + seconds(1)), kNow));
  EXPECT_TRUE(server_usable(down(10, kNow), kNow));
  EXPECT_TRUE(server_usable(down(10, kNow - seconds(1)), kNow));
}

TEST(BestPriority, TheLowestAmongTheUsable) {
  const std::vector<ServerStatus> servers = {server(20), server(5), server(10)};
  EXPECT_EQ(best_priority(servers, kNow), 5u);
  const std::vector<size_t> without_second = {1};
  EXPECT_EQ(best_priority(servers, kNow, without_second), 10u);
  const std::vector<ServerStatus> second_down = {server(20), down(5, kNow + seconds(5)),
                                                 server(10)};
  EXPECT_EQ(best_priority(second_down, kNow), 10u);
  EXPECT_EQ(best_priority({}, kNow), std::nullopt);
}

TEST(ChooseServer, LowestPriorityWinsWhateverTheWeights) {
  const std::vector<ServerStatus> servers = {server(20, 65535), server(10, 1), server(30, 65535)};
  for (uint64_t r = 0; r < 1000; r += 7) EXPECT_EQ(choose(servers, false, {}, r), 1u) << r;
}

TEST(ChooseServer, WeightsShareExactlyOneAndThree) {
  // Weights 1 and 3: of every 4 consecutive draws, 1 goes to the first
  // server (random % 4 == 0), 3 to the second.
  const std::vector<ServerStatus> servers = {server(10, 1), server(10, 3)};
  EXPECT_EQ(choose(servers, false, {}, 0), 0u);
  EXPECT_EQ(choose(servers, false, {}, 1), 1u);
  EXPECT_EQ(choose(servers, false, {}, 2), 1u);
  EXPECT_EQ(choose(servers, false, {}, 3), 1u);
  EXPECT_EQ(choose(servers, false, {}, 4), 0u);
  const auto counts = split(servers, 4000);
  EXPECT_EQ(counts.at(0), 1000);
  EXPECT_EQ(counts.at(1), 3000);
}

TEST(ChooseServer, WeightsShareExactlyAmongThreeLargeRandoms) {
  const std::vector<ServerStatus> servers = {server(10, 2), server(10, 5), server(10, 3)};
  // Any 10 consecutive values, anywhere in the 64-bit range: 2, 5 and 3.
  const auto counts = split(servers, 1000, UINT64_MAX - 999 - 5);
  EXPECT_EQ(counts.at(0), 200);
  EXPECT_EQ(counts.at(1), 500);
  EXPECT_EQ(counts.at(2), 300);
}

TEST(ChooseServer, OnlyTheBestPriorityShares) {
  // The priority-20 server never gets a share, though it weighs most.
  const std::vector<ServerStatus> servers = {server(10, 1), server(20, 1000), server(10, 1)};
  const auto counts = split(servers, 100);
  EXPECT_EQ(counts.count(1), 0u);
  EXPECT_EQ(counts.at(0), 50);
  EXPECT_EQ(counts.at(2), 50);
}

TEST(ChooseServer, ADownServerIsSkippedUntilItsRetryAt) {
  const std::vector<ServerStatus> servers = {down(10, kNow + seconds(3)), server(20)};
  for (uint64_t r = 0; r < 50; ++r) EXPECT_EQ(choose(servers, false, {}, r), 1u);
  // A down server of the same priority takes no share either.
  const std::vector<ServerStatus> same = {down(10, kNow + seconds(3)), server(10)};
  for (uint64_t r = 0; r < 50; ++r) EXPECT_EQ(choose(same, false, {}, r), 1u);
}

TEST(ChooseServer, ADownServerIsUsableOnceItsRetryIsDue) {
  // The session is the probe: the preferred server is chosen again.
  const std::vector<ServerStatus> due = {down(10, kNow), server(20)};
  EXPECT_EQ(choose(due), 0u);
  const std::vector<ServerStatus> overdue = {down(10, kNow - seconds(1)), server(20)};
  EXPECT_EQ(choose(overdue), 0u);
}

TEST(ChooseServer, NeedReadyPicksAReadyServerOfTheBestPriority) {
  const std::vector<ServerStatus> servers = {server(10, 100, false), server(10, 100, true),
                                             server(20, 100, true)};
  for (uint64_t r = 0; r < 50; ++r) EXPECT_EQ(choose(servers, true, {}, r), 1u);
  // Without need_ready the unready one gets its share (half of 200 draws).
  EXPECT_EQ(split(servers, 200).at(0), 100);
}

TEST(ChooseServer, NeedReadyDoesNotFallBackToAWorsePriority) {
  const std::vector<ServerStatus> servers = {server(10, 100, false), server(20, 100, true)};
  for (uint64_t r = 0; r < 20; ++r) EXPECT_EQ(choose(servers, true, {}, r), std::nullopt);
  // Without need_ready the session goes to the preferred server (to wait).
  EXPECT_EQ(choose(servers, false), 0u);
}

TEST(ChooseServer, NeedReadyUsesTheWorsePriorityWhenTheBestIsDown) {
  const std::vector<ServerStatus> servers = {down(10, kNow + seconds(1)), server(20, 100, true)};
  EXPECT_EQ(choose(servers, true), 1u);
}

TEST(ChooseServer, ExcludedServersAreSkipped) {
  const std::vector<ServerStatus> servers = {server(10), server(10), server(20)};
  for (uint64_t r = 0; r < 20; ++r) EXPECT_EQ(choose(servers, false, {0}, r), 1u);
  // With the whole best priority excluded, the next one serves.
  EXPECT_EQ(choose(servers, false, {0, 1}), 2u);
  EXPECT_EQ(choose(servers, false, {1, 0}), 2u);
}

TEST(ChooseServer, NoneUsableIsNullopt) {
  EXPECT_EQ(choose({}), std::nullopt);
  const std::vector<ServerStatus> all_down = {down(10, kNow + seconds(1)),
                                              down(20, kNow + seconds(2))};
  EXPECT_EQ(choose(all_down), std::nullopt);
  EXPECT_EQ(choose(all_down, true), std::nullopt);
  const std::vector<ServerStatus> two = {server(10), server(20)};
  EXPECT_EQ(choose(two, false, {0, 1}), std::nullopt);
  const std::vector<ServerStatus> one_excluded_other_down = {server(10),
                                                             down(20, kNow + seconds(1))};
  EXPECT_EQ(choose(one_excluded_other_down, false, {0}), std::nullopt);
}

}  // namespace
}  // namespace mx
