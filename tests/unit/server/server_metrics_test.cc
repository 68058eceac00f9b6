// The server's metrics: how a session's end and a refusal's text map to
// labels, what render_server_metrics writes for a tenant's counters, and
// the readiness rule.
#include "server_metrics.h"

#include <gtest/gtest.h>

#include "egress_server.h"
#include "tenant_metrics.h"

namespace mx {
namespace {

TEST(TenantMetrics, ResultsOfRepliesAndRelays) {
  EXPECT_EQ(session_result_of(socks5::Reply::ConnectionRefused), SessionResult::ConnectionRefused);
  EXPECT_EQ(session_result_of(socks5::Reply::NotAllowed), SessionResult::NotAllowed);
  EXPECT_EQ(session_result_of(socks5::Reply::GeneralFailure), SessionResult::GeneralFailure);
  EXPECT_EQ(session_result_of(RelayOutcome{true, "closed", 1, 2}), SessionResult::Closed);
  EXPECT_EQ(session_result_of(RelayOutcome{false, "idle timeout", 0, 0}),
            SessionResult::IdleTimeout);
  EXPECT_EQ(session_result_of(RelayOutcome{false, "destination connection reset by peer", 0, 0}),
            SessionResult::Reset);
  EXPECT_EQ(session_result_of(RelayOutcome{false, "tunnel lost: keepalive timeout", 0, 0}),
            SessionResult::TunnelLost);
  EXPECT_EQ(session_result_of(RelayOutcome{false, "server stopped", 0, 0}), SessionResult::Aborted);
  EXPECT_EQ(session_result_label(SessionResult::HostUnreachable), "host_unreachable");
  EXPECT_EQ(session_result_label(SessionResult::AddressTypeNotSupported),
            "address_type_not_supported");
}

TEST(TenantMetrics, LimitsNamedByRefusals) {
  EXPECT_EQ(tenant_limit_of("max_connections 10 reached"), TenantLimit::MaxConnections);
  EXPECT_EQ(tenant_limit_of("connections_per_minute 60 reached"),
            TenantLimit::ConnectionsPerMinute);
  EXPECT_EQ(tenant_limit_of("max_per_destination 2 reached for 192.0.2.1"),
            TenantLimit::MaxPerDestination);
  EXPECT_EQ(tenant_limit_of("bytes_per_day 1000 reached"), TenantLimit::BytesPerDay);
  EXPECT_EQ(tenant_limit_of("lookup refused: max_lookups 1024 reached"), TenantLimit::MaxLookups);
  EXPECT_EQ(tenant_limit_of("lookup refused: max_lookups_per_tenant 256 reached"),
            TenantLimit::MaxLookupsPerTenant);
  EXPECT_EQ(tenant_limit_of("tenant is disabled"), std::nullopt);
  EXPECT_EQ(tenant_limit_of("port 26 is not allowed"), std::nullopt);
  EXPECT_EQ(tenant_limit_of(""), std::nullopt);
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(ServerMetrics, RendersEachTenantsCounters) {
  SharedServerState shared;
  shared.usage.for_tenant("idle");
  TenantMetrics& a = shared.usage.for_tenant("a")->metrics();
  for (int i = 0; i < 3; ++i) a.sessions_started.fetch_add(1);
  a.ended(SessionResult::Closed);
  a.ended(SessionResult::NotAllowed);
  a.refused_by(TenantLimit::MaxConnections);
  a.bytes_to_destination += 100;
  a.bytes_from_destination += 2000;
  a.connect_seconds.observe(std::chrono::milliseconds(3));
  shared.auth_refusals.refuse("192.0.2.1", frame::AuthStatus::UnknownKey, "x");
  const std::string text = render_server_metrics(shared, {.tunnels = 4, .threads = 2});

  EXPECT_TRUE(text.starts_with("# HELP mxegress_server_sessions_started_total "));
  EXPECT_TRUE(has_line(text, "mxegress_server_sessions_started_total{tenant=\"a\"} 3"));
  EXPECT_TRUE(has_line(text, "mxegress_server_sessions_started_total{tenant=\"idle\"} 0"));
  EXPECT_TRUE(
      has_line(text, "mxegress_server_sessions_ended_total{tenant=\"a\",result=\"closed\"} 1"));
  EXPECT_TRUE(has_line(
      text, "mxegress_server_sessions_ended_total{tenant=\"a\",result=\"not_allowed\"} 1"));
  EXPECT_TRUE(has_line(text, "mxegress_server_sessions_active{tenant=\"a\"} 1"));
  EXPECT_TRUE(has_line(
      text, "mxegress_server_relayed_bytes_total{tenant=\"a\",direction=\"to_destination\"} 100"));
  EXPECT_TRUE(has_line(
      text,
      "mxegress_server_relayed_bytes_total{tenant=\"a\",direction=\"from_destination\"} 2000"));
  EXPECT_TRUE(has_line(
      text, "mxegress_server_connect_duration_seconds_bucket{tenant=\"a\",le=\"0.0025\"} 0"));
  EXPECT_TRUE(has_line(
      text, "mxegress_server_connect_duration_seconds_bucket{tenant=\"a\",le=\"0.005\"} 1"));
  EXPECT_TRUE(has_line(
      text, "mxegress_server_connect_duration_seconds_bucket{tenant=\"a\",le=\"+Inf\"} 1"));
  EXPECT_TRUE(has_line(text, "mxegress_server_connect_duration_seconds_count{tenant=\"a\"} 1"));
  EXPECT_TRUE(has_line(
      text, "mxegress_server_limit_refusals_total{tenant=\"a\",limit=\"max_connections\"} 1"));
  EXPECT_TRUE(has_line(
      text, "mxegress_server_auth_failures_total{via=\"tunnel\",reason=\"unknown_key\"} 1"));
  EXPECT_TRUE(has_line(
      text, "mxegress_server_auth_failures_total{via=\"socks5\",reason=\"bad_password\"} 0"));
  EXPECT_TRUE(has_line(text, "mxegress_server_tunnels_active 4"));
  EXPECT_TRUE(has_line(text, "mxegress_server_unauthenticated_connections 0"));
  EXPECT_TRUE(has_line(text, "mxegress_server_threads 2"));
  // One HELP and one TYPE per family.
  size_t helps = 0;
  for (size_t at = 0;
       (at = text.find("# HELP mxegress_server_sessions_ended_total", at)) != std::string::npos;
       ++at) {
    ++helps;
  }
  EXPECT_EQ(helps, 1u);
}

TEST(ServerMetrics, ReadyOnlyWhenListeningNotDrainingAndSourcesBind) {
  EXPECT_TRUE(server_readiness(true, false, {}).ready);
  const Readiness down = server_readiness(false, false, {});
  EXPECT_FALSE(down.ready);
  EXPECT_EQ(down.reason, "listeners are not up");
  EXPECT_EQ(server_readiness(true, true, {}).reason, "draining: stopping");
  const Readiness unbound =
      server_readiness(true, false,
                       {"server.toml: tenant \"a\".source: 192.0.2.7 is not an "
                        "address of this host (cannot assign requested address)",
                        "second"});
  EXPECT_FALSE(unbound.ready);
  EXPECT_TRUE(unbound.reason.find("192.0.2.7") != std::string::npos);
}


TEST(ServerMetrics, TheFleetsModeAndSizeOnlyWithAFleet) {
  SharedServerState shared;
  EXPECT_EQ(render_server_metrics(shared, {.tunnels = 0, .threads = 1}).find("mxegress_fleet"),
            std::string::npos);
  const ServerGauges with_fleet{.tunnels = 0, .threads = 1, .fleet = true};
  std::string text = render_server_metrics(shared, with_fleet);
  EXPECT_TRUE(has_line(text, "mxegress_fleet_shared 0")) << text;  // Redis not reached yet
  EXPECT_TRUE(has_line(text, "mxegress_fleet_size 1"));
  shared.fleet.on_answer(3);
  text = render_server_metrics(shared, with_fleet);
  EXPECT_TRUE(has_line(text, "mxegress_fleet_shared 1"));
  EXPECT_TRUE(has_line(text, "mxegress_fleet_size 3"));
  shared.fleet.on_failure();
  text = render_server_metrics(shared, with_fleet);
  EXPECT_TRUE(has_line(text, "mxegress_fleet_shared 0"));
  EXPECT_TRUE(has_line(text, "mxegress_fleet_size 3"));
}

}  // namespace
}  // namespace mx
