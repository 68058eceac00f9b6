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

std::optional<uint64_t> KeyedLogRateLimit::admit(Entry& entry, bool fresh, Clock::time_point now,
                                                 std::chrono::milliseconds interval) {
  if (!fresh && now - entry.last < interval) {
    ++entry.left_out;
    return std::nullopt;
  }
  entry.last = now;
  const uint64_t left_out = entry.left_out;
  entry.left_out = 0;
  return left_out;
}

std::optional<uint64_t> KeyedLogRateLimit::admit(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (auto found = entries_.find(key); found != entries_.end()) {
    return admit(found->second, false, now, interval_);
  }
  if (entries_.size() >= max_keys_) forget_silent(now);
  if (entries_.size() >= max_keys_) {
    const bool fresh = !overflow_used_;
    overflow_used_ = true;
    return admit(overflow_, fresh, now, interval_);
  }
  return admit(entries_[key], true, now, interval_);
}

void KeyedLogRateLimit::forget_silent(Clock::time_point now) {
  // A key silent for a whole interval would be logged at once anyway; what
  // is lost is its count of lines left out (the event counters that the
  // callers keep are exact).
  std::erase_if(entries_, [&](const auto& item) { return now - item.second.last >= interval_; });
}

size_t KeyedLogRateLimit::keys() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::string left_out_note(uint64_t left_out) {
  if (left_out == 0) return {};
  return " (" + std::to_string(left_out) + " more like it not logged)";
}

}  // namespace mx
