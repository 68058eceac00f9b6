// [[server]] pin / pins: one pin, or several for a certificate rotation
// (docs/rotation.md).
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/client_config.h"

namespace mx {
namespace {

using namespace config_test;

constexpr std::string_view kOld = "fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=";
constexpr std::string_view kNew = "ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=";
const std::string kPinLine = R"(pin = "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=")";

const std::string kConfig = kClientHead + R"(
[socks5]
listen = ["127.0.0.1:1080"]
)";

std::string with_pins(std::string_view replacement) {
  return edit_text(kConfig, kPinLine, replacement);
}

TEST(ClientConfigPins, OnePinIsAListOfOne) {
  auto result = parse_client(kConfig);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->servers[0].pins, std::vector{key32(kOld)});
}

TEST(ClientConfigPins, PinsListsEveryPinInOrder) {
  auto result = parse_client(with_pins(
      R"(pins = ["sha256/ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=", "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI="])"));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->servers[0].pins, (std::vector{key32(kNew), key32(kOld)}));
}

TEST(ClientConfigPins, PinAndPinsTogetherAreRefused) {
  EXPECT_EQ(client_errors(with_pins(kPinLine + R"(
pins = ["sha256/ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="])")),
            (Errors{"client.toml: server[0]: give either pin or pins, not both"}));
}

TEST(ClientConfigPins, PinsAndCaTogetherAreRefused) {
  EXPECT_EQ(client_errors(with_pins(R"(ca = "ca.pem"
pins = ["sha256/ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="])")),
            (Errors{"client.toml: server[0]: give either pins or ca, not both"}));
}

TEST(ClientConfigPins, AnEmptyOrRepeatingListIsRefused) {
  EXPECT_EQ(client_errors(with_pins("pins = []")),
            (Errors{"client.toml: server[0].pins: must list at least one entry"}));
  EXPECT_EQ(
      client_errors(with_pins(
          R"(pins = ["sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=", "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI="])")),
      (Errors{"client.toml: server[0].pins[1]: repeats server[0].pins[0]"}));
}

TEST(ClientConfigPins, EachBadPinIsReportedWithItsIndex) {
  EXPECT_EQ(
      client_errors(with_pins(
          R"(pins = ["sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=", "ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="])")),
      (Errors{
          R"(client.toml: server[0].pins[1]: expected "sha256/" followed by the base64 SPKI SHA-256 of the server key, got "ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=")"}));
  EXPECT_EQ(
      client_errors(with_pins(R"(pins = "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=")")),
      (Errors{"client.toml: server[0].pins: expected an array, got a string"}));
}

}  // namespace
}  // namespace mx
