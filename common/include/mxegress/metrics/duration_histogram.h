// A histogram of durations that any thread may observe into without a
// lock: one atomic count per bucket and an atomic sum in nanoseconds (exact,
// where a double summed across threads would need a compare-and-swap loop).
// values() reads it for PrometheusText; observations racing a scrape may
// show in a later scrape, never half.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "mxegress/metrics/prometheus_text.h"

namespace mx {

// Bucket bounds in seconds for latencies from a millisecond to half a minute.
inline constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10,   30};

class DurationHistogram {
 public:
  // `bounds` in seconds, ascending.
  explicit DurationHistogram(std::span<const double> bounds = kLatencyBuckets);
  DurationHistogram(const DurationHistogram&) = delete;
  DurationHistogram& operator=(const DurationHistogram&) = delete;

  void observe(std::chrono::nanoseconds duration);
  HistogramValues values() const;

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> bounds_ns_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace mx
