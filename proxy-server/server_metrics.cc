#include "server_metrics.h"

#include "egress_server.h"
#include "mxegress/metrics/prometheus_text.h"
#include "smtp/smtp_metrics.h"

namespace mx {
namespace {

using Type = PrometheusText::Type;

void tenant_families(PrometheusText& out, const UsageRegistry& usage) {
  out.family(
      "mxegress_server_sessions_started_total", Type::Counter,
      "Sessions started for a tenant (after its tunnel or SOCKS5 login, before its limits).");
  usage.for_each([&](const std::string& tenant, const TenantUsage& u) {
    out.sample("mxegress_server_sessions_started_total", {{"tenant", tenant}},
               u.metrics().sessions_started.load(std::memory_order_relaxed));
  });
  out.family("mxegress_server_sessions_ended_total", Type::Counter,
             "Sessions ended, by result: the SOCKS5 reply of a refused or failed one, "
             "cancelled, or how its relay ended.");
  usage.for_each([&](const std::string& tenant, const TenantUsage& u) {
    for (size_t i = 0; i < kSessionResults; ++i) {
      const auto result = static_cast<SessionResult>(i);
      if (result == SessionResult::NoTunnel) continue;  // the client's only
      out.sample("mxegress_server_sessions_ended_total",
                 {{"tenant", tenant}, {"result", session_result_label(result)}},
                 u.metrics().sessions_ended[i].load(std::memory_order_relaxed));
    }
  });
  out.family("mxegress_server_sessions_active", Type::Gauge,
             "Sessions started and not ended: dialing or relaying.");
  usage.for_each([&](const std::string& tenant, const TenantUsage& u) {
    // Ended first: a session that ends between the two reads is then
    // counted as still active, never as fewer than none.
    uint64_t ended = 0;
    for (const auto& count : u.metrics().sessions_ended) {
      ended += count.load(std::memory_order_relaxed);
    }
    const uint64_t started = u.metrics().sessions_started.load(std::memory_order_relaxed);
    out.sample("mxegress_server_sessions_active", {{"tenant", tenant}},
               static_cast<int64_t>(started >= ended ? started - ended : 0));
  });
  out.family("mxegress_server_relayed_bytes_total", Type::Counter,
             "Bytes relayed by ended sessions: to_destination (what the client sent) and "
             "from_destination.");
  usage.for_each([&](const std::string& tenant, const TenantUsage& u) {
    out.sample("mxegress_server_relayed_bytes_total",
               {{"tenant", tenant}, {"direction", "to_destination"}},
               u.metrics().bytes_to_destination.load(std::memory_order_relaxed));
    out.sample("mxegress_server_relayed_bytes_total",
               {{"tenant", tenant}, {"direction", "from_destination"}},
               u.metrics().bytes_from_destination.load(std::memory_order_relaxed));
  });
  out.family("mxegress_server_connect_duration_seconds", Type::Histogram,
             "Time from the start of a dial (lookup included) to the destination's connection "
             "being established, for successful dials.");
  usage.for_each([&](const std::string& tenant, const TenantUsage& u) {
    out.histogram("mxegress_server_connect_duration_seconds", {{"tenant", tenant}},
                  u.metrics().connect_seconds.values());
  });
  out.family("mxegress_server_limit_refusals_total", Type::Counter,
             "Sessions refused by one of the tenant's limits, the caps on lookups in flight, or "
             "a trail file that cannot be written (limit=trail).");
  usage.for_each([&](const std::string& tenant, const TenantUsage& u) {
    for (size_t i = 0; i < kTenantLimits; ++i) {
      out.sample("mxegress_server_limit_refusals_total",
                 {{"tenant", tenant}, {"limit", tenant_limit_label(static_cast<TenantLimit>(i))}},
                 u.metrics().limit_refusals[i].load(std::memory_order_relaxed));
    }
  });
}

std::string_view auth_reason_label(frame::AuthStatus status) {
  switch (status) {
    case frame::AuthStatus::UnknownKey:
      return "unknown_key";
    case frame::AuthStatus::BadSignature:
      return "bad_signature";
    case frame::AuthStatus::UnsupportedVersion:
      return "unsupported_version";
    case frame::AuthStatus::NotAllowed:
      return "not_allowed";
    case frame::AuthStatus::Malformed:
      return "malformed";
    case frame::AuthStatus::Ok:
      break;
  }
  return "ok";
}

void process_families(PrometheusText& out, const SharedServerState& shared,
                      const ServerGauges& gauges) {
  out.family("mxegress_server_auth_failures_total", Type::Counter,
             "Refused logins: tunnels refused at AUTH by status, SOCKS5 logins by why.");
  for (uint8_t s = 1; s <= static_cast<uint8_t>(frame::AuthStatus::Malformed); ++s) {
    const auto status = static_cast<frame::AuthStatus>(s);
    out.sample("mxegress_server_auth_failures_total",
               {{"via", "tunnel"}, {"reason", auth_reason_label(status)}},
               shared.auth_refusals.count(status));
  }
  const PasswordChecker::Counts logins = shared.passwords.counts();
  out.sample("mxegress_server_auth_failures_total", {{"via", "socks5"}, {"reason", "bad_password"}},
             logins.bad_passwords);
  out.sample("mxegress_server_auth_failures_total", {{"via", "socks5"}, {"reason", "busy"}},
             logins.refused_total);
  out.sample("mxegress_server_auth_failures_total",
             {{"via", "socks5"}, {"reason", "busy_per_address"}}, logins.refused_per_address);
  out.sample("mxegress_server_auth_failures_total", {{"via", "socks5"}, {"reason", "backoff"}},
             logins.refused_backoff);

  out.family("mxegress_server_tunnels_active", Type::Gauge,
             "Tunnel connections on the loops, from accept to close (authenticated or not).");
  out.sample("mxegress_server_tunnels_active", {}, static_cast<uint64_t>(gauges.tunnels));
  out.family("mxegress_server_unauthenticated_connections", Type::Gauge,
             "Connections not yet authenticated (tunnels before AUTH, SOCKS5 before login).");
  out.sample("mxegress_server_unauthenticated_connections", {},
             static_cast<uint64_t>(shared.startups.unauthenticated()));
  out.family("mxegress_server_unauthenticated_refusals_total", Type::Counter,
             "Connections closed at once by max_unauthenticated (cap=total) or "
             "max_unauthenticated_per_address (cap=per_address), and SOCKS5 connections from "
             "no user's addresses (cap=stranger).");
  const ConcurrencyLimit::Refused refused = shared.startups.refused();
  out.sample("mxegress_server_unauthenticated_refusals_total", {{"cap", "total"}}, refused.total);
  out.sample("mxegress_server_unauthenticated_refusals_total", {{"cap", "per_address"}},
             refused.per_key);
  out.sample("mxegress_server_unauthenticated_refusals_total", {{"cap", "stranger"}},
             shared.startups.strangers());
  const TrailWriter::Status trail = shared.trail.status();
  out.family("mxegress_server_trail_writable", Type::Gauge,
             "1 while the trail file takes lines (or none is configured), 0 while writes fail.");
  out.sample("mxegress_server_trail_writable", {}, static_cast<uint64_t>(trail.writable ? 1 : 0));
  out.family("mxegress_server_trail_backlog_lines", Type::Gauge,
             "Trail lines held in memory until the file takes lines again.");
  out.sample("mxegress_server_trail_backlog_lines", {}, static_cast<uint64_t>(trail.backlog_lines));
  out.family("mxegress_server_trail_lost_lines_total", Type::Counter,
             "Trail lines lost: not writable and beyond the in-memory backlog.");
  out.sample("mxegress_server_trail_lost_lines_total", {}, trail.lost_lines);
  out.family("mxegress_server_trail_write_errors_total", Type::Counter,
             "Failed writes (and reopenings) of the trail file, retries included.");
  out.sample("mxegress_server_trail_write_errors_total", {}, trail.write_errors);
  out.family("mxegress_server_threads", Type::Gauge, "Event-loop threads.");
  out.sample("mxegress_server_threads", {}, static_cast<uint64_t>(gauges.threads));
}

}  // namespace

std::string render_server_metrics(const SharedServerState& shared, const ServerGauges& gauges) {
  PrometheusText out;
  tenant_families(out, shared.usage);
  process_families(out, shared, gauges);
  smtp_families(out, shared.smtp);
  if (gauges.fleet) {
    out.family("mxegress_fleet_shared", Type::Gauge,
               "1 while the fleet's limits are decided on Redis, 0 while Redis cannot be "
               "reached and this server enforces each limit / mxegress_fleet_size.");
    out.sample("mxegress_fleet_shared", {},
               static_cast<uint64_t>(shared.fleet.mode() == FleetMode::Shared ? 1 : 0));
    out.family("mxegress_fleet_size", Type::Gauge,
               "The servers of the fleet alive on Redis, as last seen.");
    out.sample("mxegress_fleet_size", {}, static_cast<uint64_t>(shared.fleet.fleet_size()));
  }
  return out.text();
}

Readiness server_readiness(bool listening, bool draining,
                           const std::vector<std::string>& environment_errors) {
  if (!listening) return {false, "listeners are not up"};
  if (draining) return {false, "draining: stopping"};
  if (!environment_errors.empty()) return {false, environment_errors.front()};
  return {true, {}};
}

}  // namespace mx
