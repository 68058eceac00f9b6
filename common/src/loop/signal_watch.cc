#include "mxegress/loop/signal_watch.h"

namespace mx {

SignalWatch::SignalWatch(Loop& loop, int signum, std::function<void()> on_signal)
    : handle_(new uv_signal_t), on_signal_(std::move(on_signal)) {
  uv_signal_init(loop.get(), handle_);
  handle_->data = this;
  uv_signal_start(
      handle_,
      [](uv_signal_t* h, int) {
        auto* self = static_cast<SignalWatch*>(h->data);
        if (self != nullptr) self->on_signal_();
      },
      signum);
}

SignalWatch::~SignalWatch() {
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
}

}  // namespace mx
