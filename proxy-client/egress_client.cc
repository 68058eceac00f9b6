#include "egress_client.h"

#include "mxegress/util/log.h"

namespace mx {

EgressClient::EgressClient(Loop& loop, ClientConfig config)
    : loop_(loop), config_(std::move(config)) {
  if (!config_.socks5.users.empty()) {
    std::map<std::string, std::string> users;
    for (const auto& user : config_.socks5.users) users[user.name] = user.password_hash;
    passwords_ = std::make_unique<PasswordCache>(loop_, std::move(users));
  }
}

EgressClient::~EgressClient() { stop(); }

std::string EgressClient::start(ClientIdentity identity) {
  std::string err;
  pool_ = TunnelPool::create(loop_, config_, std::move(identity), err);
  if (!pool_) return err;
  for (const SocketAddress& address : config_.socks5.listen) {
    auto listener = std::make_unique<TcpListener>(
        loop_, [this](std::unique_ptr<TcpConnection> c) { on_accept(std::move(c)); });
    if (std::string e = listener->listen(address); !e.empty()) return e;
    MX_LOG(Info, "client") << "socks5 listening on " << listener->address().to_string();
    listeners_.push_back(std::move(listener));
  }
  return {};
}

void EgressClient::stop() {
  listeners_.clear();
  sessions_.clear();
  if (pool_) pool_->stop();
}

void EgressClient::on_accept(std::unique_ptr<TcpConnection> connection) {
  ClientContext context{loop_, config_, *pool_, passwords_.get()};
  auto session = std::make_unique<Socks5Session>(
      context, std::move(connection), [this](Socks5Session* s) { on_session_finished(s); });
  Socks5Session* raw = session.get();
  sessions_.emplace(raw, std::move(session));
  raw->start();
}

void EgressClient::on_session_finished(Socks5Session* session) {
  loop_.defer([this, session, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired()) sessions_.erase(session);
  });
}

}  // namespace mx
