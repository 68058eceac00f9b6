#include "egress_server.h"

#include "mxegress/util/log.h"

namespace mx {

EgressServer::EgressServer(Loop& loop, ServerConfig config, SslCtxPtr tls)
    : loop_(loop),
      config_(std::move(config)),
      tls_(std::move(tls)),
      tenants_(config_.tenants),
      policy_(config_.policy.ports, config_.policy.deny, config_.policy.allow) {}

EgressServer::~EgressServer() { stop(); }

std::string EgressServer::start() {
  for (const SocketAddress& address : config_.server.listen) {
    auto listener = std::make_unique<TcpListener>(
        loop_, [this](std::unique_ptr<TcpConnection> c) { on_accept(std::move(c)); });
    if (std::string err = listener->listen(address); !err.empty()) return err;
    MX_LOG(Info, "server") << "listening on " << listener->address().to_string();
    listeners_.push_back(std::move(listener));
  }
  return {};
}

void EgressServer::stop() {
  listeners_.clear();
  tunnels_.clear();
}

void EgressServer::on_accept(std::unique_ptr<TcpConnection> connection) {
  ServerContext context{loop_, tls_.get(), config_, tenants_, policy_};
  auto tunnel = std::make_unique<ServerTunnel>(
      context, std::move(connection), [this](ServerTunnel* t) { on_tunnel_finished(t); });
  ServerTunnel* raw = tunnel.get();
  tunnels_.emplace(raw, std::move(tunnel));
  raw->start();
}

void EgressServer::on_tunnel_finished(ServerTunnel* tunnel) {
  // Destroyed on the next loop turn, once the callback that ended it unwound.
  loop_.defer([this, tunnel, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired()) tunnels_.erase(tunnel);
  });
}

}  // namespace mx
