// [trail] on_trail_error and backlog: what a file that cannot be written does.
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/server_config.h"

namespace mx {
namespace {

using namespace config_test;
using OnError = ServerConfig::Trail::OnError;

std::string with_trail(std::string_view trail) {
  return kServerHead + kAcmeTenant + "[trail]\nfile = \"trail.jsonl\"\n" + std::string(trail);
}

TEST(ServerConfigTrailErrors, RefusesByDefaultWithAMebibyteBacklog) {
  auto result = parse_server(with_trail(""));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->trail.on_error, OnError::Refuse);
  EXPECT_EQ(result.config->trail.backlog, 1024u * 1024u);
}

TEST(ServerConfigTrailErrors, ParsesBothModesAndABacklog) {
  auto result = parse_server(with_trail("on_trail_error = \"continue\"\nbacklog = \"64KiB\"\n"));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->trail.on_error, OnError::Continue);
  EXPECT_EQ(result.config->trail.backlog, 64u * 1024u);
  result = parse_server(with_trail("on_trail_error = \"refuse\"\nbacklog = 0\n"));
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->trail.on_error, OnError::Refuse);
  EXPECT_EQ(result.config->trail.backlog, 0u);
}

TEST(ServerConfigTrailErrors, ReportsBadValues) {
  EXPECT_EQ(
      server_errors(with_trail("on_trail_error = \"ignore\"\nbacklog = \"lots\"\n")),
      (Errors{
          R"(server.toml: trail.on_trail_error: expected "refuse" or "continue", got "ignore")",
          R"(server.toml: trail.backlog: expected a byte size, an integer number of bytes or a string like "50GiB" or "500MB" (units: B, kB or KB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024)), got "lots")",
      }));
  EXPECT_EQ(server_errors(with_trail("on_trail_error = true\n")),
            (Errors{"server.toml: trail.on_trail_error: expected a string, got a boolean"}));
}

}  // namespace
}  // namespace mx
