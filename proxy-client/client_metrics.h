// The client's /metrics and /readyz (docs/metrics.md): sessions by the front
// that accepted them (mode) and how they ended, counted by TunnelSession in
// plain integers (the client runs one loop, and scrapes are served on it);
// the pool's tunnels, openings and hits, read from TunnelPool at scrape
// time; and the readiness rule.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/metrics/metrics_routes.h"
#include "mxegress/metrics/session_result.h"
#include "tunnel_pool.h"

namespace mx {

enum class SessionMode : uint8_t { Socks5, Transparent, Forward };
inline constexpr size_t kSessionModes = 3;
std::string_view session_mode_label(SessionMode mode);  // "socks5", "transparent", "forward"

struct ClientSessionCounts {
  std::array<uint64_t, kSessionModes> started{};
  std::array<std::array<uint64_t, kSessionResults>, kSessionModes> ended{};

  void start(SessionMode mode) { ++started[static_cast<size_t>(mode)]; }
  void end(SessionMode mode, SessionResult result) {
    ++ended[static_cast<size_t>(mode)][static_cast<size_t>(result)];
  }
};

std::string render_client_metrics(const ClientSessionCounts& sessions,
                                  const std::vector<PoolServerView>& servers,
                                  const PoolCounts& pool);

// Ready while some server is up and has an authenticated tunnel open (so a
// session costs no handshake and, above all, has somewhere to go), and the
// client is not draining. The reason names each server's state.
Readiness client_readiness(const std::vector<PoolServerView>& servers, bool draining);

}  // namespace mx
