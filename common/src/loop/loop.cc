#include "mxegress/loop/loop.h"

#include <cstdlib>

namespace mx {

Loop::Loop() {
  if (uv_loop_init(&loop_) != 0) std::abort();
  deferred_timer_ = new uv_timer_t;
  uv_timer_init(&loop_, deferred_timer_);
  deferred_timer_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(deferred_timer_));
  posted_async_ = new uv_async_t;
  uv_async_init(&loop_, posted_async_, &Loop::on_posted);
  posted_async_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(posted_async_));
}

Loop::~Loop() {
  on_posted(posted_async_);
  run_deferred();
  posted_async_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(posted_async_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
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

void Loop::post(std::function<void()> work) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(work));
  }
  uv_async_send(posted_async_);
}

void Loop::on_posted(uv_async_t* async) {
  auto* self = static_cast<Loop*>(async->data);
  if (self == nullptr) return;
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(self->posted_mutex_);
    batch.swap(self->posted_);
  }
  for (auto& work : batch) work();
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
