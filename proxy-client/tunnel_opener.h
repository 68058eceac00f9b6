// Opens one authenticated tunnel to one server: resolve its name, connect
// (to each of its addresses in turn until one accepts),
// TLS handshake (the server verified by pin or CA), then the AUTH exchange
// (codec/auth.h). Reports once: the tunnel and the credit the server grants
// each session, or why not, all within the handshake timeout.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "mxegress/config/client_config.h"
#include "mxegress/crypto/client_identity.h"
#include "mxegress/crypto/tls_context.h"
#include "mxegress/loop/resolver.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/tunnel.h"

namespace mx {

// Why an opening failed, as a value (`mxegress-client --check --online`
// reports by it).
enum class OpenFailure {
  None,         // opened
  Unreachable,  // the name did not resolve, or no address took the connection
  WrongPin,     // the server presented a certificate whose key is not the pinned one
  Untrusted,    // CA verification refused the server's certificate
  KeyRefused,   // the server refused our key in AUTH (unknown, disabled, not allowed, ...)
  Timeout,      // no authenticated tunnel within the handshake timeout
  Other,        // TLS or protocol error
};
const char* open_failure_name(OpenFailure failure);

struct OpenedTunnel {
  std::unique_ptr<Tunnel> tunnel;  // null on failure
  uint32_t send_window = 0;        // the server's credit per session
  std::string error;               // why not, on failure
  OpenFailure failure = OpenFailure::None;
  std::optional<Sha256> presented_pin;  // the server's certificate's pin, when it showed one
};

// The TLS context that verifies `server` (by its pin or CA), for a Target.
SslCtxPtr client_tls_context_for(const ClientConfig::Server& server, std::string& err);

class TunnelOpener final : private TunnelHandler {
 public:
  using Done = std::function<void(OpenedTunnel)>;
  struct Target {
    HostPort address;
    SSL_CTX* tls;
    std::string server_name;
  };

  // Starts at once; `done` is called once, never from inside the constructor.
  TunnelOpener(Loop& loop, NameResolver& resolver, Target target, const ClientIdentity& identity,
               uint32_t receive_window, std::chrono::milliseconds timeout, TcpLiveness liveness,
               Done done);
  ~TunnelOpener() override;
  TunnelOpener(const TunnelOpener&) = delete;
  TunnelOpener& operator=(const TunnelOpener&) = delete;
  bool finished() const { return !done_; }

 private:
  void on_resolved(ResolveResult resolved);
  void connect_next();
  void on_connected(int status);
  void on_tunnel_ready() override;
  void on_tunnel_frame(const frame::Frame& f) override;
  void on_tunnel_closed(const std::string& why) override;
  void fail(OpenFailure failure, const std::string& why);
  void finish(OpenedTunnel result);

  Loop& loop_;
  Target target_;
  const ClientIdentity& identity_;
  uint32_t receive_window_;
  TcpLiveness liveness_;
  Done done_;
  Timer deadline_;
  std::unique_ptr<Resolution> resolution_;
  std::vector<SocketAddress> addresses_;  // the server's, from the resolver
  size_t next_address_ = 0;
  std::unique_ptr<Tunnel> tunnel_;
};

}  // namespace mx
