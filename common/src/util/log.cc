#include "mxegress/util/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "mxegress/util/json_string.h"
#include "mxegress/util/time_format.h"

namespace mx {
namespace {

std::atomic<LogLevel> g_level{LogLevel::Info};
std::atomic<LogFormat> g_format{LogFormat::Text};
std::atomic<bool> g_priority_prefix{false};

// Padded to five columns in text.
const char* level_column(LogLevel level) {
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

bool parse_decimal(std::string_view text, uint64_t& value) {
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

std::string trimmed(std::string_view text) {
  const size_t first = text.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(' ');
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace

void set_log_level(LogLevel level) { g_level = level; }

bool log_enabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

void set_log_format(LogFormat format) { g_format = format; }

LogFormat log_format() { return g_format.load(std::memory_order_relaxed); }

void set_log_priority_prefix(bool on) { g_priority_prefix = on; }

void init_log_output() {
  struct stat st {};
  const bool journal =
      ::fstat(STDERR_FILENO, &st) == 0 &&
      journal_stream_matches(std::getenv("JOURNAL_STREAM"), static_cast<uint64_t>(st.st_dev),
                             static_cast<uint64_t>(st.st_ino));
  set_log_priority_prefix(journal);
}

bool journal_stream_matches(const char* journal_stream, uint64_t st_dev, uint64_t st_ino) {
  if (journal_stream == nullptr) return false;
  const std::string_view text = journal_stream;
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t dev = 0, ino = 0;
  if (!parse_decimal(text.substr(0, colon), dev) || !parse_decimal(text.substr(colon + 1), ino)) {
    return false;
  }
  return dev == st_dev && ino == st_ino;
}

std::string_view syslog_priority_prefix(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "<7>";
    case LogLevel::Info:
      return "<6>";
    case LogLevel::Warn:
      return "<4>";
    case LogLevel::Error:
      return "<3>";
  }
  return "<6>";
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

std::string format_log_line(LogFormat format, bool priority_prefix, const LogRecord& r) {
  std::string line;
  if (priority_prefix) line += syslog_priority_prefix(r.level);
  if (format == LogFormat::Text) {
    line += r.time;
    line += ' ';
    line += level_column(r.level);
    line += ' ';
    line += r.component;
    line += ": ";
    line += r.text;
  } else {
    line += "{\"time\":";
    append_json_string(line, r.time);
    line += ",\"level\":";
    append_json_string(line, to_string(r.level));
    line += ",\"component\":";
    append_json_string(line, r.component);
    line += ",\"message\":";
    append_json_string(line, r.message);
    for (const LogKv& field : r.fields) {
      line += ',';
      append_json_string(line, field.key);
      line += ':';
      if (field.null) {
        line += "null";
      } else if (field.number) {
        line += field.value;
      } else {
        append_json_string(line, field.value);
      }
    }
    line += '}';
  }
  line += '\n';
  return line;
}

LogLine::LogLine(LogLevel level, std::string_view component) : format_(log_format()) {
  record_.time = rfc3339_ms(std::chrono::system_clock::now());
  record_.level = level;
  record_.component = component;
}

LogLine& LogLine::operator<<(LogKv field) {
  if (field.key.empty()) return *this;  // LogKv{}: a field this line does not have
  if (format_ == LogFormat::Text) {
    if (!field.text) return *this;
    if (static_cast<std::streamoff>(text_.tellp()) > 0) text_ << ' ';
    text_ << field.key << '=' << log_field(field.value);
  } else {
    record_.fields.push_back(std::move(field));
  }
  return *this;
}

LogLine::~LogLine() {
  if (format_ == LogFormat::Text) {
    record_.text = text_.str();
  } else {
    record_.message = trimmed(text_.str());
  }
  const std::string line =
      format_log_line(format_, g_priority_prefix.load(std::memory_order_relaxed), record_);
  // Best effort: a log line that cannot be written has nowhere else to go.
  [[maybe_unused]] ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace mx
