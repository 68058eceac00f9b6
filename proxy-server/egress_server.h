// mxegress-server at run time: the tunnel listeners and every live tunnel.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "destination_policy.h"
#include "mxegress/config/server_config.h"
#include "mxegress/crypto/tls_context.h"
#include "mxegress/loop/tcp_listener.h"
#include "server_tunnel.h"
#include "tenant_directory.h"

namespace mx {

class EgressServer {
 public:
  EgressServer(Loop& loop, ServerConfig config, SslCtxPtr tls);
  ~EgressServer();

  std::string start();  // error text, empty when every listener is up
  void stop();          // stops listening and closes every tunnel

 private:
  void on_accept(std::unique_ptr<TcpConnection> connection);
  void on_tunnel_finished(ServerTunnel* tunnel);

  Loop& loop_;
  ServerConfig config_;
  SslCtxPtr tls_;
  TenantDirectory tenants_;
  DestinationPolicy policy_;
  std::vector<std::unique_ptr<TcpListener>> listeners_;
  std::unordered_map<ServerTunnel*, std::unique_ptr<ServerTunnel>> tunnels_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
