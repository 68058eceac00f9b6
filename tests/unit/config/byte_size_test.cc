#include "mxegress/config/byte_size.h"

#include <gtest/gtest.h>

#include <limits>

namespace mx {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(ByteSize, ParsesEachUnit) {
  const std::pair<std::string_view, uint64_t> table[] = {
      {"0B", 0},
      {"1B", 1},
      {"1kB", 1'000},
      {"1KB", 1'000},
      {"1MB", 1'000'000},
      {"1GB", 1'000'000'000},
      {"1TB", 1'000'000'000'000},
      {"1KiB", 1024},
      {"1MiB", 1024 * 1024},
      {"1GiB", 1024ull * 1024 * 1024},
      {"1TiB", 1024ull * 1024 * 1024 * 1024},
      {"50GiB", 50ull * 1024 * 1024 * 1024},
      {"500MB", 500'000'000},
      {"0TiB", 0},
      {"007kB", 7'000},
      {"18446744073709551615B", kMax},
      {"16777215TiB", 16777215ull << 40},
      {"18446744073709551kB", 18446744073709551000ull},
      {"18446744073GB", 18446744073000000000ull},
      {"17179869183GiB", 17179869183ull << 30},
  };
  for (const auto& [text, bytes] : table) {
    bool too_large = true;
    EXPECT_EQ(parse_byte_size(text, &too_large), bytes) << text;
    EXPECT_FALSE(too_large) << text;
  }
}

TEST(ByteSize, RejectsAnythingElse) {
  for (const char* text :
       {"",       "B",   "GiB",  "50",   "-1B",    "+1B",  "1.5GiB", " 1B",   "1B ",
        "50 GiB", "1b",  "1kb",  "1Kb",  "1kiB",   "1KIB", "1gb",    "1G",    "1Gi",
        "1K",     "1PB", "1PiB", "1EiB", "1Bytes", "1e3B", "0x10B",  "1GiB1", "1_000B"}) {
    bool too_large = true;
    EXPECT_FALSE(parse_byte_size(text, &too_large)) << text;
    EXPECT_FALSE(too_large) << text;
  }
}

TEST(ByteSize, RefusesOverflow) {
  for (const char* text :
       {"18446744073709551616B", "16777216TiB", "18446744073709552kB", "18446744073709552KB",
        "18446744074GB", "99999999999999999999999999999B", "17179869184GiB"}) {
    bool too_large = false;
    EXPECT_FALSE(parse_byte_size(text, &too_large)) << text;
    EXPECT_TRUE(too_large) << text;
  }
  EXPECT_FALSE(parse_byte_size("16777216TiB"));  // the flag is optional
}

TEST(ByteSize, FormatsTheExactFormWithTheSmallestNumber) {
  EXPECT_EQ(format_byte_size(0), "0B");
  EXPECT_EQ(format_byte_size(1), "1B");
  EXPECT_EQ(format_byte_size(1023), "1023B");
  EXPECT_EQ(format_byte_size(1000), "1kB");
  EXPECT_EQ(format_byte_size(1024), "1KiB");
  EXPECT_EQ(format_byte_size(1536), "1536B");  // 1.5KiB: no exact unit above B
  EXPECT_EQ(format_byte_size(50ull << 30), "50GiB");
  EXPECT_EQ(format_byte_size(50'000'000'000), "50GB");
  EXPECT_EQ(format_byte_size(1ull << 40), "1TiB");
  EXPECT_EQ(format_byte_size(2'000'000'000'000), "2TB");
  EXPECT_EQ(format_byte_size(kMax), "18446744073709551615B");
}

TEST(ByteSize, FormatRoundTrips) {
  const uint64_t sizes[] = {0,    1,         999,         1000,       1024,
                            4096, 1'500'000, 50ull << 30, 3ull << 40, 7'000'000'000'000,
                            kMax, kMax - 1};
  for (const uint64_t bytes : sizes) {
    EXPECT_EQ(parse_byte_size(format_byte_size(bytes)), bytes) << bytes;
  }
}

}  // namespace
}  // namespace mx
