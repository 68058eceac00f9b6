// mxegress-client at run time: the SOCKS5, transparent and forward
// listeners, the tunnel pool, every live session, and the drain on SIGTERM.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "client_metrics.h"
#include "local_session.h"
#include "mxegress/config/client_config.h"
#include "mxegress/crypto/password_cache.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/loop/timer.h"
#include "mxegress/metrics/metrics_http_server.h"
#include "reload_plan.h"
#include "tunnel_pool.h"

namespace mx {

class EgressClient {
 public:
  EgressClient(Loop& loop, ClientConfig config);
  ~EgressClient();

  // Error text, empty on success. `ready` (optional) runs once every
  // listener is bound and the first server answered (its first tunnel
  // authenticated or failed) or retry_interval passed, whichever is first.
  std::string start(ClientIdentity identity, std::function<void()> ready = {});
  // Stops accepting; live sessions may finish within drain_timeout; then
  // everything is closed and `stopped` runs.
  void drain(std::function<void()> stopped);
  void stop();
  // "1/2 servers up, 3 tunnels, 5 sessions"
  std::string status() const;

  // SIGHUP: `next` (loaded and validated by the caller, with its key) replaces
  // the running configuration (reload_plan.h says what changes). Returns why
  // it was refused ("", applied): a TLS context that cannot be built, or a new
  // listener that cannot be bound (the ones bound for it are closed again);
  // nothing changed then. Live sessions go on where they are.
  std::string reload(ClientConfig next, const ClientIdentity& identity);

 private:
  using Factory = std::function<std::unique_ptr<LocalSession>(std::unique_ptr<TcpConnection>)>;
  struct Listener {
    ListenerSpec spec;
    std::unique_ptr<TcpListener> listener;
  };
  // A bound listener for `spec`, or null (err set).
  std::unique_ptr<TcpListener> listen(const ListenerSpec& spec, std::string& err);
  Factory factory_for(const ListenerSpec& spec);
  void on_session_finished(LocalSession* session);
  void finish_drain();
  void announce_ready();
  // [metrics] listen: /metrics, /healthz, /readyz on the client's loop.
  std::string start_metrics();

  Loop& loop_;
  ClientConfig config_;
  // The checks of SOCKS5 logins, with the server's defaults (PasswordChecker).
  std::unique_ptr<PasswordChecker> checker_;  // null: no SOCKS5 login
  std::unique_ptr<PasswordCache> passwords_;  // null: no SOCKS5 login
  std::unique_ptr<TunnelPool> pool_;
  std::vector<Listener> listeners_;
  PublicKey public_key_{};  // the identity's, to tell a new key on reload
  std::unordered_map<LocalSession*, std::unique_ptr<LocalSession>> sessions_;
  Timer drain_timer_;
  Timer ready_timer_;  // retry_interval after the start
  std::function<void()> on_ready_;
  std::function<void()> on_drained_;
  DeferredCall finish_drain_soon_;  // outside the callback of the last session
  ClientSessionCounts session_counts_;
  bool draining_ = false;
  std::unique_ptr<MetricsHttpServer> metrics_;  // first to go: its endpoints read the rest
};

}  // namespace mx
