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
#include <unordered_map>

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

// LogRateLimit for each key of a kind of event (an address and a reason):
// a party that repeats itself is logged once an interval, while a new party
// is logged at once. It remembers at most `max_keys` keys; when full, keys
// silent for a whole interval are forgotten, and if none is, the new keys
// share one overflow key, so a flood from many addresses stays bounded.
// Thread-safe.
class KeyedLogRateLimit {
 public:
  using Clock = LogRateLimit::Clock;

  explicit KeyedLogRateLimit(std::chrono::milliseconds interval = std::chrono::seconds(10),
                             size_t max_keys = 4096)
      : interval_(interval), max_keys_(max_keys) {}

  std::optional<uint64_t> admit(const std::string& key, Clock::time_point now = Clock::now());
  size_t keys() const;

 private:
  struct Entry {
    Clock::time_point last;
    uint64_t left_out = 0;
  };
  static std::optional<uint64_t> admit(Entry& entry, bool fresh, Clock::time_point now,
                                       std::chrono::milliseconds interval);
  void forget_silent(Clock::time_point now);

  mutable std::mutex mutex_;
  std::chrono::milliseconds interval_;
  size_t max_keys_;
  std::unordered_map<std::string, Entry> entries_;
  Entry overflow_;
  bool overflow_used_ = false;
};

// " (N more like it not logged)" when N > 0, else "".
std::string left_out_note(uint64_t left_out);

}  // namespace mx
