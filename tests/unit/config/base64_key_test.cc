#include "mxegress/config/base64_key.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

constexpr std::string_view kKey = "ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=";

std::string why_refused(std::string_view text) {
  std::string why;
  EXPECT_FALSE(decode_base64_key32(text, why)) << text;
  return why;
}

TEST(Base64Key, DecodesAndEncodes32Bytes) {
  std::string why;
  const auto key = decode_base64_key32(kKey, why);
  ASSERT_TRUE(key);
  EXPECT_EQ((*key)[0], 0x97);
  EXPECT_EQ((*key)[31], 0xee);
  EXPECT_EQ(encode_base64_key32(*key), kKey);
}

TEST(Base64Key, SaysHowManyBytesAWrongLengthHas) {
  EXPECT_EQ(why_refused("AAAA"), "decodes to 3 bytes, expected 32");
  EXPECT_EQ(why_refused("ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtA=="),
            "decodes to 31 bytes, expected 32");
  EXPECT_EQ(why_refused("ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4AAAA="),
            "decodes to 35 bytes, expected 32");
}

TEST(Base64Key, RejectsOtherAlphabetsAndMissingPadding) {
  const std::string bad = "is not standard base64 (A-Z a-z 0-9 + / with = padding)";
  EXPECT_EQ(why_refused("ly0fJStabs86yFzaCd0dkUOBiB-fpVJs5iMQ3tZXtO4="), bad);  // URL-safe
  EXPECT_EQ(why_refused("ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4"), bad);   // no padding
  EXPECT_EQ(why_refused(" ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="), bad);
  EXPECT_EQ(why_refused("ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=="), bad);
  EXPECT_EQ(why_refused("ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=x"), bad);
  EXPECT_EQ(why_refused(""), "is empty");
}

}  // namespace
}  // namespace mx
