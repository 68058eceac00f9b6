// The event loop of one thread, and the deferred work queue that lets an
// object be destroyed after the callback that decided it has unwound.
#pragma once

#include <uv.h>

#include <functional>
#include <vector>

namespace mx {

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
  void defer(std::function<void()> work);

 private:
  static void on_deferred_timer(uv_timer_t* timer);
  void run_deferred();

  uv_loop_t loop_{};
  uv_timer_t* deferred_timer_ = nullptr;
  std::vector<std::function<void()>> deferred_;
};

}  // namespace mx
