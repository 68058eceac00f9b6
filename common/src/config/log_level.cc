#include "mxegress/config/log_level.h"

#include <array>
#include <utility>

namespace mx {
namespace {

constexpr std::array<std::pair<LogLevel, std::string_view>, 4> kNames = {{
    {LogLevel::Debug, "debug"},
    {LogLevel::Info, "info"},
    {LogLevel::Warn, "warn"},
    {LogLevel::Error, "error"},
}};

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (const auto& [level, name] : kNames) {
    if (name == text) return level;
  }
  return std::nullopt;
}

std::string_view to_string(LogLevel level) {
  for (const auto& [candidate, name] : kNames) {
    if (candidate == level) return name;
  }
  return "?";
}

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::Text;
  if (text == "json") return LogFormat::Json;
  return std::nullopt;
}

std::string_view to_string(LogFormat format) {
  return format == LogFormat::Json ? "json" : "text";
}

}  // namespace mx
