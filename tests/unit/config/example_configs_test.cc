// The documented example files must stay valid.
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/client_config.h"
#include "mxegress/config/server_config.h"

namespace mx {
namespace {

using config_test::kConfigDir;

TEST(ExampleConfigs, ClientExampleParses) {
  auto result = load_client_config(kConfigDir / "client.toml");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ClientConfig& config = *result.config;
  EXPECT_EQ(config.client.key_file, kConfigDir / "client.key");
  EXPECT_EQ(config.client.log_level, LogLevel::Info);
  ASSERT_EQ(config.servers.size(), 1u);
  EXPECT_EQ(config.servers[0].address, (HostPort{"egress.example.net", 8443}));
  EXPECT_FALSE(config.servers[0].pins.empty());
  EXPECT_EQ(config.socks5.listen, (std::vector{*SocketAddress::parse("127.0.0.1:1080")}));
  EXPECT_TRUE(config.socks5.users.empty());
  EXPECT_EQ(config.client.liveness(),
            (TcpLiveness{std::chrono::seconds(30), std::chrono::seconds(30)}));
}

TEST(ExampleConfigs, ServerExampleParses) {
  auto result = load_server_config(kConfigDir / "server.toml");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig& config = *result.config;
  EXPECT_EQ(config.server.listen, (std::vector{*SocketAddress::parse("0.0.0.0:8443")}));
  EXPECT_EQ(config.server.cert_file, kConfigDir / "server.crt");
  EXPECT_EQ(config.server.key_file, kConfigDir / "server.key");
  EXPECT_EQ(config.policy.ports, (std::vector<uint16_t>{25}));
  ASSERT_EQ(config.tenants.size(), 2u);
  EXPECT_EQ(config.tenants[0].name, "acme");
  EXPECT_EQ(config.tenants[0].keys.size(), 2u);
  EXPECT_EQ(config.tenants[1].name, "example.org");
  EXPECT_EQ(config.server.liveness(),
            (TcpLiveness{std::chrono::seconds(30), std::chrono::seconds(30)}));
}

}  // namespace
}  // namespace mx
