#include "mxegress/loop/loop.h"

#include <cstdlib>

namespace mx {

Loop::Loop() {
  if (uv_loop_init(&loop_) != 0) std::abort();
  deferred_timer_ = new uv_timer_t;
  uv_timer_init(&loop_, deferred_timer_);
  deferred_timer_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(deferred_timer_));
}

Loop::~Loop() {
  run_deferred();
  deferred_timer_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(deferred_timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void Loop::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  run_deferred();
}

void Loop::defer(std::function<void()> work) {
  deferred_.push_back(std::move(work));
  if (deferred_.size() == 1) {
    uv_ref(reinterpret_cast<uv_handle_t*>(deferred_timer_));
    uv_timer_start(deferred_timer_, &Loop::on_deferred_timer, 0, 0);
  }
}

void Loop::on_deferred_timer(uv_timer_t* timer) {
  auto* self = static_cast<Loop*>(timer->data);
  if (self == nullptr) return;
  uv_unref(reinterpret_cast<uv_handle_t*>(timer));
  self->run_deferred();
}

void Loop::run_deferred() {
  // Work may defer more work; run until the queue is empty.
  while (!deferred_.empty()) {
    std::vector<std::function<void()>> batch;
    batch.swap(deferred_);
    for (auto& work : batch) work();
  }
}

}  // namespace mx
