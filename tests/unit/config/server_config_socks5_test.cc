// [socks5] on the server: optional; when present it needs a listener and
// users, each mapped to a tenant and pinned to gateway addresses.
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/server_config.h"

namespace mx {
namespace {

using namespace config_test;

constexpr std::string_view kHash =
    "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/"
    "UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q";

const std::string kBase = kServerHead + kAcmeTenant + R"(
[[tenant]]
name = "beta"
source = "any"
keys = ["hBD3SUUbPTCPFJOrqZy2251UEtBceKbq1AbtawEK5Eg="]
)";

// One valid user; `extra` is appended to its table.
std::string user(std::string_view name, std::string_view extra = "") {
  return "[[socks5.user]]\nname = \"" + std::string(name) + "\"\npassword_hash = \"" +
         std::string(kHash) + "\"\ntenant = \"acme\"\nfrom = [\"10.0.0.0/24\"]\n" +
         std::string(extra) + "\n";
}

const std::string kListen = "[socks5]\nlisten = [\"10.0.0.5:1080\"]\n";

constexpr auto& parse = parse_server;
constexpr auto& errors = server_errors;

TEST(ServerConfigSocks5, AbsentMeansNoListener) {
  auto result = parse(kBase);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_TRUE(result.config->socks5.listen.empty());
  EXPECT_TRUE(result.config->socks5.users.empty());
}

TEST(ServerConfigSocks5, ParsesListenAndUsersToExactValues) {
  auto result = parse(kBase + R"(
[socks5]
listen = ["10.0.0.5:1080", "[fd00::5]:1080"]

[[socks5.user]]
name = "exim"
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q"
tenant = "acme"
from = ["10.0.0.0/24", "fd00::/64"]

[[socks5.user]]
name = "beta gateway"
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q"
tenant = "beta"
from = ["10.0.1.7"]
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig::Socks5& socks5 = result.config->socks5;
  EXPECT_EQ(socks5.listen, (std::vector{*SocketAddress::parse("10.0.0.5:1080"),
                                        *SocketAddress::parse("[fd00::5]:1080")}));
  ASSERT_EQ(socks5.users.size(), 2u);
  EXPECT_EQ(socks5.users[0].name, "exim");
  EXPECT_EQ(socks5.users[0].password_hash, kHash);
  EXPECT_EQ(socks5.users[0].tenant, "acme");
  EXPECT_EQ(socks5.users[0].from, cidrs({"10.0.0.0/24", "fd00::/64"}));
  EXPECT_EQ(socks5.users[1].name, "beta gateway");
  EXPECT_EQ(socks5.users[1].tenant, "beta");
  EXPECT_EQ(socks5.users[1].from, cidrs({"10.0.1.7/32"}));
}

TEST(ServerConfigSocks5, AUserMayNameADisabledTenant) {
  std::string text = kBase + kListen + user("exim");
  text.replace(text.find("name = \"acme\""), 13, "name = \"acme\"\nenabled = false");
  auto result = parse(text);
  ASSERT_TRUE(result.ok()) << result.errors[0];
}

TEST(ServerConfigSocks5, RefusesAListenerWithoutUsers) {
  const std::string why =
      "server.toml: socks5.user: at least one [[socks5.user]] section is required: a SOCKS5 "
      "listener on the server without users would be an open proxy (remove [socks5] for no "
      "listener)";
  EXPECT_EQ(errors(kBase + kListen), (Errors{why}));
  EXPECT_EQ(errors(kBase + kListen + "user = []\n"), (Errors{why}));
  // A [socks5.user] table instead of [[socks5.user]] is one error, not two.
  EXPECT_EQ(
      errors(kBase + kListen + "[socks5.user]\nname = \"exim\"\n"),
      (Errors{"server.toml: socks5.user: expected an array of tables ([[socks5.user]]), got a "
              "table"}));
  EXPECT_EQ(errors(kBase + "[socks5]\n"), (Errors{
                                              "server.toml: socks5.listen: required key is missing",
                                              why,
                                          }));
}

TEST(ServerConfigSocks5, RequiresANonEmptyListen) {
  EXPECT_EQ(errors(kBase + "[socks5]\nlisten = []\n" + user("exim")),
            (Errors{"server.toml: socks5.listen: must list at least one entry"}));
  EXPECT_EQ(errors(kBase + "[socks5]\n" + user("exim")),
            (Errors{"server.toml: socks5.listen: required key is missing"}));
}

TEST(ServerConfigSocks5, ReportsBadListenAddresses) {
  EXPECT_EQ(
      errors(kBase + "[socks5]\nlisten = [\"10.0.0.5\", \"gw.example.net:1080\"]\n" + user("exim")),
      (Errors{
          R"(server.toml: socks5.listen[0]: "10.0.0.5" is not IP:port (expected e.g. 0.0.0.0:8443 or [::]:8443))",
          R"(server.toml: socks5.listen[1]: "gw.example.net:1080" names a host; only IP addresses are allowed here (e.g. 0.0.0.0:8443))",
      }));
  EXPECT_EQ(errors(kBase +
                   R"([socks5]
listen = ["10.0.0.5:1080", "10.0.0.5:1080", "0.0.0.0:8443", "127.0.0.1:0"]
)" + user("exim")),
            (Errors{
                "server.toml: socks5.listen[1]: repeats socks5.listen[0]",
                "server.toml: socks5.listen[2]: is also server.listen[0]",
            }));
}

TEST(ServerConfigSocks5, RefusesSocks5NotATable) {
  EXPECT_EQ(errors("socks5 = [\"10.0.0.5:1080\"]\n" + kBase),
            (Errors{"server.toml: socks5: expected a table, got an array"}));
}

TEST(ServerConfigSocks5, ReportsMissingUserKeys) {
  EXPECT_EQ(
      errors(kBase + kListen + "[[socks5.user]]\n"),
      (Errors{
          "server.toml: socks5.user[0].name: required key is missing",
          "server.toml: socks5.user[0].password_hash: required key is missing",
          "server.toml: socks5.user[0].tenant: required key is missing",
          R"(server.toml: socks5.user[0].from: required key is missing: the password travels in clear, so pin this user to the addresses of the gateways that use it (e.g. from = ["10.0.0.0/24"]))",
      }));
}

TEST(ServerConfigSocks5, FromMustBeANonEmptyListOfCidrs) {
  auto without_from = [](std::string extra) {
    std::string text = kBase + kListen + user("exim");
    text.replace(text.find("from = [\"10.0.0.0/24\"]\n"), 23, extra);
    return text;
  };
  EXPECT_EQ(
      errors(without_from("from = []\n")),
      (Errors{
          R"(server.toml: socks5.user[0].from: must list at least one CIDR: the password travels in clear, so pin this user to the addresses of the gateways that use it (e.g. from = ["10.0.0.0/24"]))"}));
  EXPECT_EQ(
      errors(without_from("from = [\"gw.example.net\", \"10.0.0.1/8\"]\n")),
      (Errors{
          R"(server.toml: socks5.user[0].from[0]: "gw.example.net" is not a CIDR (expected e.g. 192.0.2.0/24, 2001:db8::/32 or a single address; the bits after the prefix must be zero))",
          R"(server.toml: socks5.user[0].from[1]: "10.0.0.1/8" is not a CIDR (expected e.g. 192.0.2.0/24, 2001:db8::/32 or a single address; the bits after the prefix must be zero))",
      }));
  EXPECT_EQ(errors(without_from("from = \"10.0.0.0/24\"\n")),
            (Errors{"server.toml: socks5.user[0].from: expected an array, got a string"}));
}

TEST(ServerConfigSocks5, TenantMustExist) {
  std::string text = kBase + kListen + user("exim") + user("other");
  text.replace(text.rfind("tenant = \"acme\""), 15, "tenant = \"acme-corp\"");
  EXPECT_EQ(errors(text),
            (Errors{R"(server.toml: socks5.user[1].tenant: no [[tenant]] is named "acme-corp")"}));
  text = kBase + kListen + user("exim");
  text.replace(text.rfind("tenant = \"acme\""), 15, "tenant = 1");
  EXPECT_EQ(errors(text),
            (Errors{"server.toml: socks5.user[0].tenant: expected a string, got an integer"}));
}

TEST(ServerConfigSocks5, ReportsBadPasswordHashAndName) {
  std::string text = kBase + kListen + user("exim") + user(std::string(256, 'u'));
  text.replace(text.find(kHash), kHash.size(), "$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA");
  text.replace(text.rfind(kHash), kHash.size(), "correct horse battery staple");
  EXPECT_EQ(
      errors(text),
      (Errors{
          R"(server.toml: socks5.user[0].password_hash: expected an Argon2id hash (a string starting with "$argon2id$"))",
          "server.toml: socks5.user[1].name: is longer than 255 bytes, the RFC 1929 limit",
          R"(server.toml: socks5.user[1].password_hash: expected an Argon2id hash (a string starting with "$argon2id$"))",
      }));
  EXPECT_TRUE(parse(kBase + kListen + user(std::string(255, 'u'))).ok());
}

TEST(ServerConfigSocks5, UserNamesAreUnique) {
  EXPECT_EQ(
      errors(kBase + kListen + user("exim") + user("postfix") + user("exim")),
      (Errors{R"(server.toml: socks5.user[2].name: "exim" is already used by socks5.user[0])"}));
}

TEST(ServerConfigSocks5, ReportsUnknownKeys) {
  EXPECT_EQ(errors(kBase + "[socks5]\nlisten = [\"10.0.0.5:1080\"]\nauth = \"none\"\n" +
                   user("exim", "password = \"secret\"")),
            (Errors{
                "server.toml: socks5.user[0].password: unknown key",
                "server.toml: socks5.auth: unknown key",
            }));
}

}  // namespace
}  // namespace mx
