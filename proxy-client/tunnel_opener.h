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
#include "mxegress/loop/resolver.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/tunnel.h"

namespace mx {

struct OpenedTunnel {
  std::unique_ptr<Tunnel> tunnel;  // null on failure
  uint32_t send_window = 0;        // the server's credit per session
  std::string error;               // why not, on failure
};

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
  void fail(const std::string& why);
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
