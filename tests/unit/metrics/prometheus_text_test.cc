// The Prometheus text encoder: exact text, escaping, HELP/TYPE once per
// family, cumulative histogram buckets with +Inf, _sum and _count.
#include "mxegress/metrics/prometheus_text.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "mxegress/metrics/duration_histogram.h"

namespace mx {
namespace {

using Type = PrometheusText::Type;

TEST(PrometheusText, CounterAndGaugeExactText) {
  PrometheusText out;
  out.family("mxegress_test_requests_total", Type::Counter, "Requests seen.");
  out.sample("mxegress_test_requests_total", {{"tenant", "a"}, {"result", "ok"}}, uint64_t{3});
  out.sample("mxegress_test_requests_total", {{"tenant", "b"}, {"result", "ok"}}, uint64_t{0});
  out.family("mxegress_test_active", Type::Gauge, "Active now.");
  out.sample("mxegress_test_active", {}, int64_t{-2});
  EXPECT_EQ(out.text(),
            "# HELP mxegress_test_requests_total Requests seen.\n"
            "# TYPE mxegress_test_requests_total counter\n"
            "mxegress_test_requests_total{tenant=\"a\",result=\"ok\"} 3\n"
            "mxegress_test_requests_total{tenant=\"b\",result=\"ok\"} 0\n"
            "# HELP mxegress_test_active Active now.\n"
            "# TYPE mxegress_test_active gauge\n"
            "mxegress_test_active -2\n");
}

TEST(PrometheusText, HelpAndTypeOncePerFamily) {
  PrometheusText out;
  out.family("mxegress_x", Type::Gauge, "X.");
  out.sample("mxegress_x", {{"k", "1"}}, uint64_t{1});
  out.family("mxegress_x", Type::Gauge, "X.");
  out.sample("mxegress_x", {{"k", "2"}}, uint64_t{2});
  EXPECT_EQ(out.text(),
            "# HELP mxegress_x X.\n# TYPE mxegress_x gauge\nmxegress_x{k=\"1\"} 1\n"
            "mxegress_x{k=\"2\"} 2\n");
}

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(PrometheusText::escape_label_value(R"(a\b"c)"
                                               "\nd"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(PrometheusText::escape_label_value("plain ünïcode"), "plain ünïcode");
  EXPECT_EQ(PrometheusText::escape_help("back\\slash \"quoted\"\nnext"),
            "back\\\\slash \"quoted\"\\nnext");
  PrometheusText out;
  out.family("mxegress_y", Type::Counter, "Line one\nline two \\ end");
  out.sample("mxegress_y", {{"tenant", "we\"ird\\\nname"}}, uint64_t{7});
  EXPECT_EQ(out.text(),
            "# HELP mxegress_y Line one\\nline two \\\\ end\n"
            "# TYPE mxegress_y counter\n"
            "mxegress_y{tenant=\"we\\\"ird\\\\\\nname\"} 7\n");
}

TEST(PrometheusText, FormatsDoubles) {
  EXPECT_EQ(PrometheusText::format_double(1), "1");
  EXPECT_EQ(PrometheusText::format_double(0.005), "0.005");
  EXPECT_EQ(PrometheusText::format_double(2.5), "2.5");
  EXPECT_EQ(PrometheusText::format_double(1e-9), "1e-09");
  EXPECT_EQ(PrometheusText::format_double(INFINITY), "+Inf");
  EXPECT_EQ(PrometheusText::format_double(-INFINITY), "-Inf");
  EXPECT_EQ(PrometheusText::format_double(NAN), "NaN");
}

TEST(PrometheusText, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  HistogramValues values;
  values.bounds = {0.1, 1, 2.5};
  values.counts = {2, 0, 3, 1};  // one above the last bound
  values.sum = 7.25;
  PrometheusText out;
  out.family("mxegress_z_seconds", Type::Histogram, "Z.");
  out.histogram("mxegress_z_seconds", {{"tenant", "a"}}, values);
  EXPECT_EQ(out.text(),
            "# HELP mxegress_z_seconds Z.\n"
            "# TYPE mxegress_z_seconds histogram\n"
            "mxegress_z_seconds_bucket{tenant=\"a\",le=\"0.1\"} 2\n"
            "mxegress_z_seconds_bucket{tenant=\"a\",le=\"1\"} 2\n"
            "mxegress_z_seconds_bucket{tenant=\"a\",le=\"2.5\"} 5\n"
            "mxegress_z_seconds_bucket{tenant=\"a\",le=\"+Inf\"} 6\n"
            "mxegress_z_seconds_sum{tenant=\"a\"} 7.25\n"
            "mxegress_z_seconds_count{tenant=\"a\"} 6\n");
}

TEST(PrometheusText, EmptyHistogramWithoutLabels) {
  HistogramValues values;
  values.bounds = {1};
  values.counts = {0, 0};
  PrometheusText out;
  out.histogram("mxegress_h", {}, values);
  EXPECT_EQ(out.text(),
            "mxegress_h_bucket{le=\"1\"} 0\nmxegress_h_bucket{le=\"+Inf\"} 0\n"
            "mxegress_h_sum 0\nmxegress_h_count 0\n");
}

TEST(DurationHistogram, BucketsAreLessOrEqualAndTheSumIsExact) {
  using std::chrono::milliseconds;
  const double bounds[] = {0.001, 0.01, 1};
  DurationHistogram histogram(bounds);
  histogram.observe(milliseconds(1));  // on the bound: in it
  histogram.observe(std::chrono::microseconds(1001));
  histogram.observe(milliseconds(10));
  histogram.observe(milliseconds(2000));            // above every bound
  histogram.observe(std::chrono::nanoseconds(-5));  // clamped to 0
  const HistogramValues values = histogram.values();
  EXPECT_EQ(values.bounds, (std::vector<double>{0.001, 0.01, 1}));
  EXPECT_EQ(values.counts, (std::vector<uint64_t>{2, 2, 0, 1}));
  EXPECT_DOUBLE_EQ(values.sum, 2.012001);
}

}  // namespace
}  // namespace mx
