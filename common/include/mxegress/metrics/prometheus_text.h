// The Prometheus text exposition format 0.0.4, sans I/O: families and
// samples in, the text out. Each family's `# HELP` and `# TYPE` are written
// once, where it starts; a family's samples follow it (callers give all of
// one family before the next). Label values are escaped (backslash, double
// quote, newline), HELP text too (backslash, newline). A histogram is given
// as per-bucket counts and written as cumulative `_bucket{le="…"}` lines
// ending with le="+Inf", then `_sum` and `_count`.
// https://prometheus.io/docs/instrumenting/exposition_formats/
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mx {

// The media type of what PrometheusText::text() returns.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

using MetricLabels = std::vector<std::pair<std::string_view, std::string_view>>;

// One histogram's state at scrape time: counts[i] observations fell in
// (bounds[i-1], bounds[i]]; counts has one more entry than bounds, for
// those above the last bound. Bounds are ascending.
struct HistogramValues {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  double sum = 0;
};

class PrometheusText {
 public:
  enum class Type { Counter, Gauge, Histogram };

  // Starts a family (its name without _total/_bucket/_sum/_count suffixes
  // for the TYPE line: a counter's name is given with its `_total`, as
  // client libraries write it). A second start of the same name is ignored.
  void family(std::string_view name, Type type, std::string_view help);
  void sample(std::string_view name, const MetricLabels& labels, uint64_t value);
  void sample(std::string_view name, const MetricLabels& labels, int64_t value);
  void sample(std::string_view name, const MetricLabels& labels, double value);
  void histogram(std::string_view name, const MetricLabels& labels, const HistogramValues& values);

  const std::string& text() const { return out_; }

  // Helpers, public for tests.
  static std::string escape_label_value(std::string_view value);
  static std::string escape_help(std::string_view help);
  static std::string format_double(double value);  // "1", "0.005", "+Inf", "NaN"

 private:
  void write_name_and_labels(std::string_view name, const MetricLabels& labels,
                             std::string_view extra_name = {}, std::string_view extra_value = {});

  std::string out_;
  std::set<std::string, std::less<>> families_;
};

}  // namespace mx
