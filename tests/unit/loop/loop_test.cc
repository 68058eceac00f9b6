// The Loop's turn-end tasks (the tunnels' write coalescing) on a real libuv loop.
#include "mxegress/loop/loop.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
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

}  // namespace
}  // namespace mx
