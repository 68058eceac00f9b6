// Collects every configuration error, each one line: "SOURCE: KEY: WHY".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mx {

class ConfigErrors {
 public:
  explicit ConfigErrors(std::string source_name) : source_name_(std::move(source_name)) {}

  // "SOURCE: KEY: WHY"; a KEY of "" gives "SOURCE: WHY".
  void add(std::string_view key, std::string_view why);
  // "SOURCE:LINE:COLUMN: WHY", for TOML syntax errors.
  void add_at(uint32_t line, uint32_t column, std::string_view why);

  bool empty() const { return lines_.empty(); }
  const std::vector<std::string>& lines() const { return lines_; }
  std::vector<std::string> take() && { return std::move(lines_); }

 private:
  std::string source_name_;
  std::vector<std::string> lines_;
};

// `text` in double quotes with control characters, quotes and backslashes
// escaped, so any value can be shown on one log line; cut after 100 bytes.
std::string quote(std::string_view text);

}  // namespace mx
