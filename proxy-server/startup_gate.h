// Connections not yet authenticated (a tunnel before its TLS handshake and
// AUTH succeed, a SOCKS5 client before its login), capped in total and per
// source address like OpenSSH's MaxStartups: [server] max_unauthenticated
// and max_unauthenticated_per_address. Above a cap a new connection is
// closed at once, so a flood of strangers costs a socket each for a moment
// and never the TLS state, buffers and timers of a handshake. Each refusal
// is counted (refused()) and logged, at most one line per 10 s.
//
// Thread-safe: one gate serves every loop thread of the server.
#pragma once

#include <string_view>

#include "mxegress/config/server_config.h"
#include "mxegress/net/socket_address.h"
#include "mxegress/util/concurrency_limit.h"
#include "mxegress/util/log_rate_limit.h"

namespace mx {

class StartupGate {
 public:
  StartupGate();
  void apply(const ServerConfig::Server& server);  // at start and on reload

  // A slot the connection holds until it has authenticated, or an empty
  // one when it must be closed now (logged and counted). `port` names the
  // listener for the log: "tunnel" or "socks5".
  ConcurrencyLimit::Slot admit(const SocketAddress& peer, std::string_view port);

  ConcurrencyLimit::Refused refused() const { return limit_.refused(); }
  size_t unauthenticated() const { return limit_.in_flight(); }

 private:
  ConcurrencyLimit limit_;
  LogRateLimit log_;
};

}  // namespace mx
