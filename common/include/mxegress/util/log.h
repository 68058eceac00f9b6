// One line per event on stderr: "2026-11-22T20:30:00.123Z info  server: text".
// Usage: MX_LOG(Info, "server") << "listening on " << address;
// The line is written with one write(2), so lines from threads never interleave.
#pragma once

#include <sstream>
#include <string_view>

#include "mxegress/config/log_level.h"

namespace mx {

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);

class LogLine {
 public:
  LogLine(LogLevel level, std::string_view component);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <typename T>
  LogLine& operator<<(const T& value) {
    text_ << value;
    return *this;
  }

 private:
  std::ostringstream text_;
};

// Quotes a value for a key=value log field when it has spaces or quotes.
std::string log_field(std::string_view value);

}  // namespace mx

// A for statement rather than if/else: safe as the body of an unbraced if.
#define MX_LOG(level, component)                                                   \
  for (bool mx_log_once = ::mx::log_enabled(::mx::LogLevel::level); mx_log_once; \
       mx_log_once = false)                                                        \
  ::mx::LogLine(::mx::LogLevel::level, component)
