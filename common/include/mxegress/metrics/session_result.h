// How a relayed session ended, as a fixed set of labels for /metrics
// (docs/metrics.md): both programs count sessions by it, each result an
// index into an array of counters, so counting costs no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mxegress/codec/socks5.h"
#include "mxegress/relay/pump.h"

namespace mx {

// How a session ended, on either program: its SOCKS5 reply when it failed
// or was refused, else how its relay ended, or cancelled (the client left
// before the reply).
enum class SessionResult : uint8_t {
  Closed,       // relayed; both sides half-closed
  Reset,        // relayed; a side reset its connection
  IdleTimeout,  // relayed; no byte for idle_timeout
  TunnelLost,   // relayed; the tunnel under it died
  Aborted,      // relayed; cut by the server (reload, stop) or an error
  Cancelled,    // the client left before the reply
  GeneralFailure,
  NotAllowed,
  NetworkUnreachable,
  HostUnreachable,
  ConnectionRefused,
  TtlExpired,
  CommandNotSupported,
  AddressTypeNotSupported,
  NoTunnel,  // the client only: no tunnel to any server could be had
};
inline constexpr size_t kSessionResults = 15;
std::string_view session_result_label(SessionResult result);  // "closed", "not_allowed", ...
SessionResult session_result_of(socks5::Reply reply);         // a failed or refused reply
SessionResult session_result_of(const RelayOutcome& outcome);

}  // namespace mx
