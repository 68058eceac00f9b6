#include "mxegress/util/log.h"

#include "mxegress/util/time_format.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

namespace mx {
namespace {

std::atomic<LogLevel> g_level{LogLevel::Info};

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info ";
    case LogLevel::Warn:
      return "warn ";
    case LogLevel::Error:
      return "error";
  }
  return "?";
}

}  // namespace

void set_log_level(LogLevel level) { g_level = level; }

bool log_enabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

LogLine::LogLine(LogLevel level, std::string_view component) {
  text_ << rfc3339_ms(std::chrono::system_clock::now()) << ' ' << level_name(level) << ' ' << component << ": ";
}

LogLine::~LogLine() {
  text_ << '\n';
  const std::string line = text_.str();
  // Best effort: a log line that cannot be written has nowhere else to go.
  [[maybe_unused]] ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
}

std::string log_field(std::string_view value) {
  if (value.find_first_of(" \"=") == std::string_view::npos && !value.empty()) {
    return std::string(value);
  }
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  out += '"';
  return out;
}

}  // namespace mx
