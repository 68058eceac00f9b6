// One line per event on stderr, written with one write(2), so lines from
// threads never interleave.
//
// Text (the default, `log_format = "text"`):
//   2026-11-22T20:30:00.123Z warn  tunnel: auth failed peer=192.0.2.7:40112 reason="unknown key"
// JSON (`log_format = "json"`), one object per line:
//   {"time":"2026-11-22T20:30:00.123Z","level":"warn","component":"tunnel",
//    "message":"auth failed","peer":"192.0.2.7:40112","reason":"unknown key"}
//
// Usage:
//   MX_LOG(Info, "server") << "listening on " << address;
//   MX_LOG(Warn, "tunnel") << "auth failed" << log_kv("peer", peer) << log_kv("reason", why);
// A log_kv field is ` key=value` in text (value quoted as log_field quotes
// it; no leading space at the start of the line) and a member of the object
// in JSON (integers as JSON numbers, an empty std::optional as "-" in text
// and null in JSON, everything else as strings). Everything else streamed is
// the message (in JSON without the spaces at its ends). log_json_kv adds a
// field to JSON lines only, where the text line has always been without it.
//
// Under systemd (stderr is the journal: JOURNAL_STREAM names stderr's
// device and inode), each line starts with its syslog priority, "<4>" for
// warn and so on (sd-daemon(3)), which journald strips and keeps as the
// entry's priority.
#pragma once

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mxegress/config/log_level.h"

namespace mx {

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void set_log_format(LogFormat format);
LogFormat log_format();

// Whether lines get their "<N>" priority prefix; decided once at start by
// init_log_output().
void set_log_priority_prefix(bool on);
// Reads JOURNAL_STREAM and fstat(2)s stderr: the prefix is on when they match.
void init_log_output();
// Pure: JOURNAL_STREAM's value ("DEV:INODE", decimal; null when unset)
// names the file whose st_dev and st_ino are given.
bool journal_stream_matches(const char* journal_stream, uint64_t st_dev, uint64_t st_ino);
// "<7>" debug, "<6>" info, "<4>" warn, "<3>" error.
std::string_view syslog_priority_prefix(LogLevel level);

// Quotes a value for a key=value log field when it has spaces, quotes or
// '=' or is empty; control characters become '?'.
std::string log_field(std::string_view value);

// One structured field of a log line (see log_kv).
struct LogKv {
  std::string key;  // empty (LogKv{}): adds nothing, for a field only some lines have
  std::string value;
  bool number = false;  // an integer: a JSON number, not a string
  bool null = false;    // no value: "-" in text, null in JSON
  bool text = true;     // false: in JSON lines only
};

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <typename T>
LogKv log_kv(std::string_view key, const T& value) {
  LogKv field;
  field.key = key;
  if constexpr (IsOptional<T>::value) {
    if (value) return log_kv(key, *value);
    field.value = "-";
    field.null = true;
  } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                       !std::is_same_v<T, char>) {
    field.value = std::to_string(value);
    field.number = true;
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    field.value = std::string_view(value);
  } else {
    std::ostringstream text;
    text << value;
    field.value = text.str();
  }
  return field;
}

template <typename T>
LogKv log_json_kv(std::string_view key, const T& value) {
  LogKv field = log_kv(key, value);
  field.text = false;
  return field;
}

// The parts of one line, rendered by format_log_line (pure, for tests).
struct LogRecord {
  std::string time;  // RFC 3339, milliseconds, UTC
  LogLevel level = LogLevel::Info;
  std::string_view component;
  std::string text;  // text format: the whole body, fields included
  std::string message;              // JSON format: the body without the fields
  std::vector<LogKv> fields;        // JSON format
};
// The line with its '\n', and its "<N>" prefix when `priority_prefix`.
std::string format_log_line(LogFormat format, bool priority_prefix, const LogRecord& record);

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
  LogLine& operator<<(LogKv field);

 private:
  LogFormat format_;
  LogRecord record_;
  std::ostringstream text_;
};

}  // namespace mx

// A for statement rather than if/else: safe as the body of an unbraced if.
#define MX_LOG(level, component)                                                   \
  for (bool mx_log_once = ::mx::log_enabled(::mx::LogLevel::level); mx_log_once; \
       mx_log_once = false)                                                        \
  ::mx::LogLine(::mx::LogLevel::level, component)
