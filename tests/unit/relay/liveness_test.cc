// Tier (a): the tunnel's liveness rules as arithmetic over made-up times
// (milliseconds of the loop's clock): when to PING, when the peer is dead,
// and that the time it asks to be checked at is the time it has news.
#include "mxegress/relay/liveness.h"

#include <gtest/gtest.h>

#include <ostream>

namespace mx {

static std::ostream& operator<<(std::ostream& os, Liveness::Action action) {
  switch (action) {
    case Liveness::Action::Wait:
      return os << "Wait";
    case Liveness::Action::Ping:
      return os << "Ping";
    case Liveness::Action::Dead:
      return os << "Dead";
  }
  return os << "Action(?)";
}

namespace {

using namespace std::chrono_literals;
using Action = Liveness::Action;

constexpr uint64_t kStart = 50000;  // the loop's clock is not 0 at start
const Liveness::Settings kSettings{.interval = 1000ms, .timeout = 300ms};

void expect_decision(Liveness& liveness, uint64_t now, Action action, uint64_t next) {
  SCOPED_TRACE("at " + std::to_string(now));
  const Liveness::Decision d = liveness.check(now);
  EXPECT_EQ(d.action, action);
  EXPECT_EQ(d.next_check_ms, next);
}

TEST(LivenessTest, NoPingBeforeTheInterval) {
  Liveness liveness(kSettings, kStart);
  EXPECT_EQ(liveness.next_check_ms(), kStart + 1000);
  expect_decision(liveness, kStart, Action::Wait, kStart + 1000);
  expect_decision(liveness, kStart + 999, Action::Wait, kStart + 1000);
}

TEST(LivenessTest, QuietForTheIntervalPingsOnceThenIsDeadAfterTheTimeout) {
  Liveness liveness(kSettings, kStart);
  expect_decision(liveness, kStart + 1000, Action::Ping, kStart + 1300);
  // Once pinged, it waits for the answer: no second PING.
  expect_decision(liveness, kStart + 1100, Action::Wait, kStart + 1300);
  expect_decision(liveness, kStart + 1299, Action::Wait, kStart + 1300);
  expect_decision(liveness, kStart + 1300, Action::Dead, kStart + 1300);
  // Dead stays dead.
  expect_decision(liveness, kStart + 5000, Action::Dead, kStart + 1300);
}

// A timer that fires late pings then, and the timeout counts from the PING.
TEST(LivenessTest, TheTimeoutCountsFromThePingNotFromTheInterval) {
  Liveness liveness(kSettings, kStart);
  expect_decision(liveness, kStart + 4000, Action::Ping, kStart + 4300);
  expect_decision(liveness, kStart + 4299, Action::Wait, kStart + 4300);
  expect_decision(liveness, kStart + 4300, Action::Dead, kStart + 4300);
}

TEST(LivenessTest, HearingThePeerStartsTheIntervalAgain) {
  Liveness liveness(kSettings, kStart);
  liveness.heard(kStart + 600);
  EXPECT_EQ(liveness.next_check_ms(), kStart + 1600);
  expect_decision(liveness, kStart + 1000, Action::Wait, kStart + 1600);
  expect_decision(liveness, kStart + 1600, Action::Ping, kStart + 1900);
  // The PONG (or any frame) in time: alive, and quiet for the interval again.
  liveness.heard(kStart + 1750);
  EXPECT_EQ(liveness.next_check_ms(), kStart + 2750);
  expect_decision(liveness, kStart + 1900, Action::Wait, kStart + 2750);
  expect_decision(liveness, kStart + 2750, Action::Ping, kStart + 3050);
}

// A CONNECT went out: unanswered for min(200 ms, timeout / 2) it probes
// with a PING, and is dead `timeout` after the CONNECT.
TEST(LivenessTest, AnUnansweredRequestProbesSoonAndIsDeadAfterTheTimeout) {
  Liveness liveness(kSettings, kStart);
  liveness.expect_answer(kStart + 100);
  EXPECT_EQ(liveness.next_check_ms(), kStart + 100 + 150) << "timeout / 2 = 150 < 200";
  expect_decision(liveness, kStart + 249, Action::Wait, kStart + 250);
  expect_decision(liveness, kStart + 250, Action::Ping, kStart + 400);
  EXPECT_EQ(liveness.next_check_ms(), kStart + 400);
  expect_decision(liveness, kStart + 399, Action::Wait, kStart + 400);
  expect_decision(liveness, kStart + 400, Action::Dead, kStart + 400);
}

TEST(LivenessTest, TheProbeWaitsAtMost200Milliseconds) {
  Liveness liveness({.interval = 60000ms, .timeout = 10000ms}, kStart);
  liveness.expect_answer(kStart + 10);
  EXPECT_EQ(liveness.next_check_ms(), kStart + 210);
  expect_decision(liveness, kStart + 209, Action::Wait, kStart + 210);
  expect_decision(liveness, kStart + 210, Action::Ping, kStart + 10010);
  expect_decision(liveness, kStart + 10010, Action::Dead, kStart + 10010);
}

TEST(LivenessTest, AnAnswerClearsTheExpectation) {
  Liveness liveness(kSettings, kStart);
  liveness.expect_answer(kStart + 100);
  liveness.heard(kStart + 180);  // before the probe
  EXPECT_EQ(liveness.next_check_ms(), kStart + 1180);
  expect_decision(liveness, kStart + 250, Action::Wait, kStart + 1180);
  expect_decision(liveness, kStart + 400, Action::Wait, kStart + 1180);

  // After the probe went out, too.
  liveness.expect_answer(kStart + 2000);
  expect_decision(liveness, kStart + 2150, Action::Ping, kStart + 2300);
  liveness.heard(kStart + 2200);
  expect_decision(liveness, kStart + 2300, Action::Wait, kStart + 3200);
}

TEST(LivenessTest, ExpectingTwiceKeepsTheEarliest) {
  Liveness liveness(kSettings, kStart);
  liveness.expect_answer(kStart + 100);
  liveness.expect_answer(kStart + 200);
  EXPECT_EQ(liveness.next_check_ms(), kStart + 250);
  expect_decision(liveness, kStart + 250, Action::Ping, kStart + 400);
  liveness.expect_answer(kStart + 300);
  expect_decision(liveness, kStart + 400, Action::Dead, kStart + 400);
}

// A request while an interval PING is out changes nothing: no second PING,
// and the deadline is the PING's.
TEST(LivenessTest, ARequestWhileAPingIsOutKeepsThePingsDeadline) {
  Liveness liveness(kSettings, kStart);
  expect_decision(liveness, kStart + 1000, Action::Ping, kStart + 1300);
  liveness.expect_answer(kStart + 1100);
  EXPECT_EQ(liveness.next_check_ms(), kStart + 1300);
  expect_decision(liveness, kStart + 1250, Action::Wait, kStart + 1300);
  expect_decision(liveness, kStart + 1300, Action::Dead, kStart + 1300);
}

// What TunnelEndpoint relies on: arming its timer at next_check_ms() and
// checking then, it sees every PING and the death at their exact times.
TEST(LivenessTest, NextCheckIsWhereCheckHasNews) {
  for (const uint64_t expect_at : {uint64_t{0}, kStart + 30, kStart + 1200}) {
    SCOPED_TRACE("expect_answer at " + std::to_string(expect_at));
    Liveness liveness(kSettings, kStart);
    uint64_t now = kStart;
    bool expected = expect_at == 0;
    for (int step = 0; step < 20; ++step) {
      if (!expected && liveness.next_check_ms() > expect_at) {
        now = expect_at;
        liveness.expect_answer(now);
        expected = true;
      }
      const uint64_t next = liveness.next_check_ms();
      ASSERT_GE(next, now);
      // Nothing happens before it ...
      if (next > now) {
        EXPECT_EQ(liveness.check(next - 1).action, Action::Wait);
      }
      // ... and check() then agrees with it.
      now = next;
      const Liveness::Decision d = liveness.check(now);
      if (d.action == Action::Dead) break;
      EXPECT_EQ(d.next_check_ms, liveness.next_check_ms()) << "after " << d.action;
      // Every other PING is answered at once.
      if (d.action == Action::Ping && step % 2 == 0) liveness.heard(now);
    }
    EXPECT_EQ(liveness.check(now).action, Action::Dead) << "an unanswered PING ends it";
  }
}

}  // namespace
}  // namespace mx
