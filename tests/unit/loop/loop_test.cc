// The Loop's turn-end tasks (the tunnels' write coalescing), DeferredCall and
// destroy_later (the lifetime idiom) on a real libuv loop.
#include "mxegress/loop/loop.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mxegress/loop/timer.h"

namespace mx {
namespace {

using namespace std::chrono_literals;

class RecordingTask : public TurnEndTask {
 public:
  RecordingTask(std::vector<std::string>& log, std::string name)
      : log_(log), name_(std::move(name)) {}
  void on_turn_end() override {
    log_.push_back(name_);
    if (then) then();
  }
  std::function<void()> then;

 private:
  std::vector<std::string>& log_;
  std::string name_;
};

// Work done in a callback of the turn first, then the tasks, in the order
// they were scheduled; a cancelled task does not run.
TEST(LoopTurnEndTest, TasksRunOnceAfterTheTurnsCallbacksInScheduleOrder) {
  Loop loop;
  std::vector<std::string> log;
  RecordingTask first(log, "first"), second(log, "second"), cancelled(log, "cancelled");
  Timer timer(loop);
  timer.start(0ms, [&] {
    loop.at_turn_end(&second);
    loop.at_turn_end(&cancelled);
    loop.at_turn_end(&first);
    loop.cancel_turn_end(&cancelled);
    log.push_back("callback");
  });
  uv_run(loop.get(), UV_RUN_DEFAULT);
  EXPECT_EQ(log, (std::vector<std::string>{"callback", "second", "first"}));
  EXPECT_EQ(uv_loop_alive(loop.get()), 0) << "nothing left running once the tasks are done";
}

// Scheduled outside the I/O phase (here from a timer), a task still runs in
// the same turn: the loop does not sit in its poll waiting for I/O first.
TEST(LoopTurnEndTest, ATaskScheduledFromATimerDoesNotWaitForThePoll) {
  Loop loop;
  std::vector<std::string> log;
  RecordingTask task(log, "task");
  Timer start(loop), watchdog(loop);
  uint64_t ran_at = 0;
  task.then = [&] { ran_at = uv_now(loop.get()); };
  watchdog.start(2s, [] {});
  start.start(0ms, [&] { loop.at_turn_end(&task); });
  const uint64_t began = uv_now(loop.get());
  uv_run(loop.get(), UV_RUN_ONCE);
  ASSERT_EQ(log, std::vector<std::string>{"task"});
  EXPECT_LT(ran_at - began, 1000u);
  watchdog.stop();
}

// A task may schedule another (it runs in the same pass) or cancel one not
// yet run (it does not run).
TEST(LoopTurnEndTest, ATaskMayScheduleOrCancelOthers) {
  Loop loop;
  std::vector<std::string> log;
  RecordingTask a(log, "a"), b(log, "b"), c(log, "c");
  a.then = [&] {
    loop.cancel_turn_end(&b);
    loop.at_turn_end(&c);
  };
  Timer timer(loop);
  timer.start(0ms, [&] {
    loop.at_turn_end(&a);
    loop.at_turn_end(&b);
  });
  uv_run(loop.get(), UV_RUN_DEFAULT);
  EXPECT_EQ(log, (std::vector<std::string>{"a", "c"}));
}

// ---- DeferredCall ---------------------------------------------------------

// The call is made at the end of the turn that scheduled it: after the rest
// of the callback that asked, before the loop waits for anything else.
TEST(DeferredCallTest, RunsAtTheEndOfTheTurnNotInsideSchedule) {
  Loop loop;
  std::vector<std::string> log;
  DeferredCall call(loop);
  Timer timer(loop), watchdog(loop);
  watchdog.start(2s, [] {});
  timer.start(0ms, [&] {
    call.schedule([&] { log.push_back("call"); });
    log.push_back("after schedule");
  });
  uv_run(loop.get(), UV_RUN_ONCE);
  EXPECT_EQ(log, (std::vector<std::string>{"after schedule", "call"}));
  watchdog.stop();
  uv_run(loop.get(), UV_RUN_DEFAULT);
  EXPECT_EQ(log.size(), 2u) << "made once";
}

TEST(DeferredCallTest, ScheduleReplacesACallNotYetMade) {
  Loop loop;
  std::vector<std::string> log;
  DeferredCall call(loop);
  Timer timer(loop);
  timer.start(0ms, [&] {
    call.schedule([&] { log.push_back("first"); });
    call.schedule([&] { log.push_back("second"); });
  });
  uv_run(loop.get(), UV_RUN_DEFAULT);
  EXPECT_EQ(log, std::vector<std::string>{"second"});
}

TEST(DeferredCallTest, CancelPreventsTheCallAndItMayBeScheduledAgain) {
  Loop loop;
  std::vector<std::string> log;
  DeferredCall call(loop);
  Timer timer(loop);
  timer.start(0ms, [&] {
    call.schedule([&] { log.push_back("cancelled"); });
    call.cancel();
    call.cancel();  // twice is harmless
  });
  uv_run(loop.get(), UV_RUN_DEFAULT);
  EXPECT_TRUE(log.empty());

  timer.start(0ms, [&] { call.schedule([&] { log.push_back("again"); }); });
  uv_run(loop.get(), UV_RUN_DEFAULT);
  EXPECT_EQ(log, std::vector<std::string>{"again"});
}

// Its owner goes away before the turn ends (it owns the DeferredCall): the
// call is not made, and nothing touches the freed object.
TEST(DeferredCallTest, DestroyingItPreventsTheCall) {
  Loop loop;
  std::vector<std::string> log;
  auto call = std::make_unique<DeferredCall>(loop);
  Timer timer(loop);
  timer.start(0ms, [&] {
    call->schedule([&] { log.push_back("call"); });
    call.reset();
  });
  uv_run(loop.get(), UV_RUN_DEFAULT);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(uv_loop_alive(loop.get()), 0);
}

// ---- destroy_later ----------------------------------------------------------

class Tracked {
 public:
  explicit Tracked(std::vector<std::string>& log) : log_(log) {}
  ~Tracked() { log_.push_back("freed"); }

