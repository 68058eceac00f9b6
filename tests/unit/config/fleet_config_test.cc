// [fleet] in server.toml: absent (limits counted locally), both forms of
// `redis`, the defaults, and the errors in the FILE: KEY: WHY form.
#include "mxegress/config/fleet_config.h"

#include <gtest/gtest.h>

#include "config_test_support.h"

namespace mx {
namespace {

using namespace config_test;
using namespace std::chrono_literals;

const std::string kServer = kServerHead + kAcmeTenant;

TEST(FleetConfig, AbsentMeansLocalLimits) {
  auto server = parse_server(kServer);
  ASSERT_TRUE(server.ok()) << server.errors[0];
  EXPECT_FALSE(server.config->fleet);
}

TEST(FleetConfig, UnixSocketWithDefaults) {
  auto server = parse_server(kServer + "[fleet]\nredis = \"unix:/run/redis/redis.sock\"\n");
  ASSERT_TRUE(server.ok()) << server.errors[0];
  ASSERT_TRUE(server.config->fleet);
  const FleetConfig& fleet = *server.config->fleet;
  EXPECT_EQ(fleet.redis.unix_path, "/run/redis/redis.sock");
  EXPECT_FALSE(fleet.redis.tcp);
  EXPECT_EQ(fleet.redis.to_string(), "unix:/run/redis/redis.sock");
  EXPECT_EQ(fleet.password, "");
  EXPECT_EQ(fleet.key_prefix, "mxegress:");
  EXPECT_EQ(fleet.server_id, "");
  EXPECT_EQ(fleet.timeout, 250ms);
  EXPECT_EQ(fleet.lease_time, 30s);
  EXPECT_EQ(fleet.heartbeat_interval, 1s);
  EXPECT_EQ(fleet.reconnect_interval, 1s);
}

TEST(FleetConfig, TcpAndEveryKey) {
  auto server = parse_server(kServer + R"([fleet]
redis = "127.0.0.1:6379"
password = "s3cret"
key_prefix = "eu1:"
server_id = "egress-a"
timeout = "100ms"
lease_time = "6s"
heartbeat_interval = "2s"
reconnect_interval = "500ms"
)");
  ASSERT_TRUE(server.ok()) << server.errors[0];
  const FleetConfig& fleet = *server.config->fleet;
  ASSERT_TRUE(fleet.redis.tcp);
  EXPECT_EQ(fleet.redis.to_string(), "127.0.0.1:6379");
  EXPECT_EQ(fleet.password, "s3cret");
  EXPECT_EQ(fleet.key_prefix, "eu1:");
  EXPECT_EQ(fleet.server_id, "egress-a");
  EXPECT_EQ(fleet.timeout, 100ms);
  EXPECT_EQ(fleet.lease_time, 6s);
  EXPECT_EQ(fleet.heartbeat_interval, 2s);
  EXPECT_EQ(fleet.reconnect_interval, 500ms);
}

TEST(FleetConfig, ErrorsNameTheKeyAndSayWhy) {
  EXPECT_EQ(server_errors(kServer + "[fleet]\n"),
            (Errors{"server.toml: fleet.redis: required key is missing"}));
  EXPECT_EQ(
      server_errors(kServer + "[fleet]\nredis = \"redis.example:6379\"\n"),
      (Errors{
          R"(server.toml: fleet.redis: "redis.example:6379" is neither "unix:/PATH" nor IP:port (e.g. "unix:/run/redis/redis.sock" or "127.0.0.1:6379"))"}));
  EXPECT_EQ(
      server_errors(kServer + "[fleet]\nredis = \"unix:redis.sock\"\n"),
      (Errors{
          R"(server.toml: fleet.redis: "unix:redis.sock": the socket must be an absolute path (e.g. unix:/run/redis/redis.sock))"}));
  EXPECT_EQ(
      server_errors(kServer + "[fleet]\nredis = \"127.0.0.1:6379\"\nkey_prefix = \"a b\"\n"),
      (Errors{R"(server.toml: fleet.key_prefix: "a b" must be printable ASCII without spaces)"}));
  EXPECT_EQ(server_errors(kServer + "[fleet]\nredis = \"127.0.0.1:6379\"\ntimeout = \"0s\"\n"),
            (Errors{"server.toml: fleet.timeout: must be greater than zero"}));
  EXPECT_EQ(
      server_errors(kServer + "[fleet]\nredis = \"127.0.0.1:6379\"\ntimeout = \"11s\"\n"),
      (Errors{
          "server.toml: fleet.timeout: must be at most 10s (a session waits for it), got 11s"}));
  EXPECT_EQ(server_errors(kServer + "[fleet]\nredis = \"127.0.0.1:6379\"\nlease_time = \"2s\"\n"),
            (Errors{"server.toml: fleet.heartbeat_interval: must be at most a third of lease_time "
                    "(2s), got 1s"}));
  EXPECT_EQ(
      server_errors(kServer + "[fleet]\nredis = \"127.0.0.1:6379\"\nlease_time = \"500ms\"\n"),
      (Errors{"server.toml: fleet.lease_time: must be at least 1s (renewed every third of it), got "
              "500ms"}));
  EXPECT_EQ(server_errors(kServer + "[fleet]\nredis = \"127.0.0.1:6379\"\nservers = 3\n"),
            (Errors{"server.toml: fleet.servers: unknown key"}));
}

}  // namespace
}  // namespace mx
