// mxegress-server at run time: the tunnel and SOCKS5 listeners, every live
// tunnel and session, per-tenant usage, the trail, and reload.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mxegress/config/server_config.h"
#include "mxegress/crypto/password_cache.h"
#include "mxegress/crypto/tls_context.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/loop/timer.h"
#include "server_snapshot.h"
#include "server_socks5_session.h"
#include "server_tunnel.h"
#include "tenant_usage.h"
#include "trail.h"

namespace mx {

// Checks what the parser cannot: every tenant source address is an address
// of this host (a bind test), the trail file can be opened. Errors are
// "FILE: KEY: WHY" like the parser's.
std::vector<std::string> check_server_environment(const ServerConfig& config,
                                                  const std::string& source_name);

class EgressServer {
 public:
  EgressServer(Loop& loop, std::filesystem::path config_path, ServerConfig config, SslCtxPtr tls);
  ~EgressServer();

  std::string start();  // error text, empty when every listener is up
  void stop();          // stops listening and closes every tunnel and session
  // Stops listening and closes idle tunnels; live sessions may finish within
  // drain_timeout; then everything is closed and `stopped` runs.
  void drain(std::function<void()> stopped);
  // Re-reads the configuration file. Invalid: logs why, changes nothing.
  void reload();

 private:
  void on_tunnel_accept(std::unique_ptr<TcpConnection> connection);
  void on_socks5_accept(std::unique_ptr<TcpConnection> connection);
  void apply(ServerConfig config);
  std::shared_ptr<const ServerSnapshot> snapshot() const { return snapshot_; }
  template <typename Map, typename Key>
  void forget_later(Map& map, Key key);

  Loop& loop_;
  std::filesystem::path config_path_;
  std::shared_ptr<const ServerSnapshot> snapshot_;
  SslCtxPtr tls_;
  UsageRegistry usage_;
  TrailWriter trail_;
  std::shared_ptr<PasswordCache> socks5_passwords_;  // sessions share it across reloads
  std::vector<std::unique_ptr<TcpListener>> listeners_;
  std::unordered_map<ServerTunnel*, std::unique_ptr<ServerTunnel>> tunnels_;
  std::unordered_map<ServerSocks5Session*, std::unique_ptr<ServerSocks5Session>> socks5_sessions_;
  void check_drained();

  std::unique_ptr<Timer> drain_timer_;
  std::function<void()> on_drained_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
