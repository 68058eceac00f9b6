// [socks5] password_workers, max_password_checks(_per_address),
// login_failures and login_backoff: the PasswordChecker's settings.
#include <gtest/gtest.h>

#include "config_test_support.h"
#include "mxegress/config/server_config.h"

namespace mx {
namespace {

using namespace config_test;
using namespace std::chrono_literals;

const std::string kSocks5 = kServerHead + kAcmeTenant + R"(
[socks5]
listen = ["10.0.0.5:1080"]
)";

const std::string kUser = R"(
[[socks5.user]]
name = "exim"
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$pTNiFBcktXMWG+MjWKeX+g$bnZra/UbGhqtGkG3oLT6WFxrQ5aumRsoZc2t+32GV+Q"
tenant = "acme"
from = ["10.0.0.0/24"]
)";

TEST(ServerConfigSocks5Passwords, DefaultsWhenAbsent) {
  auto result = parse_server(kSocks5 + kUser);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig::Socks5& socks5 = result.config->socks5;
  EXPECT_EQ(socks5.password_workers, 2u);
  EXPECT_EQ(socks5.max_password_checks, 32u);
  EXPECT_EQ(socks5.max_password_checks_per_address, 4u);
  EXPECT_EQ(socks5.login_failures, 5u);
  EXPECT_EQ(socks5.login_backoff, 60s);
}

TEST(ServerConfigSocks5Passwords, ParsesEachKey) {
  auto result = parse_server(kSocks5 + R"(password_workers = 3
max_password_checks = 10
max_password_checks_per_address = 0
login_failures = 0
login_backoff = "5m"
)" + kUser);
  ASSERT_TRUE(result.ok()) << result.errors[0];
  const ServerConfig::Socks5& socks5 = result.config->socks5;
  EXPECT_EQ(socks5.password_workers, 3u);
  EXPECT_EQ(socks5.max_password_checks, 10u);
  EXPECT_EQ(socks5.max_password_checks_per_address, 0u);
  EXPECT_EQ(socks5.login_failures, 0u);
  EXPECT_EQ(socks5.login_backoff, 5min);
}

TEST(ServerConfigSocks5Passwords, ReportsBadValuesByKey) {
  EXPECT_EQ(
      server_errors(kSocks5 + R"(password_workers = 0
max_password_checks = -1
max_password_checks_per_address = "4"
login_failures = 1.5
login_backoff = "0s"
)" + kUser),
      (Errors{
          "server.toml: socks5.password_workers: expected 1 to 64 threads, got 0",
          "server.toml: socks5.max_password_checks: must be 0 (unlimited) or more, got -1",
          "server.toml: socks5.max_password_checks_per_address: expected an integer (0 = "
          "unlimited), got a string",
          "server.toml: socks5.login_failures: expected an integer (0 = unlimited), got a float",
          "server.toml: socks5.login_backoff: must be greater than zero",
      }));
  EXPECT_EQ(server_errors(kSocks5 + "password_workers = 65\nlogin_backoff = 60\n" + kUser),
            (Errors{
                "server.toml: socks5.password_workers: expected 1 to 64 threads, got 65",
                "server.toml: socks5.login_backoff: expected a duration string with a unit, like "
                "\"60s\" (units: ms, s, m, h, d), got the bare integer 60",
            }));
}

}  // namespace
}  // namespace mx
