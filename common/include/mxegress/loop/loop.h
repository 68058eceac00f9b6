// The event loop of one thread, and the deferred work queue that lets an
// object be destroyed after the callback that decided it has unwound.
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mx {

// Work that runs once at the end of the current loop turn, after the I/O
// callbacks of this turn: a tunnel collects the frames its sessions write
// during the turn and encrypts and sends them together (one TLS record and
// one write instead of one per frame).
class TurnEndTask {
 public:
  virtual void on_turn_end() = 0;

 protected:
  ~TurnEndTask() = default;
};

class Loop {
 public:
  Loop();
  ~Loop();  // closes every handle still open and runs the loop until they are gone
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  uv_loop_t* get() { return &loop_; }
  void run();
  void stop() { uv_stop(&loop_); }
  // Runs `work` on the next loop turn, outside the current call stack.
  // Loop thread only.
  void defer(std::function<void()> work);
  // Runs `work` on this loop's thread. The one call that is safe from any
  // thread (a uv_async plus a locked queue).
  void post(std::function<void()> work);
  bool in_loop_thread() const { return std::this_thread::get_id() == owner_; }
  // Runs task->on_turn_end() at the end of this turn (a uv_check; an idle
  // handle keeps the poll from blocking meanwhile). The caller schedules a
  // task at most once per turn and cancels it before destroying it.
  void at_turn_end(TurnEndTask* task);
  void cancel_turn_end(TurnEndTask* task);

 private:
  static void on_deferred_timer(uv_timer_t* timer);
  static void on_posted(uv_async_t* async);
  void run_deferred();
  static void on_turn_end_check(uv_check_t* check);

  uv_loop_t loop_{};
  uv_timer_t* deferred_timer_ = nullptr;
  std::vector<std::function<void()>> deferred_;
  uv_check_t* turn_end_check_ = nullptr;
  uv_idle_t* turn_end_idle_ = nullptr;
  std::vector<TurnEndTask*> turn_end_;  // cancelled entries are null
  uv_async_t* posted_async_ = nullptr;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::thread::id owner_ = std::this_thread::get_id();
};

}  // namespace mx
