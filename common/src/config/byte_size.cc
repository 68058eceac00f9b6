#include "mxegress/config/byte_size.h"

#include <array>
#include <limits>
#include <utility>

namespace mx {
namespace {

constexpr uint64_t kKilo = 1000;
constexpr uint64_t kKibi = 1024;

// "B" is found last by format_byte_size, so any exact larger unit wins.
constexpr std::array<std::pair<std::string_view, uint64_t>, 10> kUnits = {{
    {"TiB", kKibi* kKibi* kKibi* kKibi},
    {"TB", kKilo* kKilo* kKilo* kKilo},
    {"GiB", kKibi* kKibi* kKibi},
    {"GB", kKilo* kKilo* kKilo},
    {"MiB", kKibi* kKibi},
    {"MB", kKilo* kKilo},
    {"KiB", kKibi},
    {"kB", kKilo},
    {"KB", kKilo},
    {"B", 1},
}};

std::optional<uint64_t> unit_bytes(std::string_view unit) {
  for (const auto& [name, bytes] : kUnits) {
    if (name == unit) return bytes;
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_byte_size(std::string_view text, bool* too_large) {
  if (too_large != nullptr) *too_large = false;
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  const auto unit = unit_bytes(text.substr(digits));
  if (!unit) return std::nullopt;

  const uint64_t limit = std::numeric_limits<uint64_t>::max() / *unit;
  uint64_t count = 0;
  for (const char c : text.substr(0, digits)) {
    const auto digit = static_cast<uint64_t>(c - '0');
    if (count > (limit - digit) / 10) {
      if (too_large != nullptr) *too_large = true;
      return std::nullopt;
    }
    count = count * 10 + digit;
  }
  return count * *unit;
}

std::string format_byte_size(uint64_t bytes) {
  std::string_view best_unit = "B";
  uint64_t best_count = bytes;
  for (const auto& [name, size] : kUnits) {
    if (name == "KB") continue;  // "kB" says the same
    if (bytes != 0 && bytes % size == 0 && bytes / size < best_count) {
      best_unit = name;
      best_count = bytes / size;
    }
  }
  return std::to_string(best_count) + std::string(best_unit);
}

}  // namespace mx
