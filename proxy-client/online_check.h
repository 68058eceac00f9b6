// `mxegress-client --check --online`: one authenticated tunnel to each
// configured [[server]], opened by the pool's own TunnelOpener (so the check
// tries exactly what the client does), and a verdict per server.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mxegress/config/client_config.h"
#include "mxegress/crypto/client_identity.h"
#include "mxegress/loop/loop.h"
#include "tunnel_opener.h"

namespace mx {

struct ServerCheck {
  std::string server;  // the [[server]] address as configured
  OpenFailure failure = OpenFailure::None;
  std::string tls_version;              // when it opened: "TLSv1.3"
  std::optional<Sha256> presented_pin;  // when the certificate was refused
  std::string error;                    // the opener's reason, when it failed
};

// Opens one tunnel to every server at once and waits for all (each within
// `[client] handshake_timeout`); the results are in the order of the file.
// Empty with `err` set when the check could not start (resolver, TLS context).
std::vector<ServerCheck> check_servers_online(Loop& loop, const ClientConfig& config,
                                              const ClientIdentity& identity, std::string& err);

// One line per server: "egress.example.net:8443: ok (TLSv1.3)",
// "...: wrong pin: the server presented sha256/...", "...: key refused: ...",
// "...: unreachable: cannot connect to ...".
std::string describe(const ServerCheck& check);

// Every server must answer: a server that cannot be reached now is the
// failover that will not be there when it is needed.
bool every_server_ok(const std::vector<ServerCheck>& checks);

}  // namespace mx
