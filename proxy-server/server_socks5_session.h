// A SOCKS5 client of the server's own listener (for gateways that speak
// SOCKS5 themselves, such as Exim's socks_proxy): RFC 1929 login as a user
// mapped to a tenant, from an address that user may use, then the same
// egress session as a tunnel's CONNECT.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "egress_session.h"
#include "mxegress/crypto/password_cache.h"
#include "mxegress/relay/held_input.h"
#include "mxegress/relay/socks5_handshake.h"
#include "mxegress/util/concurrency_limit.h"
#include "server_snapshot.h"

namespace mx {

class ServerSocks5Session {
 public:
  using FinishedCallback = std::function<void(ServerSocks5Session*)>;
  using SnapshotSource = std::function<std::shared_ptr<const ServerSnapshot>()>;

  ServerSocks5Session(EgressContext context, SnapshotSource snapshots,
                      std::shared_ptr<PasswordCache> passwords,
                      std::unique_ptr<TcpConnection> client, ConcurrencyLimit::Slot startup,
                      FinishedCallback finished);
  ~ServerSocks5Session();

  void start();
  void on_reload();  // a disabled tenant's session is cut

 private:
  void on_request(Socks5Handshake::Request request);
  Bytes on_reply(socks5::Reply reply, const Target& bound);
  void on_client_gone(const std::string& why);
  void finish(const std::string& why);

  EgressContext ctx_;
  SnapshotSource snapshots_;
  std::shared_ptr<PasswordCache> passwords_;
  std::unique_ptr<TcpConnection> client_;
  std::optional<SocketAddress> peer_address_;
  std::string peer_;
  ConcurrencyLimit::Slot startup_;  // StartupGate: given back once logged in
  FinishedCallback finished_;
  std::unique_ptr<Socks5Handshake> handshake_;
  std::unique_ptr<HeldInput> held_;  // the client while its CONNECT is dialed
  std::unique_ptr<EgressSession> session_;
  bool replied_ = false;  // the EgressSession gave its reply
  bool finished_called_ = false;
};

// Whether `peer` is inside any of `cidrs`.
bool address_in(const std::vector<Cidr>& cidrs, const SocketAddress& peer);

}  // namespace mx
