#include "socks5_session.h"

#include "mxegress/util/log.h"

namespace mx {

Socks5Session::Socks5Session(ClientContext context, PasswordCache* passwords,
                             std::unique_ptr<TcpConnection> local, FinishedCallback finished)
    : ctx_(context), passwords_(passwords), local_(std::move(local)), finished_(std::move(finished)) {
  auto peer = local_->peer_address();
  peer_ = peer ? peer->to_string() : "?";
}

Socks5Session::~Socks5Session() {
  session_.reset();
  handshake_.reset();
}

void Socks5Session::start() {
  handshake_ = std::make_unique<Socks5Handshake>(
      ctx_.loop, *local_, passwords_, ctx_.config.client.handshake_timeout, peer_,
      [this](Socks5Handshake::Request request) {
        session_ = std::make_unique<TunnelSession>(
            ctx_, *local_, peer_, request.target,
            [this](socks5::Reply reply, const Target& bound, const std::string& why) {
              handshake_->send_reply(reply, bound);
              if (reply != socks5::Reply::Succeeded) finish(why);
            },
            [this](const std::string& end) { finish(end); });
        session_->start(std::move(request.early_data));
      },
      [this](const std::string& why) { finish(why); });
  handshake_->start();
}

void Socks5Session::finish(const std::string& why) {
  if (finished_called_) return;
  finished_called_ = true;
  local_->set_reader(nullptr);
  local_->close_after_flush();
  MX_LOG(Debug, "socks5") << log_kv("peer", peer_) << " closed: " << why;
  finished_(this);
}

}  // namespace mx
