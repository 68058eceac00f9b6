// The server's side of one tunnel: TLS handshake and AUTH (codec/auth.h:
// key → tenant, then the tenant's `enabled` and `tunnel_from`), then a
// TunnelEndpoint whose sessions a SessionDispatch runs. It retires (GOAWAY,
// closed after the last session) when a reload no longer allows its key or
// on drain, and closes when it carried no session for `idle_timeout`.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "auth_refusals.h"
#include "mxegress/crypto/client_identity.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/tunnel_endpoint.h"
#include "mxegress/util/concurrency_limit.h"
#include "server_snapshot.h"
#include "session_dispatch.h"

namespace mx {

class ServerTunnel final : private TunnelHandler, private TunnelEndpointOwner, private SessionGate {
 public:
  using FinishedCallback = std::function<void(ServerTunnel*)>;
  using SnapshotSource = std::function<std::shared_ptr<const ServerSnapshot>()>;

  // `startup`: its place among the unauthenticated (StartupGate), given
  // back once AUTH succeeds. `refusals`: the server's count and log of
  // refused AUTHs.
  ServerTunnel(EgressContext context, SnapshotSource snapshots, SSL_CTX* tls,
               std::unique_ptr<TcpConnection> connection, ConcurrencyLimit::Slot startup,
               AuthRefusals& refusals, FinishedCallback finished);
  ~ServerTunnel() override;

  void start();
  // A new configuration is in force: a tunnel whose key or tenant is no
  // longer allowed retires; a disabled or removed tenant's sessions are cut.
  void on_reload();
  // The server is stopping: retire (closed after the last session).
  void on_drain();
  size_t sessions() const { return dispatch_ ? dispatch_->size() : 0; }

 private:
  // The handshake: TLS, then AUTH.
  void on_tunnel_ready() override;
  void on_tunnel_frame(const frame::Frame& f) override;
  void on_tunnel_closed(const std::string& why) override { finish(why, 0); }
  void authenticate(const frame::Frame& f);
  void refuse_auth(frame::AuthStatus status, const std::string& detail);

  // The endpoint, once authenticated.
  void on_session_request(uint32_t id, ByteView body) override;
  void on_goaway() override {}  // the endpoint refuses GOAWAY on the server's side
  void on_endpoint_closed(const std::string& why, size_t sessions) override {
    finish(why, sessions);
  }

  // SessionGate
  const ServerConfig::Tenant* admit(std::shared_ptr<const ServerSnapshot>& snapshot,
                                    std::string& refusal) override;
  void on_refused(const std::string& why) override { retire(why); }
  bool retiring() const override { return goaway_sent_; }
  void on_sessions_over() override;

  // Why this tunnel's key may not be used now (nullopt: it may).
  std::optional<std::string> key_refusal(const ServerSnapshot& snapshot,
                                         const ServerConfig::Tenant** tenant) const;
  void retire(const std::string& why);
  void start_idle_timer();
  void close(const std::string& why);
  void finish(const std::string& why, size_t sessions);

  EgressContext ctx_;
  SnapshotSource snapshots_;
  std::string peer_;
  std::optional<SocketAddress> peer_address_;
  std::unique_ptr<Tunnel> tunnel_;             // until AUTH succeeds
  std::unique_ptr<TunnelEndpoint> endpoint_;   // from then on (it owns the tunnel)
  std::unique_ptr<SessionDispatch> dispatch_;  // with the endpoint
  ConcurrencyLimit::Slot startup_;
  AuthRefusals& refusals_;
  FinishedCallback finished_;
  Timer timer_;  // handshake deadline, then idle-tunnel deadline
  PublicKey key_{};
  std::string key_text_;
  std::string tenant_;
  bool goaway_sent_ = false;
  bool closing_ = false;  // we closed it (not a loss)
  bool finished_called_ = false;
};

}  // namespace mx
