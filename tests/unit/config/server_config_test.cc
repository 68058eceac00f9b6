#include "mxegress/config/server_config.h"

#include <gtest/gtest.h>

#include "config_test_support.h"

namespace mx {
namespace {

using namespace config_test;
using std::chrono::milliseconds;

constexpr std::string_view kKeyA = "ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=";
constexpr std::string_view kKeyB = "hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg=";

const std::string kMinimal = kServerHead + kAcmeTenant;

std::string edit(std::string_view from, std::string_view to) {
  return edit_text(kMinimal, from, to);
}

constexpr auto& parse = parse_server;
constexpr auto& errors = server_errors;

TEST(ServerConfig, MinimalConfigGetsDefaults) {
  auto result = parse(kMinimal);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig& config = *result.config;
  EXPECT_EQ(config.server.listen, (std::vector{*SocketAddress::parse("0.0.0.0:8443")}));
  EXPECT_EQ(config.server.cert_file, "/etc/mxegress/server.crt");
  EXPECT_EQ(config.server.key_file, "/etc/mxegress/server.key");
  EXPECT_EQ(config.server.log_level, LogLevel::Info);
  EXPECT_EQ(config.server.handshake_timeout, milliseconds(10'000));
  EXPECT_EQ(config.server.connect_timeout, milliseconds(30'000));
  EXPECT_EQ(config.server.idle_timeout, milliseconds(600'000));
  EXPECT_EQ(config.policy.ports, (std::vector<uint16_t>{25}));
  EXPECT_TRUE(config.policy.allow.empty());
  EXPECT_TRUE(config.policy.deny.empty());
  ASSERT_EQ(config.tenants.size(), 1u);
  EXPECT_EQ(config.tenants[0].name, "acme");
  EXPECT_EQ(config.tenants[0].keys, (std::vector{key32(kKeyA)}));
}

TEST(ServerConfig, FullConfigParsesToExactValues) {
  auto result = parse(R"(
[server]
listen = ["0.0.0.0:8443", "[::]:8443"]
cert = "/etc/ssl/egress.crt"
key = "private/egress.key"
log_level = "warn"
handshake_timeout = "5s"
connect_timeout = "1m"
idle_timeout = "1d"

[policy]
ports = [25, 465, 587]
allow = ["127.0.0.0/8", "fd00::/8"]
deny = ["192.0.2.1", "2001:db8::/32"]

[[tenant]]
name = "acme"
source = "any"
keys = ["ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=", "hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg="]

[[tenant]]
name = "mail.example-org_2"
source = "any"
keys = ["z9JLR1HE7L7ZLesNyAuf59RyYWIevQnYK2VMIfv95XY="]
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig& config = *result.config;
  EXPECT_EQ(config.server.listen, (std::vector{*SocketAddress::parse("0.0.0.0:8443"),
                                               *SocketAddress::parse("[::]:8443")}));
  EXPECT_EQ(config.server.cert_file, "/etc/ssl/egress.crt");
  EXPECT_EQ(config.server.key_file, "/etc/mxegress/private/egress.key");
  EXPECT_EQ(config.server.log_level, LogLevel::Warn);
  EXPECT_EQ(config.server.handshake_timeout, milliseconds(5'000));
  EXPECT_EQ(config.server.connect_timeout, milliseconds(60'000));
  EXPECT_EQ(config.server.idle_timeout, milliseconds(86'400'000));
  EXPECT_EQ(config.policy.ports, (std::vector<uint16_t>{25, 465, 587}));
  EXPECT_EQ(config.policy.allow, cidrs({"127.0.0.0/8", "fd00::/8"}));
  EXPECT_EQ(config.policy.deny, cidrs({"192.0.2.1/32", "2001:db8::/32"}));
  ASSERT_EQ(config.tenants.size(), 2u);
  EXPECT_EQ(config.tenants[0].name, "acme");
  EXPECT_EQ(config.tenants[0].keys, (std::vector{key32(kKeyA), key32(kKeyB)}));
  EXPECT_EQ(config.tenants[1].name, "mail.example-org_2");
  EXPECT_EQ(config.tenants[1].keys,
            (std::vector{key32("z9JLR1HE7L7ZLesNyAuf59RyYWIevQnYK2VMIfv95XY=")}));
}

TEST(ServerConfig, RejectsUnknownKeysInEverySection) {
  EXPECT_EQ(
      errors(edit(R"(key = "server.key")", R"(key = "server.key"
conect_timeout = "5s"
[policy]
port = [25]
[limits]
[[tenant]]
name = "other"
source = "any"
keys = ["hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg="]
key = "x")")),
      (Errors{
          R"(server.toml: server.conect_timeout: unknown key (did you mean "connect_timeout"?))",
          R"(server.toml: policy.port: unknown key (did you mean "ports"?))",
          R"(server.toml: tenant[0].key: unknown key (did you mean "keys"?))",
          "server.toml: limits: unknown key",
      }));
}

TEST(ServerConfig, ReportsMissingRequiredKeys) {
  EXPECT_EQ(errors(""), (Errors{
                            "server.toml: server.listen: required key is missing",
                            "server.toml: server.cert: required key is missing",
                            "server.toml: server.key: required key is missing",
                            "server.toml: tenant: at least one [[tenant]] section is required",
                        }));
  EXPECT_EQ(errors(edit(R"(keys = ["ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="])", "")),
            (Errors{"server.toml: tenant[0].keys: required key is missing"}));
  EXPECT_EQ(errors(edit(R"(keys = ["ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="])", "keys = []")),
            (Errors{"server.toml: tenant[0].keys: must list at least one entry"}));
  EXPECT_EQ(errors(edit(R"(name = "acme")", "")),
            (Errors{"server.toml: tenant[0].name: required key is missing"}));
}

TEST(ServerConfig, ReportsBadListenAddresses) {
  EXPECT_EQ(
      errors(edit(R"(listen = ["0.0.0.0:8443"])",
                  R"(listen = ["0.0.0.0", 8443, "[::]:8443", "[::]:8443"])")),
      (Errors{
          R"(server.toml: server.listen[0]: "0.0.0.0" is not IP:port (expected e.g. 0.0.0.0:8443 or [::]:8443))",
          "server.toml: server.listen[1]: expected a string, got an integer",
      }));
  EXPECT_EQ(errors(edit(R"(listen = ["0.0.0.0:8443"])", R"(listen = ["[::]:8443", "[::]:8443"])")),
            (Errors{"server.toml: server.listen[1]: repeats server.listen[0]"}));
}

TEST(ServerConfig, ReportsBadDurations) {
  EXPECT_EQ(
      errors(edit(R"(key = "server.key")", R"(key = "server.key"
connect_timeout = "30"
handshake_timeout = 10
idle_timeout = "10 m")")),
      (Errors{
          R"(server.toml: server.handshake_timeout: expected a duration string with a unit, like "10s" (units: ms, s, m, h, d), got the bare integer 10)",
          R"(server.toml: server.connect_timeout: expected a duration like "30s", "10m", "1h", "500ms", got "30")",
          R"(server.toml: server.idle_timeout: expected a duration like "30s", "10m", "1h", "500ms", got "10 m")",
      }));
}

TEST(ServerConfig, ReportsBadPolicy) {
  EXPECT_EQ(
      errors(kMinimal + R"(
[policy]
ports = [25, 0, 65536, "587"]
allow = ["10.0.0.1/8", "10.0.0.0/33", "mail.example.org"]
deny = "192.0.2.0/24"
)"),
      (Errors{
          "server.toml: policy.ports[1]: expected a port number 1..65535, got 0",
          "server.toml: policy.ports[2]: expected a port number 1..65535, got 65536",
          "server.toml: policy.ports[3]: expected an integer port number, got a string",
          R"(server.toml: policy.allow[0]: "10.0.0.1/8" is not a CIDR (expected e.g. 192.0.2.0/24, 2001:db8::/32 or a single address; the bits after the prefix must be zero))",
          R"(server.toml: policy.allow[1]: "10.0.0.0/33" is not a CIDR (expected e.g. 192.0.2.0/24, 2001:db8::/32 or a single address; the bits after the prefix must be zero))",
          R"(server.toml: policy.allow[2]: "mail.example.org" is not a CIDR (expected e.g. 192.0.2.0/24, 2001:db8::/32 or a single address; the bits after the prefix must be zero))",
          "server.toml: policy.deny: expected an array, got a string",
      }));
}

TEST(ServerConfig, PolicyListsMayBeEmpty) {
  auto result = parse(kMinimal + "[policy]\nports = []\nallow = []\ndeny = []\n");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_TRUE(result.config->policy.ports.empty());
}

TEST(ServerConfig, ReportsBadTenantNames) {
  EXPECT_EQ(
      errors(edit(R"(name = "acme")", R"(name = "acme corp")")),
      (Errors{
          R"(server.toml: tenant[0].name: "acme corp" is not a tenant name (1 to 64 of A-Z a-z 0-9 . _ -))"}));
  EXPECT_EQ(errors(edit(R"(name = "acme")", R"(name = ")" + std::string(65, 'a') + "\"")),
            (Errors{"server.toml: tenant[0].name: \"" + std::string(65, 'a') +
                    "\" is not a tenant name (1 to 64 of A-Z a-z 0-9 . _ -)"}));
  EXPECT_EQ(errors(edit(R"(name = "acme")", R"(name = "")")),
            (Errors{"server.toml: tenant[0].name: must not be empty"}));
  EXPECT_TRUE(parse(edit(R"(name = "acme")", R"(name = ")" + std::string(64, 'a') + "\"")).ok());
}

TEST(ServerConfig, ReportsDuplicateTenantNames) {
  EXPECT_EQ(errors(kMinimal + R"(
[[tenant]]
name = "beta"
source = "any"
keys = ["hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg="]
[[tenant]]
name = "acme"
source = "any"
keys = ["z9JLR1HE7L7ZLesNyAuf59RyYWIevQnYK2VMIfv95XY="]
)"),
            (Errors{R"(server.toml: tenant[2].name: "acme" is already used by tenant[0])"}));
}

TEST(ServerConfig, ReportsKeysListedTwice) {
  EXPECT_EQ(errors(kMinimal + R"(
[[tenant]]
name = "beta"
source = "any"
keys = ["hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg=", "ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4=", "hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg="]
)"),
            (Errors{
                "server.toml: tenant[1].keys[1]: key is already listed at tenant[0].keys[0]",
                "server.toml: tenant[1].keys[2]: key is already listed at tenant[1].keys[0]",
            }));
}

TEST(ServerConfig, ReportsBadKeys) {
  EXPECT_EQ(
      errors(edit(R"(keys = ["ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="])",
                  R"(keys = ["AAAA", "ly0fJStabs86yFzaCd0dkUOBiB-fpVJs5iMQ3tZXtO4=", 7])")),
      (Errors{
          R"(server.toml: tenant[0].keys[0]: "AAAA" decodes to 3 bytes, expected 32 (an Ed25519 public key is base64 of 32 bytes))",
          R"(server.toml: tenant[0].keys[1]: "ly0fJStabs86yFzaCd0dkUOBiB-fpVJs5iMQ3tZXtO4=" is not standard base64 (A-Z a-z 0-9 + / with = padding) (an Ed25519 public key is base64 of 32 bytes))",
          "server.toml: tenant[0].keys[2]: expected a string, got an integer",
      }));
}

TEST(ServerConfig, TenantMustBeAnArrayOfTables) {
  EXPECT_EQ(errors(edit("[[tenant]]", "[tenant]")),
            (Errors{"server.toml: tenant: expected an array of tables ([[tenant]]), got a table"}));
}

TEST(ServerConfig, ReportsSyntaxErrorsWithPosition) {
  const Errors found = errors("[server]\nlisten = [\"0.0.0.0:8443\"\ncert = 1\n");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].starts_with("server.toml:3:")) << found[0];
}

}  // namespace
}  // namespace mx
