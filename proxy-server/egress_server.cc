#include "egress_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fleet/hiredis_link.h"
#include "mxegress/util/log.h"

namespace mx {
namespace {

constexpr const char* kLog = "server";

std::map<std::string, std::string> socks5_users(const ServerConfig& config) {
  std::map<std::string, std::string> users;
  for (const auto& user : config.socks5.users) users[user.name] = user.password_hash;
  return users;
}

}  // namespace

std::string source_bind_error(const SocketAddress& address) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  auto probe = SocketAddress::parse_ip(address.ip_string(), 0);
  const int rc = ::bind(fd, probe->sa(), probe->len());
  const int err = errno;
  ::close(fd);
  return rc == 0 ? std::string() : std::strerror(err);
}

std::vector<std::string> check_server_environment(const ServerConfig& config,
                                                  const std::string& source_name) {
  std::vector<std::string> errors = check_source_addresses(config, source_name);
  if (!config.trail.file.empty()) {
    if (std::string why = check_trail_writable(config.trail.file); !why.empty()) {
      errors.push_back(source_name + ": trail.file: " + why);
    }
  }
  return errors;
}

std::vector<std::string> check_source_addresses(const ServerConfig& config,
                                                const std::string& source_name) {
  std::vector<std::string> errors;
  for (const auto& tenant : config.tenants) {
    for (const SocketAddress& source : tenant.source) {
      if (std::string why = source_bind_error(source); !why.empty()) {
        errors.push_back(source_name + ": tenant \"" + tenant.name + "\".source: " +
                         source.ip_string() + " is not an address of this host (" + why + ")");
      }
    }
  }
  return errors;
}

EgressServer::EgressServer(Loop& loop, SharedServerState& shared,
                           std::shared_ptr<const ServerSnapshot> snapshot, SharedSslCtx tls,
                           TunnelBalancer* balancer, size_t index)
    : loop_(loop),
      shared_(shared),
      resolver_(loop),
      provider_learner_(loop, shared.smtp, [this] { return snapshot_; }),
      tls_(std::move(tls)),
      drained_soon_(loop),
      balancer_(balancer),
      index_(index) {
  if (const auto& fleet = snapshot->config().fleet) {
    const std::string id = fleet->server_id.empty() ? default_fleet_server_id() : fleet->server_id;
    fleet_ =
        std::make_unique<FleetClient>(loop_, *fleet, id, static_cast<unsigned>(index),
                                      shared_.fleet, std::make_unique<HiredisLink>(loop_, *fleet));
  }
  set_snapshot(std::move(snapshot));
}

EgressServer::~EgressServer() {
  stop();
  loop_.run_deferred();  // what waits there refers to our snapshot and state
}

void EgressServer::set_snapshot(std::shared_ptr<const ServerSnapshot> snapshot) {
  const ServerConfig& config = snapshot->config();
  // A new channel each time: a reload re-reads /etc/resolv.conf too.
  if (std::string err = resolver_.configure(config.resolver.settings); !err.empty()) {
    MX_LOG(Error, kLog) << "resolver: " << err;
  }
  provider_learner_.reset_resolver();
  socks5_passwords_ =
      config.socks5.users.empty()
          ? nullptr
          : std::make_shared<PasswordCache>(loop_, socks5_users(config), shared_.passwords);
  snapshot_ = std::move(snapshot);
}

std::string EgressServer::start(bool reuse_port) {
  const ServerConfig& config = snapshot_->config();
  auto listen_on = [this, reuse_port](const SocketAddress& address, bool socks5) -> std::string {
    auto listener =
        std::make_unique<TcpListener>(loop_, [this, socks5](std::unique_ptr<TcpConnection> c) {
          socks5 ? on_socks5_accept(std::move(c)) : on_tunnel_accept(std::move(c));
        });
    if (std::string err = listener->listen(address, reuse_port); !err.empty()) return err;
    MX_LOG(Debug, kLog) << (socks5 ? "socks5 " : "") << "thread listening on "
                        << listener->address().to_string();
    listeners_.push_back(std::move(listener));
    return {};
  };
  for (const SocketAddress& address : config.server.listen) {
    if (std::string err = listen_on(address, false); !err.empty()) return err;
  }
  for (const SocketAddress& address : config.socks5.listen) {
    if (std::string err = listen_on(address, true); !err.empty()) return err;
  }
  return {};
}

void EgressServer::stop() {
  stopping_ = true;
  listeners_.clear();
  tunnels_.clear();
  socks5_sessions_.clear();
  report_tunnels();
}

void EgressServer::drain(std::function<void()> stopped) {
  on_drained_ = std::move(stopped);
  stopping_ = true;
  listeners_.clear();
  // A tunnel may close at once and leave the map: go through a copy.
  for (ServerTunnel* tunnel : tunnel_list()) tunnel->on_drain();
  drain_timer_ = std::make_unique<Timer>(loop_);
  drain_timer_->start(snapshot_->config().server.drain_timeout, [this] {
    MX_LOG(Warn, kLog) << "drain timeout: closing " << tunnels_.size() + socks5_sessions_.size()
                       << " tunnels and sessions";
    stop();
    check_drained();
  });
  check_drained();
}

std::vector<ServerTunnel*> EgressServer::tunnel_list() const {
  std::vector<ServerTunnel*> list;
  list.reserve(tunnels_.size());
  for (const auto& [raw, tunnel] : tunnels_) list.push_back(raw);
  return list;
}

