#include "mxegress/loop/loop.h"

#include <cstdlib>
#include <utility>

namespace mx {

Loop::Loop() {
  if (uv_loop_init(&loop_) != 0) std::abort();
  deferred_timer_ = new uv_timer_t;
  uv_timer_init(&loop_, deferred_timer_);
  deferred_timer_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(deferred_timer_));
  turn_end_check_ = new uv_check_t;
  uv_check_init(&loop_, turn_end_check_);
  turn_end_check_->data = this;
  turn_end_idle_ = new uv_idle_t;
  uv_idle_init(&loop_, turn_end_idle_);
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
  turn_end_.clear();
  turn_end_check_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(turn_end_check_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(turn_end_idle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
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

void Loop::at_turn_end(TurnEndTask* task) {
  turn_end_.push_back(task);
  if (turn_end_.size() == 1) {
    uv_check_start(turn_end_check_, &Loop::on_turn_end_check);
    uv_idle_start(turn_end_idle_, [](uv_idle_t*) {});
  }
}

void Loop::cancel_turn_end(TurnEndTask* task) {
  for (TurnEndTask*& t : turn_end_) {
    if (t == task) t = nullptr;
  }
}

void Loop::on_turn_end_check(uv_check_t* check) {
  auto* self = static_cast<Loop*>(check->data);
  if (self == nullptr) return;
  // A task may schedule or cancel others (its callbacks can end sessions):
  // index, do not iterate, and run what is added meanwhile in this pass.
  for (size_t i = 0; i < self->turn_end_.size(); ++i) {
    TurnEndTask* task = std::exchange(self->turn_end_[i], nullptr);
    if (task != nullptr) task->on_turn_end();
  }
  self->turn_end_.clear();
  uv_check_stop(self->turn_end_check_);
  uv_idle_stop(self->turn_end_idle_);
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

void DeferredCall::schedule(std::function<void()> call) {
  call_ = std::move(call);
  if (scheduled_) return;
  scheduled_ = true;
  loop_.at_turn_end(this);
}

void DeferredCall::cancel() {
  if (!scheduled_) return;
  scheduled_ = false;
  loop_.cancel_turn_end(this);
  call_ = nullptr;
}

void DeferredCall::on_turn_end() {
  scheduled_ = false;
  auto call = std::move(call_);
  call_ = nullptr;
  if (call) call();
}

}  // namespace mx
