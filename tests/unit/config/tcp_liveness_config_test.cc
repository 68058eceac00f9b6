// tcp_keepalive and tcp_user_timeout, the same two keys in [client] and in
// [server]: defaults, explicit values, "0s" for off, and what is refused.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "config_test_support.h"
#include "mxegress/config/client_config.h"
#include "mxegress/config/server_config.h"
#include "mxegress/net/tcp_liveness.h"

namespace mx {
namespace {

using namespace config_test;
using namespace std::chrono_literals;

// A parse of one program's file: the liveness of its section, or its errors.
struct Outcome {
  std::optional<TcpLiveness> liveness;
  Errors errors;
};

// "client" or "server": each test runs against both files.
class TcpLivenessConfig : public ::testing::TestWithParam<std::string> {
 protected:
  bool client() const { return GetParam() == "client"; }

  // The minimal file of the program, with `keys` added to its [client] or
  // [server] section.
  Outcome parse(std::string_view keys = "") const {
    if (client()) {
      const std::string text = edit_text(kClientHead, "key = \"client.key\"\n",
                                         "key = \"client.key\"\n" + std::string(keys)) +
                               "[socks5]\nlisten = [\"127.0.0.1:1080\"]\n";
      auto result = parse_client(text);
      if (!result.ok()) return {std::nullopt, result.errors};
      return {result.config->client.liveness(), {}};
    }
    const std::string text = edit_text(kServerHead, "key = \"server.key\"\n",
                                       "key = \"server.key\"\n" + std::string(keys)) +
                             kAcmeTenant;
    auto result = parse_server(text);
    if (!result.ok()) return {std::nullopt, result.errors};
    return {result.config->server.liveness(), {}};
  }

  // The one error `keys` gives, "FILE: SECTION.KEY: WHY".
  std::string error(std::string_view keys) const {
    Outcome outcome = parse(keys);
    EXPECT_FALSE(outcome.liveness);
    EXPECT_EQ(outcome.errors.size(), 1u);
    return outcome.errors.empty() ? "" : outcome.errors[0];
  }

  // "client.toml: client." or "server.toml: server.".
  std::string prefix() const { return GetParam() + ".toml: " + GetParam() + "."; }
};

TEST_P(TcpLivenessConfig, DefaultsBoundADeadPathToAMinute) {
  Outcome outcome = parse();
  ASSERT_TRUE(outcome.liveness) << outcome.errors[0];
  EXPECT_EQ(*outcome.liveness, (TcpLiveness{30s, 30s}));
  // Idle: 30 s before the first probe, then 3 probes 10 s apart.
  EXPECT_EQ(
      outcome.liveness->keepalive_idle + TcpLiveness::kProbes * outcome.liveness->probe_interval(),
      60s);
}

TEST_P(TcpLivenessConfig, TakesExplicitValues) {
  Outcome outcome = parse("tcp_keepalive = \"2m\"\ntcp_user_timeout = \"45s\"\n");
  ASSERT_TRUE(outcome.liveness) << outcome.errors[0];
  EXPECT_EQ(*outcome.liveness, (TcpLiveness{120s, 45s}));
  EXPECT_EQ(outcome.liveness->probe_interval(), 40s);

  outcome = parse("tcp_keepalive = \"1s\"\ntcp_user_timeout = \"1500ms\"\n");
  ASSERT_TRUE(outcome.liveness) << outcome.errors[0];
  EXPECT_EQ(*outcome.liveness, (TcpLiveness{1s, 1500ms}));
}

TEST_P(TcpLivenessConfig, ZeroTurnsEachOff) {
  Outcome outcome = parse("tcp_keepalive = \"0s\"\n");
  ASSERT_TRUE(outcome.liveness) << outcome.errors[0];
  EXPECT_EQ(*outcome.liveness, (TcpLiveness{0s, 30s}));

  outcome = parse("tcp_user_timeout = \"0ms\"\n");
  ASSERT_TRUE(outcome.liveness) << outcome.errors[0];
  EXPECT_EQ(*outcome.liveness, (TcpLiveness{30s, 0s}));

  outcome = parse("tcp_keepalive = \"0s\"\ntcp_user_timeout = \"0s\"\n");
  ASSERT_TRUE(outcome.liveness) << outcome.errors[0];
  EXPECT_EQ(*outcome.liveness, (TcpLiveness{0s, 0s}));
}

TEST_P(TcpLivenessConfig, RefusesAKeepaliveTheKernelCannotTake) {
  EXPECT_EQ(error("tcp_keepalive = \"500ms\"\n"),
            prefix() + R"(tcp_keepalive: must be "0s" (off) or at least 1s; got 500ms)");
  EXPECT_EQ(error("tcp_keepalive = \"1500ms\"\n"),
            prefix() +
                "tcp_keepalive: must be whole seconds: the kernel counts keepalive time in "
                "seconds; got 1500ms");
  EXPECT_EQ(error("tcp_keepalive = \"32768s\"\n"),
            prefix() +
                "tcp_keepalive: must be at most 32767s, the kernel's limit for TCP_KEEPIDLE; "
                "got 32768s");
  EXPECT_TRUE(parse("tcp_keepalive = \"32767s\"\n").liveness);
}

TEST_P(TcpLivenessConfig, RefusesAUserTimeoutOutOfRange) {
  EXPECT_EQ(error("tcp_user_timeout = \"999ms\"\n"),
            prefix() + R"(tcp_user_timeout: must be "0s" (the kernel's default) or at least 1s: )"
                       "shorter, ordinary packet loss would end connections; got 999ms");
  EXPECT_EQ(error("tcp_user_timeout = \"25d\"\n"),
            prefix() +
                "tcp_user_timeout: must be at most 24d: TCP_USER_TIMEOUT counts milliseconds "
                "in a 32-bit integer; got 25d");
  EXPECT_TRUE(parse("tcp_user_timeout = \"24d\"\n").liveness);
}

// "0s" is allowed for these two keys only: the other timeouts still refuse it.
TEST_P(TcpLivenessConfig, RefusesWhatEveryDurationRefuses) {
  EXPECT_EQ(error("tcp_keepalive = 30\n"),
            prefix() +
                R"(tcp_keepalive: expected a duration string with a unit, like "30s" (units: )"
                "ms, s, m, h, d), got the bare integer 30");
  EXPECT_EQ(error("tcp_user_timeout = \"-1s\"\n"),
            prefix() + R"(tcp_user_timeout: expected a duration like "30s", "10m", "1h", "500ms", )"
                       R"(got "-1s")");
  EXPECT_EQ(error("idle_timeout = \"0s\"\n"), prefix() + "idle_timeout: must be greater than zero");
}

INSTANTIATE_TEST_SUITE_P(BothPrograms, TcpLivenessConfig, ::testing::Values("client", "server"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mx
