// [server] max_unauthenticated and max_unauthenticated_per_address: the caps
// on connections not yet authenticated (proxy-server/startup_gate.h).
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/server_config.h"

namespace mx {
namespace {

using namespace config_test;

std::string with(std::string_view keys) {
  return edit_text(kServerHead + kAcmeTenant, "[server]\n", "[server]\n" + std::string(keys));
}

TEST(ServerConfigPreauth, Defaults1024InAllAnd32PerAddress) {
  auto result = parse_server(kServerHead + kAcmeTenant);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->server.max_unauthenticated, 1024u);
  EXPECT_EQ(result.config->server.max_unauthenticated_per_address, 32u);
}

TEST(ServerConfigPreauth, ExplicitValuesAndZeroForUnlimited) {
  auto result =
      parse_server(with("max_unauthenticated = 200\nmax_unauthenticated_per_address = 8\n"));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->server.max_unauthenticated, 200u);
  EXPECT_EQ(result.config->server.max_unauthenticated_per_address, 8u);
  result = parse_server(with("max_unauthenticated = 0\nmax_unauthenticated_per_address = 0\n"));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->server.max_unauthenticated, 0u) << "0 = unlimited";
  EXPECT_EQ(result.config->server.max_unauthenticated_per_address, 0u);
}

TEST(ServerConfigPreauth, ErrorsNameTheKeyAndSayWhy) {
  EXPECT_EQ(server_errors(with("max_unauthenticated = -1\n"
                               "max_unauthenticated_per_address = \"32\"\n")),
            (Errors{
                "server.toml: server.max_unauthenticated: must be 0 (unlimited) or more, got -1",
                "server.toml: server.max_unauthenticated_per_address: expected an integer (0 = "
                "unlimited), got a string",
            }));
  EXPECT_EQ(server_errors(with("max_unauthenticated = 4294967296\n")),
            (Errors{"server.toml: server.max_unauthenticated: must be at most 4294967295, got "
                    "4294967296"}));
  EXPECT_EQ(server_errors(with("max_unauthenticated_per_address = 1.5\n")),
            (Errors{"server.toml: server.max_unauthenticated_per_address: expected an integer (0 "
                    "= unlimited), got a float"}));
}

}  // namespace
}  // namespace mx