 private:
  std::vector<std::string>& log_;
};

// Handed over inside a callback (here an I/O one: a posted task), the object
// survives that callback and the rest of the turn, turn-end tasks included,
// and is freed after.
TEST(DestroyLaterTest, FreesAfterTheTurnNotBefore) {
  Loop loop;
  std::vector<std::string> log;
  auto object = std::make_unique<Tracked>(log);
  DeferredCall turn_end(loop);
  Timer watchdog(loop);
  watchdog.start(2s, [] {});
  loop.post([&] {
    loop.destroy_later(std::move(object));
    log.push_back("handed over");
    turn_end.schedule([&] { log.push_back("turn end"); });
  });
  for (int turns = 0; turns < 10 && log.size() < 3; ++turns) uv_run(loop.get(), UV_RUN_ONCE);
  EXPECT_EQ(log, (std::vector<std::string>{"handed over", "turn end", "freed"}));
  EXPECT_FALSE(object);
  watchdog.stop();
  uv_run(loop.get(), UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_alive(loop.get()), 0) << "nothing deferred keeps the loop alive";
}

// From a timer callback too: not inside the callback, freed once the loop
// runs on.
TEST(DestroyLaterTest, NotFreedInsideTheCallbackThatHandsItOver) {
  Loop loop;
  std::vector<std::string> log;
  auto object = std::make_unique<Tracked>(log);
  Timer timer(loop);
  timer.start(0ms, [&] {
    loop.destroy_later(std::move(object));
    log.push_back("callback returns");
  });
  uv_run(loop.get(), UV_RUN_DEFAULT);
  EXPECT_EQ(log, (std::vector<std::string>{"callback returns", "freed"}));
}

TEST(DestroyLaterTest, RunDeferredFreesNowAndNullIsIgnored) {
  Loop loop;
  std::vector<std::string> log;
  loop.destroy_later(std::unique_ptr<Tracked>());
  loop.destroy_later(std::make_unique<Tracked>(log));
  EXPECT_TRUE(log.empty());
  loop.run_deferred();
  EXPECT_EQ(log, std::vector<std::string>{"freed"});
  uv_run(loop.get(), UV_RUN_DEFAULT);
  EXPECT_EQ(log.size(), 1u);
}

// A loop that goes away frees what was still waiting.
TEST(DestroyLaterTest, TheLoopsDestructorFreesWhatIsWaiting) {
  std::vector<std::string> log;
  {
    Loop loop;
    loop.destroy_later(std::make_unique<Tracked>(log));
    EXPECT_TRUE(log.empty());
  }
  EXPECT_EQ(log, std::vector<std::string>{"freed"});
}

TEST(LoopThreadTest, OnlyTheThreadThatMadeTheLoopIsInIt) {
  Loop loop;
  EXPECT_TRUE(loop.in_loop_thread());
  bool other = true;
  std::thread([&] { other = loop.in_loop_thread(); }).join();
  EXPECT_FALSE(other);
}

}  // namespace
}  // namespace mx
