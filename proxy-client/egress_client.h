// mxegress-client at run time: the SOCKS5 listeners, the tunnel pool and
// every live session.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mxegress/config/client_config.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/crypto/password_cache.h"
#include "socks5_session.h"
#include "tunnel_pool.h"

namespace mx {

class EgressClient {
 public:
  EgressClient(Loop& loop, ClientConfig config);
  ~EgressClient();

  std::string start(ClientIdentity identity);  // error text, empty on success
  void stop();

 private:
  void on_accept(std::unique_ptr<TcpConnection> connection);
  void on_session_finished(Socks5Session* session);

  Loop& loop_;
  ClientConfig config_;
  std::unique_ptr<PasswordCache> passwords_;  // null: no SOCKS5 login
  std::unique_ptr<TunnelPool> pool_;
  std::vector<std::unique_ptr<TcpListener>> listeners_;
  std::unordered_map<Socks5Session*, std::unique_ptr<Socks5Session>> sessions_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
