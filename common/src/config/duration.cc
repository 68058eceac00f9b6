#include "mxegress/config/duration.h"

#include <array>
#include <cstdint>
#include <limits>
#include <utility>

namespace mx {
namespace {

// Largest unit first, for format_duration.
constexpr std::array<std::pair<std::string_view, int64_t>, 5> kUnits = {{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

std::optional<int64_t> unit_milliseconds(std::string_view unit) {
  for (const auto& [name, milliseconds] : kUnits) {
    if (name == unit) return milliseconds;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  const auto unit = unit_milliseconds(text.substr(digits));
  if (!unit) return std::nullopt;

  const int64_t limit = std::numeric_limits<int64_t>::max() / *unit;
  int64_t count = 0;
  for (char c : text.substr(0, digits)) {
    const int digit = c - '0';
    if (count > (limit - digit) / 10) return std::nullopt;
    count = count * 10 + digit;
  }
  return std::chrono::milliseconds(count * *unit);
}

std::string format_duration(std::chrono::milliseconds duration) {
  const int64_t milliseconds = duration.count();
  for (const auto& [name, size] : kUnits) {
    if (milliseconds != 0 && milliseconds % size == 0) {
      return std::to_string(milliseconds / size) + std::string(name);
    }
  }
  return std::to_string(milliseconds) + "ms";
}

}  // namespace mx
