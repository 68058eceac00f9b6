// The server's side of one tunnel: TLS handshake, AUTH, then any number of
// sessions (CONNECT → dial → reply → relay) one after the other.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "dialer.h"
#include "mxegress/config/server_config.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/pump.h"
#include "mxegress/relay/tunnel.h"
#include "tenant_directory.h"

namespace mx {

struct ServerContext {
  Loop& loop;
  SSL_CTX* tls;
  const ServerConfig& config;
  const TenantDirectory& tenants;
  const DestinationPolicy& policy;
};

class ServerTunnel final : private TunnelHandler {
 public:
  using FinishedCallback = std::function<void(ServerTunnel*)>;

  ServerTunnel(ServerContext context, std::unique_ptr<TcpConnection> connection,
               FinishedCallback finished);
  ~ServerTunnel() override;

  void start();

 private:
  enum class State { Handshake, Authenticating, Idle, Dialing, Relaying, Closed };

  void on_tunnel_ready() override;
  void on_tunnel_frame(const frame::Frame& f) override;
  void on_tunnel_closed(const std::string& why) override;

  void authenticate(const frame::Frame& f);
  void refuse_auth(frame::AuthStatus status, const std::string& detail);
  void start_session(const frame::Frame& f);
  void on_dialed(DialResult result);
  void on_relay_done(const RelayOutcome& outcome);
  void send_reply(socks5::Reply reply, const Target& bound);
  void log_session_end(const std::string& end, uint64_t up, uint64_t down);
  void close(const std::string& why);
  void enter_idle();

  ServerContext ctx_;
  std::string peer_;
  std::unique_ptr<Tunnel> tunnel_;
  FinishedCallback finished_;
  State state_ = State::Handshake;
  Timer timer_;  // handshake deadline, then idle-tunnel deadline
  std::string tenant_;
  // The current session
  std::unique_ptr<Dialer> dialer_;
  std::unique_ptr<TcpConnection> upstream_;
  std::unique_ptr<Pump> pump_;
  Target target_;
  DialResult dial_;
  std::chrono::steady_clock::time_point session_start_;
  uint64_t sessions_ = 0;
};

}  // namespace mx
