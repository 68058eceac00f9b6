// Durations as the configuration writes them: a whole number and one unit,
// "500ms", "30s", "10m", "1h", "1d".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mx {

// nullopt unless `text` is digits followed by ms, s, m, h or d, and the
// result fits in std::chrono::milliseconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact form: 1500ms -> "1500ms", 60000ms -> "1m".
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace mx
