// A one-shot or repeating timer that owns its uv_timer_t. Destroying the Timer
// stops it; the handle's memory is freed by its close callback.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

#include "mxegress/loop/loop.h"

namespace mx {

class Timer {
 public:
  explicit Timer(Loop& loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void start(std::chrono::milliseconds after, std::function<void()> fire);
  void stop();
  bool active() const;

 private:
  static void on_fire(uv_timer_t* handle);
  uv_timer_t* handle_;
  std::function<void()> fire_;
};

}  // namespace mx
