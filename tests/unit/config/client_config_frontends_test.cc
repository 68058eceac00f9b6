// The client's front ends: [socks5], [transparent] and [[forward]].
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/client_config.h"

namespace mx {
namespace {

using namespace config_test;
using FailureAction = ClientConfig::FailureAction;

// Everything but a front end.
const std::string& kBase = kClientHead;

ConfigResult<ClientConfig> parse(std::string_view front_ends) {
  return parse_client(kBase + std::string(front_ends));
}

Errors errors(std::string_view front_ends) { return errors_of(parse(front_ends)); }

SocketAddress addr(std::string_view text) { return *SocketAddress::parse(text); }

TEST(ClientConfigFrontEnds, NeedsAtLeastOne) {
  EXPECT_EQ(errors(""),
            (Errors{"client.toml: at least one of [socks5], [transparent] or [[forward]] is "
                    "required: nothing would accept connections"}));
}

TEST(ClientConfigFrontEnds, TransparentAloneWithASingleAddress) {
  auto result = parse(R"(
[transparent]
listen = "127.0.0.1:10025"
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ClientConfig& config = *result.config;
  EXPECT_TRUE(config.socks5.listen.empty());
  EXPECT_TRUE(config.socks5.users.empty());
  ASSERT_TRUE(config.transparent);
  EXPECT_EQ(config.transparent->listen, (std::vector{addr("127.0.0.1:10025")}));
  EXPECT_EQ(config.transparent->on_failure, FailureAction::Reset);
  EXPECT_TRUE(config.forwards.empty());
}

TEST(ClientConfigFrontEnds, TransparentWithAListAnd421) {
  auto result = parse(R"(
[transparent]
listen = ["127.0.0.1:10025", "[::1]:10025"]
on_failure = "421"
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  ASSERT_TRUE(result.config->transparent);
  EXPECT_EQ(result.config->transparent->listen,
            (std::vector{addr("127.0.0.1:10025"), addr("[::1]:10025")}));
  EXPECT_EQ(result.config->transparent->on_failure, FailureAction::Reply421);
}

TEST(ClientConfigFrontEnds, ForwardsAloneParseToExactValues) {
  auto result = parse(R"(
[[forward]]
listen = "127.0.0.1:2525"
target = "mx.example.org:25"

[[forward]]
listen = "[::1]:2526"
target = "[2001:db8::25]:587"
on_failure = "421"

[[forward]]
listen = "10.0.0.1:25"
target = "192.0.2.25:25"
on_failure = "reset"
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ClientConfig& config = *result.config;
  EXPECT_TRUE(config.socks5.listen.empty());
  EXPECT_FALSE(config.transparent);
  ASSERT_EQ(config.forwards.size(), 3u);
  EXPECT_EQ(config.forwards[0].listen, addr("127.0.0.1:2525"));
  EXPECT_EQ(config.forwards[0].target, (HostPort{"mx.example.org", 25}));
  EXPECT_EQ(config.forwards[0].on_failure, FailureAction::Reset);
  EXPECT_EQ(config.forwards[1].listen, addr("[::1]:2526"));
  EXPECT_EQ(config.forwards[1].target, (HostPort{"2001:db8::25", 587}));
  EXPECT_EQ(config.forwards[1].on_failure, FailureAction::Reply421);
  EXPECT_EQ(config.forwards[2].listen, addr("10.0.0.1:25"));
  EXPECT_EQ(config.forwards[2].target, (HostPort{"192.0.2.25", 25}));
  EXPECT_EQ(config.forwards[2].on_failure, FailureAction::Reset);
}

TEST(ClientConfigFrontEnds, AllThreeTogether) {
  auto result = parse(R"(
[socks5]
listen = ["127.0.0.1:1080"]
[transparent]
listen = "127.0.0.1:10025"
[[forward]]
listen = "127.0.0.1:2525"
target = "mx.example.org:25"
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->socks5.listen, (std::vector{addr("127.0.0.1:1080")}));
  ASSERT_TRUE(result.config->transparent);
  EXPECT_EQ(result.config->forwards.size(), 1u);
}

TEST(ClientConfigFrontEnds, ReportsBadFailureActions) {
  const std::string expected =
      R"(expected "reset" (abortive close) or "421" (SMTP 421 reply, then close), got )";
  EXPECT_EQ(errors(R"(
[transparent]
listen = "127.0.0.1:10025"
on_failure = "RST"
[[forward]]
listen = "127.0.0.1:2525"
target = "mx.example.org:25"
on_failure = 421
[[forward]]
listen = "127.0.0.1:2526"
target = "mx.example.org:25"
on_failure = true
[[forward]]
listen = "127.0.0.1:2527"
target = "mx.example.org:25"
on_failure = "Reset"
)"),
            (Errors{
                "client.toml: transparent.on_failure: " + expected + R"("RST")",
                "client.toml: forward[0].on_failure: " + expected +
                    R"(the integer 421 (write it as a string: "421"))",
                "client.toml: forward[1].on_failure: " + expected + "a boolean",
                "client.toml: forward[2].on_failure: " + expected + R"("Reset")",
            }));
}

TEST(ClientConfigFrontEnds, ReportsBadTransparentListen) {
  EXPECT_EQ(errors("[transparent]\n"),
            (Errors{"client.toml: transparent.listen: required key is missing"}));
  EXPECT_EQ(errors("[transparent]\nlisten = []\n"),
            (Errors{"client.toml: transparent.listen: must list at least one entry"}));
  EXPECT_EQ(errors("[transparent]\nlisten = 10025\n"),
            (Errors{"client.toml: transparent.listen: expected IP:port or an array of them, got "
                    "an integer"}));
  EXPECT_EQ(
      errors(R"([transparent]
listen = "localhost:10025")"),
      (Errors{
          R"(client.toml: transparent.listen: "localhost:10025" names a host; only IP addresses are allowed here (e.g. 0.0.0.0:8443))"}));
  EXPECT_EQ(
      errors(R"([transparent]
listen = ["127.0.0.1:10025", "10025", 5])"),
      (Errors{
          R"(client.toml: transparent.listen[1]: "10025" is not IP:port (expected e.g. 0.0.0.0:8443 or [::]:8443))",
          "client.toml: transparent.listen[2]: expected a string, got an integer",
      }));
}

TEST(ClientConfigFrontEnds, ReportsBadForwards) {
  EXPECT_EQ(errors("[[forward]]\n"), (Errors{
                                         "client.toml: forward[0].listen: required key is missing",
                                         "client.toml: forward[0].target: required key is missing",
                                     }));
  EXPECT_EQ(
      errors(R"([[forward]]
listen = "localhost:2525"
target = "mx.example.org"
[[forward]]
listen = ["127.0.0.1:2526"]
target = "mx.example.org:0"
)"),
      (Errors{
          R"(client.toml: forward[0].listen: "localhost:2525" names a host; only IP addresses are allowed here (e.g. 0.0.0.0:8443))",
          R"(client.toml: forward[0].target: "mx.example.org" is not host:port (expected e.g. egress.example.net:8443))",
          "client.toml: forward[1].listen: expected a string, got an array",
          R"(client.toml: forward[1].target: "mx.example.org:0": port 0 is not allowed)",
      }));
}

TEST(ClientConfigFrontEnds, ReportsWrongSectionTypes) {
  // Root keys go before the first table.
  auto root_errors = [](std::string_view root_keys) {
    auto result =
        parse_client_config(std::string(root_keys) + kBase, "client.toml", "/etc/mxegress");
    EXPECT_FALSE(result.ok());
    return result.errors;
  };
  EXPECT_EQ(root_errors("transparent = 1\n"),
            (Errors{"client.toml: transparent: expected a table, got an integer"}));
  EXPECT_EQ(root_errors("socks5 = \"127.0.0.1:1080\"\n"),
            (Errors{"client.toml: socks5: expected a table, got a string"}));
  EXPECT_EQ(root_errors("forward = []\n"),
            (Errors{"client.toml: forward: at least one [[forward]] section is required"}));
  EXPECT_EQ(
      errors("[forward]\nlisten = \"127.0.0.1:2525\"\ntarget = \"mx.example.org:25\"\n"),
      (Errors{"client.toml: forward: expected an array of tables ([[forward]]), got a table"}));
}

TEST(ClientConfigFrontEnds, RejectsUnknownKeys) {
  EXPECT_EQ(errors(R"(
[transparent]
listen = "127.0.0.1:10025"
on_fail = "421"
[[forward]]
listen = "127.0.0.1:2525"
target = "mx.example.org:25"
destination = "mx.example.org:25"
[transparent_proxy]
)"),
            (Errors{
                "client.toml: transparent.on_fail: unknown key",
                "client.toml: forward[0].destination: unknown key",
                "client.toml: transparent_proxy: unknown key",
            }));
}

TEST(ClientConfigFrontEnds, EachListenAddressIsUsedOnce) {
  EXPECT_EQ(errors(R"(
[socks5]
listen = ["127.0.0.1:1080", "[::1]:25"]
[transparent]
listen = ["127.0.0.1:10025", "127.0.0.1:1080", "127.0.0.1:10025"]
[[forward]]
listen = "127.0.0.1:10025"
target = "mx.example.org:25"
[[forward]]
listen = "[::1]:25"
target = "mx.example.org:25"
[[forward]]
listen = "127.0.0.1:2525"
target = "mx.example.org:25"
[[forward]]
listen = "127.0.0.1:2525"
target = "mx2.example.org:25"
)"),
            (Errors{
                "client.toml: transparent.listen[1]: repeats socks5.listen[0]",
                "client.toml: transparent.listen[2]: repeats transparent.listen[0]",
                "client.toml: forward[0].listen: repeats transparent.listen[0]",
                "client.toml: forward[1].listen: repeats socks5.listen[1]",
                "client.toml: forward[3].listen: repeats forward[2].listen",
            }));
  EXPECT_EQ(errors(R"(
[transparent]
listen = "127.0.0.1:25"
[[forward]]
listen = "127.0.0.1:25"
target = "mx.example.org:25"
)"),
            (Errors{"client.toml: forward[0].listen: repeats transparent.listen"}));
}

TEST(ClientConfigFrontEnds, PortZeroMayRepeat) {
  // The kernel picks a different free port for each.
  auto result = parse(R"(
[socks5]
listen = ["127.0.0.1:0", "127.0.0.1:0"]
[transparent]
listen = "127.0.0.1:0"
[[forward]]
listen = "127.0.0.1:0"
target = "mx.example.org:25"
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->socks5.listen.size(), 2u);
}

TEST(ClientConfigFrontEnds, Socks5SectionStillNeedsListen) {
  EXPECT_EQ(errors(R"(
[socks5]
[[socks5.user]]
name = "gw"
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q"
)"),
            (Errors{"client.toml: socks5.listen: required key is missing"}));
}

}  // namespace
}  // namespace mx
