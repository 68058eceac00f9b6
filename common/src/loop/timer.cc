#include "mxegress/loop/timer.h"

namespace mx {

Timer::Timer(Loop& loop) : handle_(new uv_timer_t) {
  uv_timer_init(loop.get(), handle_);
  handle_->data = this;
}

Timer::~Timer() {
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

void Timer::start(std::chrono::milliseconds after, std::function<void()> fire) {
  fire_ = std::move(fire);
  uv_timer_start(handle_, &Timer::on_fire, static_cast<uint64_t>(after.count()), 0);
}

void Timer::stop() { uv_timer_stop(handle_); }

bool Timer::active() const { return uv_is_active(reinterpret_cast<const uv_handle_t*>(handle_)); }

void Timer::on_fire(uv_timer_t* handle) {
  auto* self = static_cast<Timer*>(handle->data);
  if (self == nullptr || !self->fire_) return;
  // Copy: the callback may restart or destroy this timer.
  auto fire = self->fire_;
  fire();
}

}  // namespace mx
