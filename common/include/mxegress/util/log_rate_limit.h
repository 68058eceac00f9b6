// At most one log line per interval for one kind of event, so a flood of
// refusals cannot flood the journal too; the line that is written says how
// many were left out since the last one. Thread-safe.
//
//   if (auto left_out = limit.admit(now)) MX_LOG(Warn, "x") << ... << left_out_note(*left_out);
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace mx {

class LogRateLimit {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogRateLimit(std::chrono::milliseconds interval = std::chrono::seconds(10))
      : interval_(interval) {}

  // The number of events left out since the last line when this one may be
  // logged; nullopt when it must not be.
  std::optional<uint64_t> admit(Clock::time_point now = Clock::now());

 private:
  std::mutex mutex_;
  std::chrono::milliseconds interval_;
  std::optional<Clock::time_point> last_;
  uint64_t left_out_ = 0;
};

// " (N more like it not logged)" when N > 0, else "".
std::string left_out_note(uint64_t left_out);

}  // namespace mx
