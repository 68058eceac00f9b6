// [resolver] in both files: defaults, every key, and the errors, in the
// FILE: KEY: WHY form of the other tables.
#include "mxegress/config/resolver_config.h"

#include <gtest/gtest.h>

#include "config_test_support.h"

namespace mx {
namespace {

using namespace config_test;
using std::chrono::milliseconds;

const std::string kServer = kServerHead + kAcmeTenant;
const std::string kClient = kClientHead + "\n[socks5]\nlisten = [\"127.0.0.1:1080\"]\n";

TEST(ResolverConfig, AbsentMeansResolvConfAndTheDefaults) {
  auto server = parse_server(kServer);
  ASSERT_TRUE(server.ok()) << server.errors[0];
  const ServerResolverConfig& r = server.config->resolver;
  EXPECT_TRUE(r.settings.servers.empty());
  EXPECT_EQ(r.settings.timeout, milliseconds(5000));
  EXPECT_EQ(r.settings.tries, 2u);
  EXPECT_EQ(r.max_lookups, 1024u);
  EXPECT_EQ(r.max_lookups_per_tenant, 256u);
  auto client = parse_client(kClient);
  ASSERT_TRUE(client.ok()) << client.errors[0];
  EXPECT_EQ(client.config->resolver, ResolverSettings{});
}

TEST(ResolverConfig, EveryKeyOnTheServer) {
  auto result = parse_server(kServer + R"(
[resolver]
servers = ["10.0.0.53", "10.0.0.54:5353", "2001:db8::53", "[2001:db8::54]:5353"]
timeout = "2s"
tries = 3
max_lookups = 4096
max_lookups_per_tenant = 0
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerResolverConfig& r = result.config->resolver;
  ASSERT_EQ(r.settings.servers.size(), 4u);
  EXPECT_EQ(r.settings.servers[0].to_string(), "10.0.0.53:53");
  EXPECT_EQ(r.settings.servers[1].to_string(), "10.0.0.54:5353");
  EXPECT_EQ(r.settings.servers[2].to_string(), "[2001:db8::53]:53");
  EXPECT_EQ(r.settings.servers[3].to_string(), "[2001:db8::54]:5353");
  EXPECT_EQ(r.settings.timeout, milliseconds(2000));
  EXPECT_EQ(r.settings.tries, 3u);
  EXPECT_EQ(r.max_lookups, 4096u);
  EXPECT_EQ(r.max_lookups_per_tenant, 0u) << "0 = unlimited";
}

TEST(ResolverConfig, TheClientTakesServersTimeoutAndTriesButNoCaps) {
  auto result = parse_client(kClient + R"(
[resolver]
servers = ["127.0.0.53"]
timeout = "1s"
tries = 1
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->resolver.servers.at(0).to_string(), "127.0.0.53:53");
  EXPECT_EQ(result.config->resolver.timeout, milliseconds(1000));
  EXPECT_EQ(result.config->resolver.tries, 1u);
  EXPECT_EQ(client_errors(kClient + "[resolver]\nmax_lookups = 10\n"),
            (Errors{"client.toml: resolver.max_lookups: unknown key"}));
}

TEST(ResolverConfig, ErrorsNameTheKeyAndSayWhy) {
  EXPECT_EQ(
      server_errors(kServer + R"(
[resolver]
servers = ["dns.example.net", "0.0.0.0", "10.0.0.53:0", "10.0.0.53", "10.0.0.53:53"]
timeout = "30"
tries = 6
max_lookups = -1
max_lookups_per_tenant = "many"
colour = "blue"
)"),
      (Errors{
          R"(server.toml: resolver.servers[0]: expected an IP address, or IP:port ("10.0.0.53", "10.0.0.53:5353", "2001:db8::53", "[2001:db8::53]:5353"), got "dns.example.net" (names are not allowed: who would resolve them?))",
          R"(server.toml: resolver.servers[1]: "0.0.0.0" is the unspecified address, not a server)",
          R"(server.toml: resolver.servers[2]: port 0 is not a DNS server's port: "10.0.0.53:0")",
          R"(server.toml: resolver.timeout: expected a duration like "30s", "10m", "1h", "500ms", got "30")",
          "server.toml: resolver.tries: expected an integer 1..5, got 6",
          "server.toml: resolver.max_lookups: must be 0 (unlimited) or more, got -1",
          "server.toml: resolver.max_lookups_per_tenant: expected an integer (0 = unlimited), got "
          "a string",
          "server.toml: resolver.colour: unknown key",
      }));
  EXPECT_EQ(server_errors(kServer + "[resolver]\nservers = [\"10.0.0.53\", \"10.0.0.53:53\"]\n"),
            (Errors{"server.toml: resolver.servers[1]: repeats resolver.servers[0]"}));
  EXPECT_EQ(server_errors(kServer + "[resolver]\ntimeout = \"1h\"\n"),
            (Errors{"server.toml: resolver.timeout: must be at most 10m; got 1h"}));
  EXPECT_EQ(server_errors("resolver = 1\n" + kServer),
            (Errors{"server.toml: resolver: expected a table, got an integer"}));
}

}  // namespace
}  // namespace mx
