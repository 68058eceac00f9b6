#include "mxegress/metrics/duration_histogram.h"

#include <algorithm>
#include <cmath>

namespace mx {

DurationHistogram::DurationHistogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {
  for (const double bound : bounds_) {
    bounds_ns_.push_back(static_cast<int64_t>(std::llround(bound * 1e9)));
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void DurationHistogram::observe(std::chrono::nanoseconds duration) {
  const int64_t ns = std::max<int64_t>(0, duration.count());
  // The first bound at or above the value: buckets are "less than or equal".
  const size_t index = static_cast<size_t>(
      std::lower_bound(bounds_ns_.begin(), bounds_ns_.end(), ns) - bounds_ns_.begin());
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

HistogramValues DurationHistogram::values() const {
  HistogramValues values;
  values.bounds = bounds_;
  values.counts.reserve(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    values.counts.push_back(counts_[i].load(std::memory_order_relaxed));
  }
  values.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return values;
}

}  // namespace mx
