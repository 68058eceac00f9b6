// [metrics] in both files: absent (no listener), IPv4 and IPv6 addresses,
// and the errors, in the FILE: KEY: WHY form of the other tables.
#include "mxegress/config/metrics_config.h"

#include <gtest/gtest.h>

#include "config_test_support.h"

namespace mx {
namespace {

using namespace config_test;

const std::string kServer = kServerHead + kAcmeTenant;
const std::string kClient = kClientHead + "\n[socks5]\nlisten = [\"127.0.0.1:1080\"]\n";

TEST(MetricsConfig, AbsentMeansNoListener) {
  auto server = parse_server(kServer);
  ASSERT_TRUE(server.ok()) << server.errors[0];
  EXPECT_FALSE(server.config->metrics.listen);
  auto client = parse_client(kClient);
  ASSERT_TRUE(client.ok()) << client.errors[0];
  EXPECT_FALSE(client.config->metrics.listen);
}

TEST(MetricsConfig, ListenTakesIpv4AndIpv6) {
  auto server = parse_server(kServer + "[metrics]\nlisten = \"127.0.0.1:9125\"\n");
  ASSERT_TRUE(server.ok()) << server.errors[0];
  ASSERT_TRUE(server.config->metrics.listen);
  EXPECT_EQ(server.config->metrics.listen->to_string(), "127.0.0.1:9125");
  auto client = parse_client(kClient + "[metrics]\nlisten = \"[::1]:9125\"\n");
  ASSERT_TRUE(client.ok()) << client.errors[0];
  ASSERT_TRUE(client.config->metrics.listen);
  EXPECT_EQ(client.config->metrics.listen->to_string(), "[::1]:9125");
}

TEST(MetricsConfig, ErrorsNameTheKeyAndSayWhy) {
  EXPECT_EQ(
      server_errors(kServer + "[metrics]\nlisten = \"localhost:9125\"\n"),
      (Errors{
          R"(server.toml: metrics.listen: "localhost:9125" names a host; only IP addresses are allowed here (e.g. 0.0.0.0:8443))"}));
  EXPECT_EQ(
      server_errors(kServer + "[metrics]\nlisten = \"127.0.0.1\"\n"),
      (Errors{
          R"(server.toml: metrics.listen: "127.0.0.1" is not IP:port (expected e.g. 0.0.0.0:8443 or [::]:8443))"}));
  EXPECT_EQ(
      client_errors(kClient + "[metrics]\nlisten = \"127.0.0.1:0\"\n"),
      (Errors{
          R"(client.toml: metrics.listen: "127.0.0.1:0": port 0 is not allowed here (a scraper must know the port; e.g. 127.0.0.1:9125))"}));
  EXPECT_EQ(server_errors(kServer + "[metrics]\nlisten = 9125\n"),
            (Errors{"server.toml: metrics.listen: expected a string, got an integer"}));
  EXPECT_EQ(server_errors(kServer + "[metrics]\n"),
            (Errors{"server.toml: metrics.listen: required key is missing"}));
  EXPECT_EQ(client_errors(kClient + "[metrics]\nlisten = \"127.0.0.1:9125\"\npath = \"/m\"\n"),
            (Errors{"client.toml: metrics.path: unknown key"}));
  EXPECT_EQ(server_errors("metrics = 1\n" + kServer),
            (Errors{"server.toml: metrics: expected a table, got an integer"}));
}

TEST(MetricsConfig, ListenMustNotTakeAnotherListenersAddress) {
  EXPECT_EQ(server_errors(kServer + "[metrics]\nlisten = \"0.0.0.0:8443\"\n"),
            (Errors{"server.toml: metrics.listen: is also server.listen[0]"}));
  EXPECT_EQ(client_errors(kClient + "[metrics]\nlisten = \"127.0.0.1:1080\"\n"),
            (Errors{"client.toml: metrics.listen: repeats socks5.listen[0]"}));
}

}  // namespace
}  // namespace mx
