#include "mxegress/metrics/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace mx {

std::string PrometheusText::escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PrometheusText::escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PrometheusText::format_double(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  // Shortest text that reads back as the same double: 0.005, not 0.005000000000000001.
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "NaN";
  return std::string(buffer, end);
}

void PrometheusText::family(std::string_view name, Type type, std::string_view help) {
  if (families_.contains(name)) return;
  families_.emplace(name);
  std::string_view type_name = "gauge";
  if (type == Type::Counter) type_name = "counter";
  if (type == Type::Histogram) type_name = "histogram";
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name;
  out_ += '\n';
}

void PrometheusText::write_name_and_labels(std::string_view name, const MetricLabels& labels,
                                           std::string_view extra_name,
                                           std::string_view extra_value) {
  out_ += name;
  if (labels.empty() && extra_name.empty()) return;
  out_ += '{';
  bool first = true;
  auto write_label = [&](std::string_view label, std::string_view value) {
    if (!first) out_ += ',';
    first = false;
    out_ += label;
    out_ += "=\"";
    out_ += escape_label_value(value);
    out_ += '"';
  };
  for (const auto& [label, value] : labels) write_label(label, value);
  if (!extra_name.empty()) write_label(extra_name, extra_value);
  out_ += '}';
}

void PrometheusText::sample(std::string_view name, const MetricLabels& labels, uint64_t value) {
  write_name_and_labels(name, labels);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void PrometheusText::sample(std::string_view name, const MetricLabels& labels, int64_t value) {
  write_name_and_labels(name, labels);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void PrometheusText::sample(std::string_view name, const MetricLabels& labels, double value) {
  write_name_and_labels(name, labels);
  out_ += ' ';
  out_ += format_double(value);
  out_ += '\n';
}

void PrometheusText::histogram(std::string_view name, const MetricLabels& labels,
                               const HistogramValues& values) {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < values.bounds.size(); ++i) {
    if (i < values.counts.size()) cumulative += values.counts[i];
    write_name_and_labels(bucket, labels, "le", format_double(values.bounds[i]));
    out_ += ' ';
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  for (size_t i = values.bounds.size(); i < values.counts.size(); ++i) {
    cumulative += values.counts[i];
  }
  write_name_and_labels(bucket, labels, "le", "+Inf");
  out_ += ' ';
  out_ += std::to_string(cumulative);
  out_ += '\n';
  sample(std::string(name) + "_sum", labels, values.sum);
  sample(std::string(name) + "_count", labels, cumulative);
}

}  // namespace mx
