#include "mxegress/util/concurrency_limit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace mx {
namespace {

using Refusal = ConcurrencyLimit::Refusal;

TEST(ConcurrencyLimit, RefusesAboveThePerKeyCapButNotOtherKeys) {
  ConcurrencyLimit limit({.total = 10, .per_key = 2});
  auto a1 = limit.acquire("a");
  auto a2 = limit.acquire("a");
  auto a3 = limit.acquire("a");
  EXPECT_TRUE(a1.slot);
  EXPECT_TRUE(a2.slot);
  EXPECT_FALSE(a3.slot);
  EXPECT_EQ(a3.refusal, Refusal::PerKey);
  auto b1 = limit.acquire("b");
  EXPECT_TRUE(b1.slot);
  EXPECT_EQ(limit.in_flight(), 3u);
  EXPECT_EQ(limit.in_flight("a"), 2u);
  EXPECT_EQ(limit.refused().per_key, 1u);
  EXPECT_EQ(limit.refused().total, 0u);
}

TEST(ConcurrencyLimit, RefusesAboveTheTotalCap) {
  ConcurrencyLimit limit({.total = 2, .per_key = 0});
  auto a = limit.acquire("a");
  auto b = limit.acquire("b");
  auto c = limit.acquire("c");
  EXPECT_FALSE(c.slot);
  EXPECT_EQ(c.refusal, Refusal::Total);
  EXPECT_EQ(limit.refused().total, 1u);
}

TEST(ConcurrencyLimit, ZeroMeansUnlimited) {
  ConcurrencyLimit limit({});
  std::vector<ConcurrencyLimit::Slot> slots;
  for (int i = 0; i < 1000; ++i) slots.push_back(limit.acquire("same").slot);
  for (const auto& slot : slots) EXPECT_TRUE(slot);
  EXPECT_EQ(limit.in_flight("same"), 1000u);
}

TEST(ConcurrencyLimit, ASlotGivesItsPlaceBackOnceWhenDestroyedMovedOrReleased) {
  ConcurrencyLimit limit({.total = 1, .per_key = 1});
  {
    auto grant = limit.acquire("a");
    ConcurrencyLimit::Slot moved = std::move(grant.slot);
    EXPECT_FALSE(grant.slot);
    EXPECT_FALSE(limit.acquire("a").slot);
    moved.release();
    moved.release();
    EXPECT_EQ(limit.in_flight(), 0u);
    EXPECT_EQ(limit.in_flight("a"), 0u);
  }
  auto again = limit.acquire("a");
  ASSERT_TRUE(again.slot);
  ConcurrencyLimit::Slot other = limit.acquire("b").slot;  // refused: total 1
  EXPECT_FALSE(other);
  again.slot = ConcurrencyLimit::Slot();  // assignment releases the old one
  EXPECT_EQ(limit.in_flight(), 0u);
}

TEST(ConcurrencyLimit, NewCapsApplyToNewSlotsOnly) {
  ConcurrencyLimit limit({.total = 0, .per_key = 3});
  auto a1 = limit.acquire("a");
  auto a2 = limit.acquire("a");
  limit.set_caps({.total = 0, .per_key = 1});
  EXPECT_EQ(limit.in_flight("a"), 2u);
  EXPECT_FALSE(limit.acquire("a").slot);
  a1.slot.release();
  a2.slot.release();
  EXPECT_TRUE(limit.acquire("a").slot);
}

TEST(ConcurrencyLimit, ASlotMayOutliveItsLimit) {
  ConcurrencyLimit::Slot slot;
  {
    ConcurrencyLimit limit({.total = 1, .per_key = 1});
    slot = limit.acquire("a").slot;
  }
  EXPECT_TRUE(slot);
  slot.release();  // no use after free (ASan)
}

TEST(ConcurrencyLimit, ThreadsNeverExceedTheCap) {
  ConcurrencyLimit limit({.total = 8, .per_key = 0});
  std::atomic<size_t> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&limit, &peak, t] {
      for (int i = 0; i < 2000; ++i) {
        auto grant = limit.acquire("k" + std::to_string(t));
        if (!grant.slot) continue;
        size_t now = limit.in_flight();
        size_t seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(peak.load(), 8u);
  EXPECT_EQ(limit.in_flight(), 0u);
}

}  // namespace
}  // namespace mx
