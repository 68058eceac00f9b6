// The server's side of one tunnel: TLS handshake, AUTH (key → tenant, then
// the tenant's `enabled` and `tunnel_from`), then any number of sessions:
// one after the other (CONNECT → EgressSession → END), or, when the client
// asked for the multiplexed mode in its AUTH, many at once, each on its own
// MuxStream (docs/PROTOCOL.md).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "egress_session.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/mux_stream.h"
#include "mxegress/relay/mux_tunnel.h"
#include "mxegress/relay/tunnel.h"
#include "server_snapshot.h"

namespace mx {

class ServerTunnel final : private TunnelHandler, private MuxTunnelHandler {
 public:
  using FinishedCallback = std::function<void(ServerTunnel*)>;
  using SnapshotSource = std::function<std::shared_ptr<const ServerSnapshot>()>;

  ServerTunnel(EgressContext context, SnapshotSource snapshots, SSL_CTX* tls,
               std::unique_ptr<TcpConnection> connection, FinishedCallback finished);
  ~ServerTunnel() override;

  void start();
  // A new configuration is in force: a tunnel whose key or tenant is no
  // longer allowed closes when idle; a disabled tenant's session is cut.
  void on_reload();
  // The server is stopping: close now if idle, else after the session.
  void on_drain();

 private:
  enum class State { Handshake, Authenticating, Idle, InSession, Multiplexed, Closed };
  class MuxSession;

  void on_tunnel_ready() override;
  void on_tunnel_frame(const frame::Frame& f) override;
  void on_tunnel_closed(const std::string& why) override;

  void authenticate(const frame::Frame& f);
  // Why this tunnel's key may not be used now (nullopt: it may).
  std::optional<std::string> key_refusal(const ServerSnapshot& snapshot,
                                         const ServerConfig::Tenant** tenant) const;
  void refuse_auth(frame::AuthStatus status, const std::string& detail);
  void start_session(const frame::Frame& f);
  void on_reply(socks5::Reply reply, const Target& bound);
  void on_session_done(const RelayOutcome& outcome);
  void send_reply(socks5::Reply reply, const Target& bound);
  void answer_ping(ByteView payload);
  void end_session();
  void enter_idle();
  void start_idle_timer();
  void close(const std::string& why);

  // The multiplexed mode.
  void on_mux_frame(const frame::Frame& f) override;
  void on_mux_connect(uint32_t id, ByteView body) override;
  void on_mux_closed(const std::string& why) override;
  void on_mux_reply(uint32_t id, socks5::Reply reply, const Target& bound);
  void end_mux_session(uint32_t id);
  void cut_mux_sessions(const std::string& why);
  void send_mux_refusal(uint32_t id, socks5::Reply reply);
  // GOAWAY: no new sessions; the tunnel closes when its last one ends.
  void retire(const std::string& why);
  void stop_pong();

  EgressContext ctx_;
  SnapshotSource snapshots_;
  std::string peer_;
  std::optional<SocketAddress> peer_address_;
  std::unique_ptr<Tunnel> tunnel_;
  FinishedCallback finished_;
  State state_ = State::Handshake;
  Timer timer_;       // handshake deadline, then idle-tunnel deadline
  Timer pong_timer_;  // a PONG held back in case a CONNECT_REPLY makes it redundant
  Bytes pong_payload_;
  Key32 key_{};
  std::string key_text_;
  std::string tenant_;
  bool retire_after_session_ = false;
  std::unique_ptr<EgressSession> session_;
  std::unique_ptr<MuxTunnel> mux_;
  std::map<uint32_t, std::unique_ptr<MuxSession>> mux_sessions_;
  bool goaway_sent_ = false;
};

}  // namespace mx
