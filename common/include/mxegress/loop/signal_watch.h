// Calls back on a POSIX signal, on the loop thread (uv_signal).
#pragma once

#include <uv.h>

#include <functional>

#include "mxegress/loop/loop.h"

namespace mx {

class SignalWatch {
 public:
  SignalWatch(Loop& loop, int signum, std::function<void()> on_signal);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  uv_signal_t* handle_;
  std::function<void()> on_signal_;
};

}  // namespace mx
