// mxegress-server at run time: the tunnel and SOCKS5 listeners, every live
// tunnel and session, per-tenant usage, the trail, and reload.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth_refusals.h"
#include "fleet/fleet_client.h"
#include "lookup_gate.h"
#include "mxegress/config/server_config.h"
#include "mxegress/crypto/password_cache.h"
#include "mxegress/crypto/tls_context.h"
#include "mxegress/loop/resolver.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/loop/timer.h"
#include "server_snapshot.h"
#include "server_socks5_session.h"
#include "server_tunnel.h"
#include "smtp/provider_learner.h"
#include "smtp/smtp_observations.h"
#include "startup_gate.h"
#include "tenant_usage.h"
#include "trail.h"

namespace mx {

// Checks what the parser cannot: every tenant source address is an address
// of this host (a bind test), the trail file can be written
// (check_trail_writable: nothing is created). Errors are "FILE: KEY: WHY"
// like the parser's. --check, start and reload.
std::vector<std::string> check_server_environment(const ServerConfig& config,
                                                  const std::string& source_name);
// The source addresses alone, for /readyz (which asks the trail itself).
// Why `address` cannot be a source address here ("" when it can): binding
// port 0 on it fails exactly when it is not one of this host's (no
// IP_FREEBIND). Also `mxegress-server check`'s first check.
std::string source_bind_error(const SocketAddress& address);

std::vector<std::string> check_source_addresses(const ServerConfig& config,
                                                const std::string& source_name);

// What the loop threads share. Every member is thread-safe.
struct SharedServerState {
  UsageRegistry usage;
  TrailWriter trail;
  StartupGate startups;        // connections not yet authenticated
  LookupGate lookups;          // the caps on name lookups in flight ([resolver])
  PasswordChecker passwords;   // the SOCKS5 listener's argon2id checks ([socks5])
  AuthRefusals auth_refusals;  // tunnels refused at AUTH, counted by reason
  FleetState fleet;            // with [fleet]: shared or local limits, the fleet size
  SmtpObservations smtp;       // what the MXes said before TLS ([smtp])
};

// [socks5] password_workers ... login_backoff, as the checker takes them.
inline PasswordChecker::Settings password_settings(const ServerConfig& config) {
  const ServerConfig::Socks5& socks5 = config.socks5;
  return {socks5.password_workers,
          socks5.max_password_checks,
          socks5.max_password_checks_per_address,
          {socks5.login_failures, socks5.login_backoff}};
}

// [resolver] max_lookups and max_lookups_per_tenant, as the gate takes them.
inline LookupGate::Caps lookup_caps(const ServerConfig& config) {
  return {config.resolver.max_lookups, config.resolver.max_lookups_per_tenant};
}

using SharedSslCtx = std::shared_ptr<SSL_CTX>;

// How a server's loops even out their tunnels (ServerRuntime). SO_REUSEPORT
// spreads connections by a hash, and a multiplexed tunnel carries many
// sessions: four tunnels over two loops often land three and one.
class TunnelBalancer {
 public:
  virtual ~TunnelBalancer() = default;
  // Passes a tunnel just accepted on loop `from` to a loop with fewer
  // tunnels, with its StartupGate slot; false (nothing done) when `from`
  // has the fewest.
  virtual bool pass_tunnel(size_t from, TcpConnection& connection,
                           ConcurrencyLimit::Slot& startup) = 0;
  virtual void tunnels_now(size_t loop, size_t count) = 0;
  virtual void tunnel_arrived(size_t loop) = 0;  // one passed to `loop` reached it
};

// The server on one loop thread: its listeners (SO_REUSEPORT when there
// are several threads), its tunnels and sessions. Every call is made on
// that thread.
class EgressServer {
 public:
  EgressServer(Loop& loop, SharedServerState& shared,
               std::shared_ptr<const ServerSnapshot> snapshot, SharedSslCtx tls,
               TunnelBalancer* balancer = nullptr, size_t index = 0);
  ~EgressServer();

  std::string start(bool reuse_port);  // error text, empty when every listener is up
  void stop();                         // stops listening and closes every tunnel and session
  // Stops listening and closes idle tunnels; live sessions may finish within
  // drain_timeout; then everything is closed and `stopped` runs.
  void drain(std::function<void()> stopped);
  // A reloaded configuration: new sessions use it; tunnels and sessions
  // that it no longer allows are closed or cut.
  void apply(std::shared_ptr<const ServerSnapshot> snapshot, SharedSslCtx tls);
  // A tunnel socket another loop accepted and passed here, with its slot.
  void adopt_tunnel(int fd, ConcurrencyLimit::Slot startup);
  size_t tunnel_count() const { return tunnels_.size(); }
  size_t session_count() const;  // on its tunnels and its SOCKS5 listener

 private:
  void on_tunnel_accept(std::unique_ptr<TcpConnection> connection);
  void on_socks5_accept(std::unique_ptr<TcpConnection> connection);
  void start_tunnel(std::unique_ptr<TcpConnection> connection, ConcurrencyLimit::Slot startup);
  // [server] tcp_keepalive and tcp_user_timeout, on an accepted or adopted socket.
  void set_liveness(TcpConnection& connection);
  void report_tunnels();
  void set_snapshot(std::shared_ptr<const ServerSnapshot> snapshot);
  std::shared_ptr<const ServerSnapshot> snapshot() const { return snapshot_; }
  // Ends a tunnel or session that reported its end (from inside its callback).
  template <typename Map, typename Key>
  void forget(Map& map, Key key);
  void check_drained();
  std::vector<ServerTunnel*> tunnel_list() const;

  Loop& loop_;
  SharedServerState& shared_;
  Resolver resolver_;  // this loop's; goes after every session (declared before them)
  // With [fleet] (read at start): this loop's Redis connection and leases;
  // goes after every session too.
  std::unique_ptr<FleetClient> fleet_;
  std::shared_ptr<const ServerSnapshot> snapshot_;
  // The providers of MX addresses by their PTR names; after every session too.
  ProviderLearner provider_learner_;
  SharedSslCtx tls_;
  std::shared_ptr<PasswordCache> socks5_passwords_;  // sessions share it across reloads
  std::vector<std::unique_ptr<TcpListener>> listeners_;
  std::unordered_map<ServerTunnel*, std::unique_ptr<ServerTunnel>> tunnels_;
  std::unordered_map<ServerSocks5Session*, std::unique_ptr<ServerSocks5Session>> socks5_sessions_;
  std::unique_ptr<Timer> drain_timer_;
  std::function<void()> on_drained_;
  DeferredCall drained_soon_;
  TunnelBalancer* balancer_;
  size_t index_;
  bool stopping_ = false;  // drain or stop: no more tunnels
};

}  // namespace mx
