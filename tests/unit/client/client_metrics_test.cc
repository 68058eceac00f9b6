// The client's metrics text and its readiness rule, from counts and pool
// views made up here.
#include "client_metrics.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

PoolServerView view(std::string name, bool up, size_t open, size_t ready, size_t opening = 0) {
  PoolServerView v;
  v.name = std::move(name);
  v.up = up;
  v.open = open;
  v.ready = ready;
  v.opening = opening;
  return v;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(ClientReadiness, ReadyWhileAnUpServerHasATunnel) {
  EXPECT_TRUE(client_readiness({view("a:1", false, 0, 0), view("b:1", true, 1, 0)}, false).ready)
      << "a full tunnel is still an authenticated one";
  const Readiness none =
      client_readiness({view("a:1", false, 0, 0, 1), view("b:1", true, 0, 0)}, false);
  EXPECT_FALSE(none.ready);
  EXPECT_EQ(none.reason,
            "no server is up with an authenticated tunnel: a:1 down (1 opening), b:1 up, no "
            "tunnel open");
  EXPECT_FALSE(client_readiness({view("a:1", false, 2, 2)}, false).ready)
      << "tunnels of a server marked down do not count";
  const Readiness draining = client_readiness({view("a:1", true, 2, 2)}, true);
  EXPECT_FALSE(draining.ready);
  EXPECT_EQ(draining.reason, "draining: stopping");
}

TEST(ClientMetrics, RendersSessionsTunnelsAndThePool) {
  ClientSessionCounts sessions;
  for (int i = 0; i < 4; ++i) sessions.start(SessionMode::Socks5);
  sessions.end(SessionMode::Socks5, SessionResult::Closed);
  sessions.end(SessionMode::Socks5, SessionResult::NoTunnel);
  sessions.start(SessionMode::Forward);
  DurationHistogram opens;
  opens.observe(std::chrono::milliseconds(20));
  PoolServerView a = view("127.0.0.1:8443", true, 3, 2, 1);
  a.open_failures = 5;
  a.open_seconds = &opens;
  const std::string text = render_client_metrics(sessions, {a}, PoolCounts{7, 2});

  EXPECT_TRUE(has_line(text, "mxegress_client_sessions_started_total{mode=\"socks5\"} 4"));
  EXPECT_TRUE(has_line(text, "mxegress_client_sessions_started_total{mode=\"transparent\"} 0"));
  EXPECT_TRUE(
      has_line(text, "mxegress_client_sessions_ended_total{mode=\"socks5\",result=\"closed\"} 1"));
  EXPECT_TRUE(has_line(
      text, "mxegress_client_sessions_ended_total{mode=\"socks5\",result=\"no_tunnel\"} 1"));
  EXPECT_TRUE(has_line(text, "mxegress_client_sessions_active{mode=\"socks5\"} 2"));
  EXPECT_TRUE(has_line(text, "mxegress_client_sessions_active{mode=\"forward\"} 1"));
  EXPECT_TRUE(
      has_line(text, "mxegress_client_tunnels{server=\"127.0.0.1:8443\",state=\"opening\"} 1"));
  EXPECT_TRUE(
      has_line(text, "mxegress_client_tunnels{server=\"127.0.0.1:8443\",state=\"ready\"} 2"));
  EXPECT_TRUE(
      has_line(text, "mxegress_client_tunnels{server=\"127.0.0.1:8443\",state=\"busy\"} 1"));
  EXPECT_TRUE(has_line(text, "mxegress_client_server_up{server=\"127.0.0.1:8443\"} 1"));
  EXPECT_TRUE(
      has_line(text, "mxegress_client_tunnel_open_failures_total{server=\"127.0.0.1:8443\"} 5"));
  EXPECT_TRUE(has_line(text,
                       "mxegress_client_tunnel_open_duration_seconds_bucket{server=\"127.0.0.1:"
                       "8443\",le=\"0.025\"} 1"));
  EXPECT_TRUE(has_line(text, "mxegress_client_pool_requests_total{result=\"hit\"} 7"));
  EXPECT_TRUE(has_line(text, "mxegress_client_pool_requests_total{result=\"miss\"} 2"));
}

}  // namespace
}  // namespace mx
