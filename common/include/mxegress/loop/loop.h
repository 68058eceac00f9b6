// The event loop of one thread, and the one lifetime idiom of the code
// (docs/architecture.md, "Lifetimes"): every object has one owner; an owner
// that ends an object from inside one of that object's callbacks hands it to
// destroy_later(), which frees it on the next turn, once the stack has
// unwound (Envoy's deferred delete). Nothing else keeps objects alive, and
// no object checks whether it still exists: calls into an object come only
// from things it owns (timers, sockets, children), which die with it.
#pragma once

#include <uv.h>

#include <cassert>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

// Objects that belong to one loop assert it where they are entered (debug builds).
#define MX_ASSERT_IN_LOOP(loop) assert((loop).in_loop_thread())

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
  // Loop thread only. `work` must not call into an object that may be gone
  // by then: for that, the object owns a DeferredCall.
  void defer(std::function<void()> work);
  // Frees `object` on the next loop turn (the one way to end an object from
  // inside its own callbacks).
  template <typename T>
  void destroy_later(std::unique_ptr<T> object) {
    if (object) defer([dead = std::shared_ptr<T>(std::move(object))] {});
  }
  // Runs what was deferred, now. An owner whose members are referenced by
  // objects waiting in destroy_later() calls it in its destructor, so they
  // go before what they refer to.
  void run_deferred();
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

// A call to its owner at the end of the current loop turn, outside the
// stack that asked for it; cancelled when the owner (and so this) is
// destroyed. For "tell my reader later" without a token of liveness.
class DeferredCall final : private TurnEndTask {
 public:
  explicit DeferredCall(Loop& loop) : loop_(loop) {}
  ~DeferredCall() { cancel(); }
  DeferredCall(const DeferredCall&) = delete;
  DeferredCall& operator=(const DeferredCall&) = delete;

  // Replaces a call not yet made.
  void schedule(std::function<void()> call);
  void cancel();

 private:
  void on_turn_end() override;
  Loop& loop_;
  std::function<void()> call_;
  bool scheduled_ = false;
};

}  // namespace mx
