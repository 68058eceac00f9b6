// A SOCKS5 client of mxegress-client: the shared SOCKS5 handshake, then a
// TunnelSession whose reply code goes back to the SOCKS5 client unchanged.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "mxegress/relay/socks5_handshake.h"
#include "local_session.h"
#include "tunnel_session.h"

namespace mx {

class Socks5Session final : public LocalSession {
 public:

  Socks5Session(ClientContext context, PasswordCache* passwords,
                std::unique_ptr<TcpConnection> local, FinishedCallback finished);
  ~Socks5Session() override;
  void start() override;

 private:
  void finish(const std::string& why);

  ClientContext ctx_;
  PasswordCache* passwords_;
  std::unique_ptr<TcpConnection> local_;
  std::string peer_;
  FinishedCallback finished_;
  std::unique_ptr<Socks5Handshake> handshake_;
  std::unique_ptr<TunnelSession> session_;
  bool finished_called_ = false;
};

}  // namespace mx
