// The client's timers ([client]) and per-server selection and pool keys
// ([[server]]).
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/client_config.h"

namespace mx {
namespace {

using namespace config_test;
using std::chrono::milliseconds;

// `client_keys` go into [client], `server_keys` into the one [[server]].
std::string config(std::string_view client_keys, std::string_view server_keys = "") {
  return R"(
[client]
key = "client.key"
)" + std::string(client_keys) +
         R"(
[[server]]
address = "egress.example.net:8443"
pin = "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI="
)" + std::string(server_keys) +
         R"(
[socks5]
listen = ["127.0.0.1:1080"]
)";
}

constexpr auto& parse = parse_client;
constexpr auto& errors = client_errors;

ClientConfig::Server server_with(std::string_view server_keys) {
  auto result = parse(config("", server_keys));
  EXPECT_TRUE(result.ok()) << result.errors[0];
  return result.ok() ? result.config->servers.at(0) : ClientConfig::Server{};
}

TEST(ClientConfigPool, Defaults) {
  auto result = parse(config(""));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ClientConfig& c = *result.config;
  EXPECT_EQ(c.client.drain_timeout, milliseconds(30'000));
  EXPECT_EQ(c.client.keepalive_interval, milliseconds(60'000));
  EXPECT_EQ(c.client.keepalive_timeout, milliseconds(10'000));
  EXPECT_EQ(c.client.pool_idle_timeout, milliseconds(300'000));
  EXPECT_EQ(c.client.retry_interval, milliseconds(10'000));
  ASSERT_EQ(c.servers.size(), 1u);
  EXPECT_EQ(c.servers[0].priority, 10u);
  EXPECT_EQ(c.servers[0].weight, 100u);
  EXPECT_EQ(c.servers[0].pool, 2u);
  EXPECT_EQ(c.servers[0].pool_max, 32u);
  EXPECT_FALSE(c.transparent);
  EXPECT_TRUE(c.forwards.empty());
}

TEST(ClientConfigPool, ExactValues) {
  auto result = parse(R"(
[client]
key = "client.key"
drain_timeout = "2m"
keepalive_interval = "3m"
keepalive_timeout = "2500ms"
pool_idle_timeout = "1h"
retry_interval = "500ms"

[[server]]
address = "a.example.net:8443"
pin = "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI="
priority = 0
weight = 65535
pool = 1024
pool_max = 4096

[[server]]
address = "b.example.net:8443"
pin = "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI="
priority = 65535
weight = 1
pool = 0
pool_max = 0

[[server]]
address = "c.example.net:8443"
pin = "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI="
pool = 7
pool_max = 7

[socks5]
listen = ["127.0.0.1:1080"]
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ClientConfig& c = *result.config;
  EXPECT_EQ(c.client.drain_timeout, milliseconds(120'000));
  EXPECT_EQ(c.client.keepalive_interval, milliseconds(180'000));
  EXPECT_EQ(c.client.keepalive_timeout, milliseconds(2'500));
  EXPECT_EQ(c.client.pool_idle_timeout, milliseconds(3'600'000));
  EXPECT_EQ(c.client.retry_interval, milliseconds(500));
  ASSERT_EQ(c.servers.size(), 3u);
  EXPECT_EQ(c.servers[0].priority, 0u);
  EXPECT_EQ(c.servers[0].weight, 65535u);
  EXPECT_EQ(c.servers[0].pool, 1024u);
  EXPECT_EQ(c.servers[0].pool_max, 4096u);
  EXPECT_EQ(c.servers[1].priority, 65535u);
  EXPECT_EQ(c.servers[1].weight, 1u);
  EXPECT_EQ(c.servers[1].pool, 0u);
  EXPECT_EQ(c.servers[1].pool_max, 0u);
  EXPECT_EQ(c.servers[2].priority, 10u);
  EXPECT_EQ(c.servers[2].weight, 100u);
  EXPECT_EQ(c.servers[2].pool, 7u);
  EXPECT_EQ(c.servers[2].pool_max, 7u);
}

TEST(ClientConfigPool, PoolAloneMayRiseToTheDefaultPoolMax) {
  EXPECT_EQ(server_with("pool = 32").pool_max, 32u);
  EXPECT_EQ(server_with("pool_max = 2").pool_max, 2u);
}

TEST(ClientConfigPool, ReportsOutOfRangeIntegers) {
  EXPECT_EQ(errors(config("", R"(
priority = -1
weight = 0
pool = 1025
pool_max = 4097
)")),
            (Errors{
                "client.toml: server[0].priority: expected an integer 0..65535, got -1",
                "client.toml: server[0].weight: expected an integer 1..65535, got 0",
                "client.toml: server[0].pool: expected an integer 0..1024, got 1025",
                "client.toml: server[0].pool_max: expected an integer 0..4096, got 4097",
            }));
  EXPECT_EQ(errors(config("", R"(
priority = 65536
weight = 65536
pool = -1
pool_max = -1
)")),
            (Errors{
                "client.toml: server[0].priority: expected an integer 0..65535, got 65536",
                "client.toml: server[0].weight: expected an integer 1..65535, got 65536",
                "client.toml: server[0].pool: expected an integer 0..1024, got -1",
                "client.toml: server[0].pool_max: expected an integer 0..4096, got -1",
            }));
}

TEST(ClientConfigPool, ReportsNonIntegers) {
  EXPECT_EQ(errors(config("", R"(
priority = "10"
weight = 1.5
pool = true
pool_max = [32]
)")),
            (Errors{
                "client.toml: server[0].priority: expected an integer 0..65535, got a string",
                "client.toml: server[0].weight: expected an integer 1..65535, got a float",
                "client.toml: server[0].pool: expected an integer 0..1024, got a boolean",
                "client.toml: server[0].pool_max: expected an integer 0..4096, got an array",
            }));
}

TEST(ClientConfigPool, PoolMaxMustNotBeBelowPool) {
  EXPECT_EQ(errors(config("", "pool = 8\npool_max = 4\n")),
            (Errors{"client.toml: server[0].pool_max: must be at least pool (8); got 4"}));
  EXPECT_EQ(errors(config("", "pool = 100\n")),
            (Errors{"client.toml: server[0].pool_max: is 32 by default, below pool (100); set "
                    "pool_max to at least 100"}));
  EXPECT_EQ(errors(config("", "pool_max = 1\n")),
            (Errors{"client.toml: server[0].pool_max: must be at least pool (2); got 1"}));
  // A pool or pool_max already reported is not compared.
  EXPECT_EQ(errors(config("", "pool = 2000\npool_max = 4\n")),
            (Errors{"client.toml: server[0].pool: expected an integer 0..1024, got 2000"}));
  EXPECT_EQ(errors(config("", "pool = 8\npool_max = 5000\n")),
            (Errors{"client.toml: server[0].pool_max: expected an integer 0..4096, got 5000"}));
}

TEST(ClientConfigPool, KeepaliveIntervalMustBeBelowCloudNatTimeout) {
  const std::string why =
      "client.toml: client.keepalive_interval: must be below 4m: cloud NAT (Azure) drops idle "
      "flows after 4 minutes; got ";
  EXPECT_EQ(errors(config(R"(keepalive_interval = "4m")")), (Errors{why + "4m"}));
  EXPECT_EQ(errors(config(R"(keepalive_interval = "240000ms")")), (Errors{why + "4m"}));
  EXPECT_EQ(errors(config(R"(keepalive_interval = "1h")")), (Errors{why + "1h"}));
  auto result = parse(config(R"(keepalive_interval = "239999ms")"));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->client.keepalive_interval, milliseconds(239'999));
}

TEST(ClientConfigPool, KeepaliveTimeoutMustBeShorterThanTheInterval) {
  EXPECT_EQ(errors(config("keepalive_interval = \"30s\"\nkeepalive_timeout = \"30s\"\n")),
            (Errors{"client.toml: client.keepalive_timeout: must be shorter than "
                    "keepalive_interval (30s); got 30s"}));
  // Against the default interval.
  EXPECT_EQ(errors(config(R"(keepalive_timeout = "2m")")),
            (Errors{"client.toml: client.keepalive_timeout: must be shorter than "
                    "keepalive_interval (1m); got 2m"}));
  // Against a small interval, with the default timeout.
  EXPECT_EQ(errors(config(R"(keepalive_interval = "5s")")),
            (Errors{"client.toml: client.keepalive_timeout: must be shorter than "
                    "keepalive_interval (5s); got 10s"}));
  // Both wrong: both said.
  EXPECT_EQ(errors(config("keepalive_interval = \"5m\"\nkeepalive_timeout = \"6m\"\n")),
            (Errors{
                "client.toml: client.keepalive_interval: must be below 4m: cloud NAT (Azure) "
                "drops idle flows after 4 minutes; got 5m",
                "client.toml: client.keepalive_timeout: must be shorter than "
                "keepalive_interval (5m); got 6m",
            }));
  // An interval already reported is not compared.
  EXPECT_EQ(errors(config("keepalive_interval = 60\nkeepalive_timeout = \"2m\"\n")),
            (Errors{"client.toml: client.keepalive_interval: expected a duration string with a "
                    "unit, like \"60s\" (units: ms, s, m, h, d), got the bare integer 60"}));
  auto result = parse(config("keepalive_interval = \"11s\"\n"));
  ASSERT_TRUE(result.ok()) << result.errors[0];
}

TEST(ClientConfigPool, ReportsBadDurations) {
  EXPECT_EQ(
      errors(config(R"(
drain_timeout = "0s"
keepalive_interval = "soon"
keepalive_timeout = 10
pool_idle_timeout = "5 m"
retry_interval = ""
)")),
      (Errors{
          "client.toml: client.drain_timeout: must be greater than zero",
          R"(client.toml: client.keepalive_interval: expected a duration like "30s", "10m", "1h", "500ms", got "soon")",
          R"(client.toml: client.keepalive_timeout: expected a duration string with a unit, like "10s" (units: ms, s, m, h, d), got the bare integer 10)",
          R"(client.toml: client.pool_idle_timeout: expected a duration like "30s", "10m", "1h", "500ms", got "5 m")",
          R"(client.toml: client.retry_interval: expected a duration like "30s", "10m", "1h", "500ms", got "")",
      }));
}

TEST(ClientConfigPool, RejectsUnknownKeys) {
  EXPECT_EQ(errors(config(R"(keepalive = "60s")", "pool_size = 4\npriorty = 1\n")),
            (Errors{
                "client.toml: client.keepalive: unknown key",
                "client.toml: server[0].pool_size: unknown key",
                R"(client.toml: server[0].priorty: unknown key (did you mean "priority"?))",
            }));
}

}  // namespace
}  // namespace mx
