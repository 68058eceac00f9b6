#include "egress_client.h"

#include <algorithm>
#include <utility>

#include "intercepted_session.h"
#include "mxegress/loop/listen_probe.h"
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

EgressClient::Factory EgressClient::factory_for(const ListenerSpec& spec) {
  auto finished = [this](LocalSession* s) { on_session_finished(s); };
  ClientContext context{loop_, config_, *pool_, &session_counts_, SessionMode::Socks5};
  switch (spec.kind) {
    case ListenerSpec::Kind::Socks5:
      return [=, this](std::unique_ptr<TcpConnection> c) {
        return std::make_unique<Socks5Session>(context, passwords_.get(), std::move(c), finished);
      };
    case ListenerSpec::Kind::Transparent:
      context.mode = SessionMode::Transparent;
      return [=, action = spec.on_failure](std::unique_ptr<TcpConnection> c) {
        return std::make_unique<InterceptedSession>(context, std::move(c), std::nullopt, action,
                                                    "transparent", finished);
      };
    case ListenerSpec::Kind::Forward:
      context.mode = SessionMode::Forward;
      return [=, target = forward_target(*spec.target),
              action = spec.on_failure](std::unique_ptr<TcpConnection> c) {
        return std::make_unique<InterceptedSession>(context, std::move(c), target, action,
                                                    "forward", finished);
      };
  }
  return nullptr;
}

std::unique_ptr<TcpListener> EgressClient::listen(const ListenerSpec& spec, std::string& err) {
  auto listener = std::make_unique<TcpListener>(
      loop_, [this, factory = factory_for(spec)](std::unique_ptr<TcpConnection> connection) {
        std::unique_ptr<LocalSession> session = factory(std::move(connection));
        LocalSession* raw = session.get();
        sessions_.emplace(raw, std::move(session));
        raw->start();
      });
  if (err = listener->listen(spec.address); !err.empty()) return nullptr;
  MX_LOG(Info, "client") << spec.describe() << " listening on " << listener->address().to_string();
  return listener;
}

std::string EgressClient::start(ClientIdentity identity, std::function<void()> ready) {
  // One message for an address in use, whichever listener has it.
  if (auto refusal = probe_listen_addresses(listen_addresses(config_))) {
    return describe(*refusal, "mxegress-client");
  }
  std::string err;
  public_key_ = identity.public_key;
  pool_ = TunnelPool::create(loop_, config_, std::move(identity), err);
  if (!pool_) return err;
  for (const ListenerSpec& spec : listener_specs(config_)) {
    auto listener = listen(spec, err);
    if (!listener) return err;
    listeners_.push_back({spec, std::move(listener)});
  }
  on_ready_ = std::move(ready);
  if (on_ready_) {
    ready_timer_.start(config_.client.retry_interval, [this] { announce_ready(); });
  }
  pool_->start([this] { announce_ready(); });
  return start_metrics();
}

std::string EgressClient::reload(ClientConfig next, const ClientIdentity& identity) {
  if (draining_ || !pool_) return "the client is stopping";
  const ReloadPlan plan = plan_reload(config_, next, identity.public_key != public_key_);
  std::string err;
  std::vector<SslCtxPtr> contexts = TunnelPool::make_contexts(next, err);
  if (contexts.size() != next.servers.size()) return err;
  // Closed first: a new listener may take over an address a removed one held.
  std::vector<ListenerSpec> closed;
  std::erase_if(listeners_, [&](const Listener& l) {
    if (std::find(plan.listeners_closed.begin(), plan.listeners_closed.end(), l.spec) ==
        plan.listeners_closed.end()) {
      return false;
    }
    MX_LOG(Info, "client") << l.spec.describe() << " on " << l.listener->address().to_string()
                           << " closed by the reload";
    closed.push_back(l.spec);
    return true;
  });
  std::vector<Listener> opened;
  for (const ListenerSpec& spec : plan.listeners_opened) {
    if (auto listener = listen(spec, err)) {
      opened.push_back({spec, std::move(listener)});
      continue;
    }
    opened.clear();  // back to the running listeners: the reload changes nothing
    for (const ListenerSpec& again : closed) {
      std::string why;
      if (auto listener = listen(again, why)) {
        listeners_.push_back({again, std::move(listener)});
      } else {
        MX_LOG(Error, "client") << again.describe() << ": cannot listen again: " << why;
      }
    }
    return spec.describe() + " on " + spec.address.to_string() + ": " + err;
  }
  for (Listener& l : opened) listeners_.push_back(std::move(l));
  for (const std::string& key : plan.need_restart) {
    MX_LOG(Warn, "client") << key << " changes apply after a restart";
  }
  next.metrics = config_.metrics;  // what is in force until a restart
  next.socks5.users = config_.socks5.users;
  config_ = std::move(next);  // in place: sessions and the pool read it
  public_key_ = identity.public_key;
  pool_->apply(plan, std::move(contexts), identity);
  return {};
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
