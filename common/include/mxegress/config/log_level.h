#pragma once

#include <optional>
#include <string_view>

namespace mx {

enum class LogLevel { Debug, Info, Warn, Error };

// "debug", "info", "warn", "error" (lower case, as written in the config).
std::optional<LogLevel> parse_log_level(std::string_view text);
std::string_view to_string(LogLevel level);

}  // namespace mx
