// The event loop of one thread, and the deferred work queue that lets an
// object be destroyed after the callback that decided it has unwound.
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <thread>
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
  // Loop thread only.
  void defer(std::function<void()> work);
  // Runs `work` on this loop's thread. The one call that is safe from any
  // thread (a uv_async plus a locked queue).
  void post(std::function<void()> work);
  bool in_loop_thread() const { return std::this_thread::get_id() == owner_; }

 private:
  static void on_deferred_timer(uv_timer_t* timer);
  static void on_posted(uv_async_t* async);
  void run_deferred();

  uv_loop_t loop_{};
  uv_timer_t* deferred_timer_ = nullptr;
  std::vector<std::function<void()>> deferred_;
  uv_async_t* posted_async_ = nullptr;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::thread::id owner_ = std::this_thread::get_id();
};

}  // namespace mx
