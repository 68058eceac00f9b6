#include "mxegress/config/client_config.h"

#include <gtest/gtest.h>

#include "config_test_support.h"

namespace mx {
namespace {

using namespace config_test;
using std::chrono::milliseconds;

constexpr std::string_view kPin = "fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=";
constexpr std::string_view kHash =
    "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/"
    "UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q";

const std::string kMinimal = kClientHead + R"(
[socks5]
listen = ["127.0.0.1:1080"]
)";

// kMinimal with the first occurrence of `from` replaced by `to`.
std::string edit(std::string_view from, std::string_view to) {
  return edit_text(kMinimal, from, to);
}

constexpr auto& parse = parse_client;
constexpr auto& errors = client_errors;

TEST(ClientConfig, MinimalConfigGetsDefaults) {
  auto result = parse(kMinimal);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ClientConfig& config = *result.config;
  EXPECT_EQ(config.client.key_file, "/etc/mxegress/client.key");
  EXPECT_EQ(config.client.log_level, LogLevel::Info);
  EXPECT_EQ(config.client.handshake_timeout, milliseconds(10'000));
  EXPECT_EQ(config.client.idle_timeout, milliseconds(600'000));
  ASSERT_EQ(config.servers.size(), 1u);
  EXPECT_EQ(config.servers[0].address, (HostPort{"egress.example.net", 8443}));
  EXPECT_EQ(config.servers[0].pins, std::vector{key32(kPin)});
  EXPECT_FALSE(config.servers[0].ca_file);
  EXPECT_EQ(config.servers[0].server_name, "egress.example.net");
  EXPECT_EQ(config.socks5.listen, (std::vector{*SocketAddress::parse("127.0.0.1:1080")}));
  EXPECT_TRUE(config.socks5.users.empty());
}

TEST(ClientConfig, FullConfigParsesToExactValues) {
  auto result = parse(R"(
[client]
key = "/var/lib/mxegress/client.key"
log_level = "debug"
handshake_timeout = "2500ms"
idle_timeout = "1h"

[[server]]
address = "[2001:db8::7]:443"
pin = "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI="
server_name = "egress.example.net"

[[server]]
address = "203.0.113.7:8443"
ca = "pki/ca.pem"

[socks5]
listen = ["127.0.0.1:1080", "[::1]:1080"]

[[socks5.user]]
name = "gw"
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q"

[[socks5.user]]
name = "backup gateway"
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q"
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ClientConfig& config = *result.config;
  EXPECT_EQ(config.client.key_file, "/var/lib/mxegress/client.key");
  EXPECT_EQ(config.client.log_level, LogLevel::Debug);
  EXPECT_EQ(config.client.handshake_timeout, milliseconds(2500));
  EXPECT_EQ(config.client.idle_timeout, milliseconds(3'600'000));

  ASSERT_EQ(config.servers.size(), 2u);
  EXPECT_EQ(config.servers[0].address, (HostPort{"2001:db8::7", 443}));
  EXPECT_EQ(config.servers[0].pins, std::vector{key32(kPin)});
  EXPECT_EQ(config.servers[0].server_name, "egress.example.net");
  EXPECT_EQ(config.servers[1].address, (HostPort{"203.0.113.7", 8443}));
  EXPECT_TRUE(config.servers[1].pins.empty());
  EXPECT_EQ(config.servers[1].ca_file, "/etc/mxegress/pki/ca.pem");
  EXPECT_EQ(config.servers[1].server_name, "203.0.113.7");

  EXPECT_EQ(config.socks5.listen, (std::vector{*SocketAddress::parse("127.0.0.1:1080"),
                                               *SocketAddress::parse("[::1]:1080")}));
  ASSERT_EQ(config.socks5.users.size(), 2u);
  EXPECT_EQ(config.socks5.users[0].name, "gw");
  EXPECT_EQ(config.socks5.users[0].password_hash, kHash);
  EXPECT_EQ(config.socks5.users[1].name, "backup gateway");
}

TEST(ClientConfig, RejectsUnknownKeysInEverySection) {
  EXPECT_EQ(errors(R"(
colour = "blue"
[client]
key = "client.key"
kye = "x"
[[server]]
address = "egress.example.net:8443"
pin = "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI="
pinn = "x"
[socks5]
lisen = ["127.0.0.1:1080"]
listen = ["127.0.0.1:1080"]
[[socks5.user]]
name = "gw"
password = "secret"
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q"
)"),
            (Errors{
                R"(client.toml: client.kye: unknown key (did you mean "key"?))",
                R"(client.toml: server[0].pinn: unknown key (did you mean "pin"?))",
                "client.toml: socks5.user[0].password: unknown key",
                R"(client.toml: socks5.lisen: unknown key (did you mean "listen"?))",
                "client.toml: colour: unknown key",
            }));
}

TEST(ClientConfig, ReportsMissingRequiredKeys) {
  EXPECT_EQ(errors(""), (Errors{
                            "client.toml: client.key: required key is missing",
                            "client.toml: server: at least one [[server]] section is required",
                            "client.toml: at least one of [socks5], [transparent] or [[forward]] "
                            "is required: nothing would accept connections",
                        }));
  EXPECT_EQ(errors(edit(R"(address = "egress.example.net:8443")", "")),
            (Errors{"client.toml: server[0].address: required key is missing"}));
  EXPECT_EQ(errors(edit(R"(listen = ["127.0.0.1:1080"])", "listen = []")),
            (Errors{"client.toml: socks5.listen: must list at least one entry"}));
  EXPECT_EQ(errors(kMinimal + "[[socks5.user]]\n"),
            (Errors{
                "client.toml: socks5.user[0].name: required key is missing",
                "client.toml: socks5.user[0].password_hash: required key is missing",
            }));
}

TEST(ClientConfig, ReportsWrongTypes) {
  EXPECT_EQ(errors(edit(R"(key = "client.key")", "key = 5")),
            (Errors{"client.toml: client.key: expected a string, got an integer"}));
  EXPECT_EQ(errors(edit(R"(listen = ["127.0.0.1:1080"])", R"(listen = "127.0.0.1:1080")")),
            (Errors{"client.toml: socks5.listen: expected an array, got a string"}));
  EXPECT_EQ(errors(edit("[[server]]", "[server]")),
            (Errors{"client.toml: server: expected an array of tables ([[server]]), got a table"}));
  EXPECT_EQ(errors(edit("[client]", "client = 1\n[other]")),
            (Errors{
                "client.toml: client: expected a table, got an integer",
                "client.toml: other: unknown key",
            }));
  EXPECT_EQ(errors(edit(R"(key = "client.key")", R"(key = "")")),
            (Errors{"client.toml: client.key: must not be empty"}));
}

TEST(ClientConfig, ReportsBadAddresses) {
  EXPECT_EQ(
      errors(edit(R"(listen = ["127.0.0.1:1080"])",
                  R"(listen = ["127.0.0.1", "localhost:1080", "::1:1080", "127.0.0.1:99999"])")),
      (Errors{
          R"(client.toml: socks5.listen[0]: "127.0.0.1" is not IP:port (expected e.g. 0.0.0.0:8443 or [::]:8443))",
          R"(client.toml: socks5.listen[1]: "localhost:1080" names a host; only IP addresses are allowed here (e.g. 0.0.0.0:8443))",
          R"(client.toml: socks5.listen[2]: "::1:1080" is not IP:port (expected e.g. 0.0.0.0:8443 or [::]:8443))",
          R"(client.toml: socks5.listen[3]: "127.0.0.1:99999" is not IP:port (expected e.g. 0.0.0.0:8443 or [::]:8443))",
      }));
  EXPECT_EQ(
      errors(edit("egress.example.net:8443", "egress.example.net")),
      (Errors{
          R"(client.toml: server[0].address: "egress.example.net" is not host:port (expected e.g. egress.example.net:8443))"}));
  EXPECT_EQ(
      errors(edit("egress.example.net:8443", "egress.example.net:0")),
      (Errors{R"(client.toml: server[0].address: "egress.example.net:0": port 0 is not allowed)"}));
  EXPECT_EQ(errors(edit(R"(listen = ["127.0.0.1:1080"])",
                        R"(listen = ["127.0.0.1:1080", "[::1]:1080", "127.0.0.1:1080"])")),
            (Errors{"client.toml: socks5.listen[2]: repeats socks5.listen[0]"}));
}

TEST(ClientConfig, ReportsBadDurationsAndLogLevels) {
  EXPECT_EQ(
      errors(edit(R"(key = "client.key")", R"(key = "client.key"
handshake_timeout = "10"
idle_timeout = 600
log_level = "verbose")")),
      (Errors{
          R"(client.toml: client.log_level: expected one of "debug", "info", "warn", "error", got "verbose")",
          R"(client.toml: client.handshake_timeout: expected a duration like "30s", "10m", "1h", "500ms", got "10")",
          R"(client.toml: client.idle_timeout: expected a duration string with a unit, like "600s" (units: ms, s, m, h, d), got the bare integer 600)",
      }));
  EXPECT_EQ(errors(edit(R"(key = "client.key")", R"(key = "client.key"
idle_timeout = "0s")")),
            (Errors{"client.toml: client.idle_timeout: must be greater than zero"}));
}

TEST(ClientConfig, ServerNeedsExactlyOneOfPinAndCa) {
  EXPECT_EQ(errors(edit("pin = ", R"(ca = "ca.pem"
pin = )")),
            (Errors{"client.toml: server[0]: give either pin or ca, not both"}));
  EXPECT_EQ(
      errors(edit(R"(pin = "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=")", "")),
      (Errors{
          R"(client.toml: server[0]: pin, pins or ca is required (pin = "sha256/..." for a self-signed server, ca = "FILE" for a CA-signed one))"}));
}

TEST(ClientConfig, ReportsBadPins) {
  EXPECT_EQ(
      errors(edit("sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=",
                  "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0g==")),
      (Errors{
          R"(client.toml: server[0].pin: the base64 after "sha256/" decodes to 31 bytes, expected 32)"}));
  EXPECT_EQ(
      errors(edit("sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=",
                  "fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=")),
      (Errors{
          R"(client.toml: server[0].pin: expected "sha256/" followed by the base64 SPKI SHA-256 of the server key, got "fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=")"}));
  EXPECT_EQ(
      errors(edit("sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI=",
                  "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI")),
      (Errors{
          R"(client.toml: server[0].pin: the base64 after "sha256/" is not standard base64 (A-Z a-z 0-9 + / with = padding))"}));
}

TEST(ClientConfig, ReportsBadSocks5Users) {
  const std::string users = kMinimal + R"(
[[socks5.user]]
name = "gw"
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q"
[[socks5.user]]
name = "gw"
password_hash = "$2b$10$abcdefghijklmnopqrstuv"
[[socks5.user]]
name = ")" + std::string(256, 'u') +
                            R"("
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q"
)";
  EXPECT_EQ(
      errors(users),
      (Errors{
          R"(client.toml: socks5.user[1].password_hash: expected an Argon2id hash (a string starting with "$argon2id$"))",
          R"(client.toml: socks5.user[1].name: "gw" is already used by socks5.user[0])",
          "client.toml: socks5.user[2].name: is longer than 255 bytes, the RFC 1929 limit",
      }));
}

TEST(ClientConfig, CollectsEveryError) {
  EXPECT_EQ(
      errors(R"(
[client]
log_level = 1
[[server]]
address = "x"
[[server]]
address = "y:1"
ca = "ca.pem"
pin = "sha256/AAAA"
[socks5]
listen = ["nope"]
)"),
      (Errors{
          "client.toml: client.key: required key is missing",
          "client.toml: client.log_level: expected a string, got an integer",
          R"(client.toml: server[0].address: "x" is not host:port (expected e.g. egress.example.net:8443))",
          R"(client.toml: server[0]: pin, pins or ca is required (pin = "sha256/..." for a self-signed server, ca = "FILE" for a CA-signed one))",
          R"(client.toml: server[1].pin: the base64 after "sha256/" decodes to 3 bytes, expected 32)",
          "client.toml: server[1]: give either pin or ca, not both",
          R"(client.toml: socks5.listen[0]: "nope" is not IP:port (expected e.g. 0.0.0.0:8443 or [::]:8443))",
      }));
}

TEST(ClientConfig, ReportsSyntaxErrorsWithPosition) {
  const Errors found = errors("[client]\nkey = \"client.key\n");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].starts_with("client.toml:2:")) << found[0];
}

}  // namespace
}  // namespace mx
