#include "egress_client.h"

#include <utility>

#include "intercepted_session.h"
#include "mxegress/util/log.h"
#include "socks5_session.h"

namespace mx {
namespace {

std::optional<Target> forward_target(const HostPort& target) {
  if (auto literal = SocketAddress::parse_ip(target.host, target.port)) return literal->to_target();
  return Target::domain_name(target.host, target.port);
}

}  // namespace

EgressClient::EgressClient(Loop& loop, ClientConfig config)
    : loop_(loop),
      config_(std::move(config)),
      drain_timer_(loop),
      ready_timer_(loop),
      finish_drain_soon_(loop) {
  if (!config_.socks5.users.empty()) {
    std::map<std::string, std::string> users;
    for (const auto& user : config_.socks5.users) users[user.name] = user.password_hash;
    checker_ = std::make_unique<PasswordChecker>(PasswordChecker::Settings{});
    passwords_ = std::make_unique<PasswordCache>(loop_, std::move(users), *checker_);
  }
}

EgressClient::~EgressClient() {
  stop();
  loop_.run_deferred();  // sessions waiting there refer to the pool
}

std::string EgressClient::listen(const SocketAddress& address, const std::string& what,
                                 Factory factory) {
  auto listener = std::make_unique<TcpListener>(
      loop_, [this, factory](std::unique_ptr<TcpConnection> connection) {
        std::unique_ptr<LocalSession> session = factory(std::move(connection));
        LocalSession* raw = session.get();
        sessions_.emplace(raw, std::move(session));
        raw->start();
      });
  if (std::string err = listener->listen(address); !err.empty()) return err;
  MX_LOG(Info, "client") << what << " listening on " << listener->address().to_string();
  listeners_.push_back(std::move(listener));
  return {};
}

std::string EgressClient::start(ClientIdentity identity, std::function<void()> ready) {
  std::string err;
  pool_ = TunnelPool::create(loop_, config_, std::move(identity), err);
  if (!pool_) return err;
  auto finished = [this](LocalSession* s) { on_session_finished(s); };
  const ClientContext context{loop_, config_, *pool_, &session_counts_, SessionMode::Socks5};
  ClientContext transparent = context;
  transparent.mode = SessionMode::Transparent;
  ClientContext forwarded = context;
  forwarded.mode = SessionMode::Forward;
  for (const SocketAddress& address : config_.socks5.listen) {
    err = listen(address, "socks5", [=, this](std::unique_ptr<TcpConnection> c) {
      return std::make_unique<Socks5Session>(context, passwords_.get(), std::move(c), finished);
    });
    if (!err.empty()) return err;
  }
  if (config_.transparent) {
    for (const SocketAddress& address : config_.transparent->listen) {
      const auto action = config_.transparent->on_failure;
      err = listen(address, "transparent", [=](std::unique_ptr<TcpConnection> c) {
        return std::make_unique<InterceptedSession>(transparent, std::move(c), std::nullopt, action,
                                                    "transparent", finished);
      });
      if (!err.empty()) return err;
    }
  }
  for (const auto& forward : config_.forwards) {
    const std::optional<Target> target = forward_target(forward.target);
    const auto action = forward.on_failure;
    err = listen(forward.listen, "forward to " + forward.target.to_string(),
                 [=](std::unique_ptr<TcpConnection> c) {
                   return std::make_unique<InterceptedSession>(forwarded, std::move(c), target,
                                                               action, "forward", finished);
                 });
    if (!err.empty()) return err;
  }
  on_ready_ = std::move(ready);
  if (on_ready_) {
    ready_timer_.start(config_.client.retry_interval, [this] { announce_ready(); });
  }
  pool_->start([this] { announce_ready(); });
  return start_metrics();
}

std::string EgressClient::start_metrics() {
  if (!config_.metrics.listen) return {};
  auto text = [this] {
    return render_client_metrics(session_counts_, pool_->server_views(), pool_->counts());
  };
  auto ready = [this] { return client_readiness(pool_->server_views(), draining_); };
  metrics_ = std::make_unique<MetricsHttpServer>(loop_, MetricsEndpoints{text, ready});
  if (std::string err = metrics_->listen(*config_.metrics.listen); !err.empty()) return err;
  MX_LOG(Info, "client") << "metrics listening on " << metrics_->address().to_string();
  return {};
}

void EgressClient::announce_ready() {
  ready_timer_.stop();
  if (on_ready_) std::exchange(on_ready_, nullptr)();
}

std::string EgressClient::status() const {
  if (!pool_) return {};
  return std::to_string(pool_->servers_up()) + "/" + std::to_string(pool_->server_count()) +
         " servers up, " + std::to_string(pool_->tunnel_count()) + " tunnels, " +
         std::to_string(sessions_.size()) + " sessions";
}

void EgressClient::drain(std::function<void()> stopped) {
  ready_timer_.stop();
  on_ready_ = nullptr;
  draining_ = true;
  on_drained_ = std::move(stopped);
  listeners_.clear();
  if (pool_) pool_->stop();
  if (sessions_.empty()) return finish_drain();
  MX_LOG(Info, "client") << "draining " << sessions_.size() << " sessions (at most "
                         << config_.client.drain_timeout.count() << " ms)";
  drain_timer_.start(config_.client.drain_timeout, [this] {
    MX_LOG(Warn, "client") << "drain timeout: closing " << sessions_.size() << " sessions";
    finish_drain();
  });
}

void EgressClient::finish_drain() {
  drain_timer_.stop();
  stop();
  if (on_drained_) {
    auto stopped = std::move(on_drained_);
    stopped();
  }
}

void EgressClient::stop() {
  ready_timer_.stop();
  on_ready_ = nullptr;
  listeners_.clear();
  sessions_.clear();
  if (pool_) pool_->stop();
}

void EgressClient::on_session_finished(LocalSession* session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  loop_.destroy_later(std::move(it->second));  // we are inside its callback
  sessions_.erase(it);
  if (on_drained_ && sessions_.empty()) finish_drain_soon_.schedule([this] { finish_drain(); });
}

}  // namespace mx
