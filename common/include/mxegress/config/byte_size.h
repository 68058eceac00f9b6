// Byte sizes as the configuration writes them: an integer number of bytes, or
// a string of digits and one unit, "50GiB", "500MB", "1TB".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mx {

// The units a byte size string may carry, for error messages.
inline constexpr std::string_view kByteSizeUnits =
    "B, kB or KB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024)";

// nullopt unless `text` is digits followed by exactly one of B, kB, KB, MB, GB,
// TB, KiB, MiB, GiB, TiB (no sign, fraction or space) and the result fits in
// 64 bits. When the form is right but the value does not fit, `*too_large` is
// set (if given).
std::optional<uint64_t> parse_byte_size(std::string_view text, bool* too_large = nullptr);

// The exact form with the smallest number: 50 * 2^30 -> "50GiB",
// 5 * 10^10 -> "50GB", 1000 -> "1kB", 1023 -> "1023B", 0 -> "0B".
// parse_byte_size(format_byte_size(n)) == n for every n.
std::string format_byte_size(uint64_t bytes);

}  // namespace mx
