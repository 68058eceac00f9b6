// config/client.toml must parse as shipped, and with every commented-out
// section switched on.
#include <gtest/gtest.h>

#include <regex>

#include "config_test_support.h"
#include "mxegress/config/client_config.h"

namespace mx {
namespace {

using config_test::kConfigDir;
using std::chrono::milliseconds;

std::string read_example() { return config_test::read_file_text(kConfigDir / "client.toml"); }

// The example with its commented-out settings switched on: "# key = ..." and
// "# [section]" lose their "# ", while prose ("# # ...", "# Words ...") stays.
std::string uncommented(const std::string& text) {
  static const std::regex kSetting(R"(^# (\[|[a-z_]+ = ))");
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    out += std::regex_search(line, kSetting) ? line.substr(2) : line;
    out += '\n';
  }
  return out;
}

SocketAddress addr(std::string_view text) { return *SocketAddress::parse(text); }

TEST(ClientConfigExample, ParsesAsShipped) {
  auto result = load_client_config(kConfigDir / "client.toml");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ClientConfig& config = *result.config;
  EXPECT_EQ(config.client.key_file, kConfigDir / "client.key");
  EXPECT_EQ(config.client.drain_timeout, milliseconds(30'000));
  EXPECT_EQ(config.client.keepalive_interval, milliseconds(60'000));
  EXPECT_EQ(config.client.keepalive_timeout, milliseconds(10'000));
  EXPECT_EQ(config.client.pool_idle_timeout, milliseconds(300'000));
  EXPECT_EQ(config.client.retry_interval, milliseconds(10'000));
  ASSERT_EQ(config.servers.size(), 1u);
  EXPECT_EQ(config.servers[0].priority, 10u);
  EXPECT_EQ(config.servers[0].weight, 100u);
  EXPECT_EQ(config.servers[0].pool, 2u);
  EXPECT_EQ(config.servers[0].pool_max, 32u);
  EXPECT_EQ(config.socks5.listen, (std::vector{addr("127.0.0.1:1080")}));
  EXPECT_FALSE(config.transparent);
  EXPECT_TRUE(config.forwards.empty());
  EXPECT_EQ(config.resolver, ResolverSettings{});
}

TEST(ClientConfigExample, ParsesWithEveryCommentedSectionSwitchedOn) {
  const std::string text = uncommented(read_example());
  ASSERT_NE(text, read_example());
  auto result = parse_client_config(text, "client.toml", kConfigDir);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ClientConfig& config = *result.config;

  ASSERT_EQ(config.servers.size(), 2u);
  EXPECT_EQ(config.servers[1].address, (HostPort{"203.0.113.7", 8443}));
  EXPECT_EQ(config.servers[1].ca_file, kConfigDir / "ca.pem");
  EXPECT_EQ(config.servers[1].server_name, "egress2.example.net");
  EXPECT_EQ(config.servers[1].priority, 20u);
  EXPECT_EQ(config.servers[1].weight, 100u);

  ASSERT_EQ(config.socks5.users.size(), 1u);
  EXPECT_EQ(config.socks5.users[0].name, "gateway");

  ASSERT_TRUE(config.transparent);
  EXPECT_EQ(config.transparent->listen, (std::vector{addr("127.0.0.1:10025")}));
  EXPECT_EQ(config.transparent->on_failure, ClientConfig::FailureAction::Reset);

  ASSERT_EQ(config.forwards.size(), 1u);
  EXPECT_EQ(config.forwards[0].listen, addr("127.0.0.1:2525"));
  EXPECT_EQ(config.forwards[0].target, (HostPort{"mx.example.org", 25}));
  EXPECT_EQ(config.forwards[0].on_failure, ClientConfig::FailureAction::Reply421);

  EXPECT_EQ(config.resolver.servers, (std::vector{addr("127.0.0.53:53")}));
  EXPECT_EQ(config.resolver.timeout, milliseconds(5000));
  EXPECT_EQ(config.resolver.tries, 2u);
}

}  // namespace
}  // namespace mx
