#include "mxegress/config/config_errors.h"

#include <cstdio>

namespace mx {

void ConfigErrors::add(std::string_view key, std::string_view why) {
  std::string line = source_name_ + ": ";
  if (!key.empty()) line.append(key).append(": ");
  line.append(why);
  lines_.push_back(std::move(line));
}

void ConfigErrors::add_at(uint32_t line, uint32_t column, std::string_view why) {
  lines_.push_back(source_name_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                   std::string(why));
}

std::string quote(std::string_view text) {
  constexpr size_t kShown = 100;
  std::string out = "\"";
  for (const char c : text.substr(0, kShown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20 || byte == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\x%02x", byte);
      out.append(escape);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  if (text.size() > kShown) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace mx
