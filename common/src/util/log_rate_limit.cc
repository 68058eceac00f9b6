#include "mxegress/util/log_rate_limit.h"

namespace mx {

std::optional<uint64_t> LogRateLimit::admit(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (last_ && now - *last_ < interval_) {
    ++left_out_;
    return std::nullopt;
  }
  last_ = now;
  const uint64_t left_out = left_out_;
  left_out_ = 0;
  return left_out;
}

std::string left_out_note(uint64_t left_out) {
  if (left_out == 0) return {};
  return " (" + std::to_string(left_out) + " more like it not logged)";
}

}  // namespace mx
