#pragma once

#include <optional>
#include <string_view>

namespace mx {

enum class LogLevel { Debug, Info, Warn, Error };

// "debug", "info", "warn", "error" (lower case, as written in the config).
std::optional<LogLevel> parse_log_level(std::string_view text);
std::string_view to_string(LogLevel level);

// How log lines look: readable text (the default) or one JSON object per line.
enum class LogFormat { Text, Json };

// "text", "json" (as written in the config).
std::optional<LogFormat> parse_log_format(std::string_view text);
std::string_view to_string(LogFormat format);

}  // namespace mx