void EgressServer::check_drained() {
  if (!on_drained_ || !tunnels_.empty() || !socks5_sessions_.empty()) return;
  drain_timer_.reset();
  auto stopped = std::move(on_drained_);
  stopped();
}

void EgressServer::apply(std::shared_ptr<const ServerSnapshot> snapshot, SharedSslCtx tls) {
  tls_ = std::move(tls);
  set_snapshot(std::move(snapshot));
  for (ServerTunnel* tunnel : tunnel_list()) tunnel->on_reload();
  std::vector<ServerSocks5Session*> sessions;
  for (auto& [raw, session] : socks5_sessions_) sessions.push_back(raw);
  for (ServerSocks5Session* session : sessions) session->on_reload();
}

template <typename Map, typename Key>
void EgressServer::forget(Map& map, Key key) {
  auto it = map.find(key);
  if (it == map.end()) return;
  // Destroyed on the next loop turn, once the callback that ended it unwound.
  loop_.destroy_later(std::move(it->second));
  map.erase(it);
  report_tunnels();
  // Not from inside the caller's stack: the drain's end stops the loop.
  if (on_drained_) drained_soon_.schedule([this] { check_drained(); });
}

void EgressServer::on_tunnel_accept(std::unique_ptr<TcpConnection> connection) {
  // A stranger first takes a place among the unauthenticated, or goes at once.
  auto peer = connection->peer_address();
  // No peer address: the connection is gone already.
  ConcurrencyLimit::Slot startup;
  if (peer) startup = shared_.startups.admit(*peer, StartupGate::Port::Tunnel);
  if (!startup) {
    connection->close();
    return;
  }
  if (balancer_ != nullptr && balancer_->pass_tunnel(index_, *connection, startup)) return;
  start_tunnel(std::move(connection), std::move(startup));
}

void EgressServer::adopt_tunnel(int fd, ConcurrencyLimit::Slot startup) {
  MX_ASSERT_IN_LOOP(loop_);
  if (balancer_ != nullptr) balancer_->tunnel_arrived(index_);
  auto connection = std::make_unique<TcpConnection>(loop_);
  if (stopping_ || !connection->adopt_socket(fd)) {
    ::close(fd);
    return;
  }
  MX_LOG(Debug, kLog) << "loop " << index_ << " took a tunnel from another loop";
  start_tunnel(std::move(connection), std::move(startup));
}

void EgressServer::set_liveness(TcpConnection& connection) {
  const TcpLiveness liveness = snapshot_->config().server.liveness();
  if (std::string error = connection.set_liveness(liveness); !error.empty()) {
    MX_LOG(Warn, kLog) << "cannot set TCP liveness on " << connection.describe() << ": " << error;
  }
}

size_t EgressServer::session_count() const {
  size_t sessions = socks5_sessions_.size();
  for (const auto& [raw, tunnel] : tunnels_) sessions += tunnel->sessions();
  return sessions;
}

void EgressServer::report_tunnels() {
  if (balancer_ != nullptr) balancer_->tunnels_now(index_, tunnels_.size());
}

void EgressServer::start_tunnel(std::unique_ptr<TcpConnection> connection,
                                ConcurrencyLimit::Slot startup) {
  MX_LOG(Debug, kLog) << "loop " << index_ << " runs tunnel " << connection->describe();
  // Here and not at accept: a tunnel accepted on one loop and passed to
  // another reaches this once, on the loop that keeps it.
  set_liveness(*connection);
  EgressContext context{loop_,     shared_.usage,    shared_.trail,
                        resolver_, &shared_.lookups, fleet_.get(), &shared_.smtp,
                        &provider_learner_};
  auto tunnel = std::make_unique<ServerTunnel>(
      context, [this] { return snapshot(); }, tls_.get(), std::move(connection), std::move(startup),
      shared_.auth_refusals, [this](ServerTunnel* t) { forget(tunnels_, t); });
  ServerTunnel* raw = tunnel.get();
  tunnels_.emplace(raw, std::move(tunnel));
  report_tunnels();
  raw->start();
}

void EgressServer::on_socks5_accept(std::unique_ptr<TcpConnection> connection) {
  // Only addresses some user may connect from get to speak SOCKS5 at all.
  auto peer = connection->peer_address();
  bool known = false;
  for (const auto& user : snapshot_->config().socks5.users) {
    if (peer && address_in(user.from, *peer)) known = true;
  }
  if (!known || !socks5_passwords_) {
    shared_.startups.refuse_stranger(peer);
    connection->close();
    return;
  }
  ConcurrencyLimit::Slot startup = shared_.startups.admit(*peer, StartupGate::Port::Socks5);
  if (!startup) {
    connection->close();
    return;
  }
  set_liveness(*connection);
  EgressContext context{loop_,     shared_.usage,    shared_.trail,
                        resolver_, &shared_.lookups, fleet_.get(), &shared_.smtp,
                        &provider_learner_};
  auto session = std::make_unique<ServerSocks5Session>(
      context, [this] { return snapshot(); }, socks5_passwords_, std::move(connection),
      std::move(startup), [this](ServerSocks5Session* s) { forget(socks5_sessions_, s); });
  ServerSocks5Session* raw = session.get();
  socks5_sessions_.emplace(raw, std::move(session));
  raw->start();
}

}  // namespace mx
