// Connections not yet authenticated (a tunnel before its TLS handshake and
// AUTH succeed, a SOCKS5 client before its login), capped in total and per
// source address like OpenSSH's MaxStartups: [server] max_unauthenticated
// and max_unauthenticated_per_address. Above a cap a new connection is
// closed at once, so a flood of strangers costs a socket each for a moment
// and never the TLS state, buffers and timers of a handshake. Each refusal
// is counted (refused()) and logged, at most one line per 10 s.
//
// The per-address cap counts an IPv4 peer by its address and an IPv6 peer
// by its /64 (one host usually holds a whole /64); an IPv4-mapped IPv6
// peer counts as its IPv4 address.
//
// Thread-safe: one gate serves every loop thread of the server.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "mxegress/config/server_config.h"
#include "mxegress/net/socket_address.h"
#include "mxegress/util/concurrency_limit.h"
#include "mxegress/util/log_rate_limit.h"

namespace mx {

class StartupGate {
 public:
  StartupGate();
  void apply(const ServerConfig::Server& server);  // at start and on reload

  enum class Port { Tunnel, Socks5 };  // the listener, named in the log

  // A slot the connection holds until it has authenticated, or an empty
  // one when it must be closed now (logged and counted). Each listener has
  // its own log rate limit, so a flood at one does not hide the other.
  ConcurrencyLimit::Slot admit(const SocketAddress& peer, Port port);

  // A SOCKS5 connection from an address in no user's `from`, closed at once
  // before the caps: counted (strangers()) and logged like a refusal above,
  // at most one line per 10 s.
  void refuse_stranger(const std::optional<SocketAddress>& peer);
  uint64_t strangers() const { return strangers_.load(std::memory_order_relaxed); }

  // What the per-address cap counts `peer` under: "192.0.2.1",
  // "2001:db8:1:2::/64".
  static std::string key_for(const SocketAddress& peer);

  ConcurrencyLimit::Refused refused() const { return limit_.refused(); }
  size_t unauthenticated() const { return limit_.in_flight(); }
  size_t unauthenticated_from(const SocketAddress& peer) const {
    return limit_.in_flight(key_for(peer));
  }
  ConcurrencyLimit::Caps caps() const { return limit_.caps(); }

 private:
  ConcurrencyLimit limit_;
  LogRateLimit tunnel_log_;
  LogRateLimit socks5_log_;
  LogRateLimit strangers_log_;
  std::atomic<uint64_t> strangers_{0};
};

}  // namespace mx
