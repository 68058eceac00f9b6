#include "client_metrics.h"

#include "mxegress/metrics/prometheus_text.h"

namespace mx {
namespace {
using Type = PrometheusText::Type;
}  // namespace

std::string_view session_mode_label(SessionMode mode) {
  switch (mode) {
    case SessionMode::Socks5:
      return "socks5";
    case SessionMode::Transparent:
      return "transparent";
    case SessionMode::Forward:
      return "forward";
  }
  return "socks5";
}

std::string render_client_metrics(const ClientSessionCounts& sessions,
                                  const std::vector<PoolServerView>& servers,
                                  const PoolCounts& pool) {
  PrometheusText out;
  out.family("mxegress_client_sessions_started_total", Type::Counter,
             "Sessions that asked for a tunnel, by the front that accepted them.");
  for (size_t m = 0; m < kSessionModes; ++m) {
    out.sample("mxegress_client_sessions_started_total",
               {{"mode", session_mode_label(static_cast<SessionMode>(m))}}, sessions.started[m]);
  }
  out.family("mxegress_client_sessions_ended_total", Type::Counter,
             "Sessions ended, by mode and result: the server's SOCKS5 reply of a failed one, "
             "no_tunnel, cancelled, or how its relay ended.");
  for (size_t m = 0; m < kSessionModes; ++m) {
    for (size_t r = 0; r < kSessionResults; ++r) {
      out.sample("mxegress_client_sessions_ended_total",
                 {{"mode", session_mode_label(static_cast<SessionMode>(m))},
                  {"result", session_result_label(static_cast<SessionResult>(r))}},
                 sessions.ended[m][r]);
    }
  }
  out.family("mxegress_client_sessions_active", Type::Gauge,
             "Sessions started and not ended: waiting for a tunnel or reply, or relaying.");
  for (size_t m = 0; m < kSessionModes; ++m) {
    uint64_t ended = 0;
    for (const uint64_t count : sessions.ended[m]) ended += count;
    const uint64_t started = sessions.started[m];
    out.sample("mxegress_client_sessions_active",
               {{"mode", session_mode_label(static_cast<SessionMode>(m))}},
               static_cast<int64_t>(started >= ended ? started - ended : 0));
  }
  out.family("mxegress_client_tunnels", Type::Gauge,
             "Tunnels by server and state: opening (resolve, TCP, TLS, AUTH), ready (open, "
             "with room for a session), busy (open, full or retiring).");
  for (const PoolServerView& s : servers) {
    out.sample("mxegress_client_tunnels", {{"server", s.name}, {"state", "opening"}},
               static_cast<uint64_t>(s.opening));
    out.sample("mxegress_client_tunnels", {{"server", s.name}, {"state", "ready"}},
               static_cast<uint64_t>(s.ready));
    out.sample("mxegress_client_tunnels", {{"server", s.name}, {"state", "busy"}},
               static_cast<uint64_t>(s.open >= s.ready ? s.open - s.ready : 0));
  }
  out.family("mxegress_client_server_up", Type::Gauge,
             "1 while the server is up, 0 from a failed tunnel opening until one succeeds.");
  for (const PoolServerView& s : servers) {
    out.sample("mxegress_client_server_up", {{"server", s.name}}, uint64_t{s.up ? 1u : 0u});
  }
  out.family("mxegress_client_tunnel_open_failures_total", Type::Counter,
             "Tunnel openings that failed (resolve, TCP, TLS or AUTH).");
  for (const PoolServerView& s : servers) {
    out.sample("mxegress_client_tunnel_open_failures_total", {{"server", s.name}}, s.open_failures);
  }
  out.family("mxegress_client_tunnel_open_duration_seconds", Type::Histogram,
             "Time to open a tunnel (resolve, TCP, TLS handshake, AUTH), successful openings.");
  for (const PoolServerView& s : servers) {
    if (s.open_seconds == nullptr) continue;
    out.histogram("mxegress_client_tunnel_open_duration_seconds", {{"server", s.name}},
                  s.open_seconds->values());
  }
  out.family("mxegress_client_pool_requests_total", Type::Counter,
             "Sessions given a stream on an already open tunnel (hit) or that had to wait for "
             "one to open (miss; a retry after a dead tunnel included).");
  out.sample("mxegress_client_pool_requests_total", {{"result", "hit"}}, pool.hits);
  out.sample("mxegress_client_pool_requests_total", {{"result", "miss"}}, pool.misses);
  return out.text();
}

Readiness client_readiness(const std::vector<PoolServerView>& servers, bool draining) {
  if (draining) return {false, "draining: stopping"};
  std::string states;
  for (const PoolServerView& s : servers) {
    if (s.up && s.open > 0) return {true, {}};
    if (!states.empty()) states += ", ";
    states += s.name + (s.up ? " up, no tunnel open" : " down");
    if (s.opening > 0) states += " (" + std::to_string(s.opening) + " opening)";
  }
  return {false, "no server is up with an authenticated tunnel: " + states};
}

}  // namespace mx
