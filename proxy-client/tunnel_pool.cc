#include "tunnel_pool.h"

#include <algorithm>
#include <utility>

#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "pool";
using Clock = std::chrono::steady_clock;
}  // namespace

std::vector<SslCtxPtr> TunnelPool::make_contexts(const ClientConfig& config, std::string& err) {
  std::vector<SslCtxPtr> contexts;
  for (const auto& server : config.servers) {
    SslCtxPtr tls = client_tls_context_for(server, err);
    if (!tls) {
      err = "server " + server.address.to_string() + ": " + err;
      return {};
    }
    contexts.push_back(std::move(tls));
  }
  return contexts;
}

std::unique_ptr<TunnelPool> TunnelPool::create(Loop& loop, const ClientConfig& config,
                                               ClientIdentity identity, std::string& err) {
  std::unique_ptr<TunnelPool> pool(new TunnelPool(loop, config, std::move(identity)));
  if (std::string why = pool->resolver_.configure(config.resolver); !why.empty()) {
    err = "resolver: " + why;
    return nullptr;
  }
  std::vector<SslCtxPtr> contexts = make_contexts(config, err);
  if (contexts.empty()) return nullptr;
  for (size_t i = 0; i < config.servers.size(); ++i) {
    pool->add_server(config.servers[i], std::move(contexts[i]));
  }
  return pool;
}

TunnelPool::Server& TunnelPool::add_server(const ClientConfig::Server& config, SslCtxPtr tls) {
  Server entry;
  entry.config = config;
  entry.tls = std::move(tls);
  entry.name = config.address.to_string();
  entry.status.priority = config.priority;
  entry.status.weight = config.weight;
  active_.push_back(servers_.size());
  servers_.push_back(std::move(entry));
  return servers_.back();
}

TunnelPool::TunnelPool(Loop& loop, const ClientConfig& config, ClientIdentity identity)
    : loop_(loop),
      config_(config),
      identity_(std::move(identity)),
      resolver_(loop),
      maintenance_(loop),
      replenish_soon_(loop) {}

TunnelPool::~TunnelPool() { stop(); }

void TunnelPool::start(std::function<void()> first_answer) {
  MX_ASSERT_IN_LOOP(loop_);
  first_answer_ = std::move(first_answer);
  replenish();
  maintenance_tick();
}

void TunnelPool::stop() {
  if (stopped_) return;
  stopped_ = true;
  first_answer_ = nullptr;
  maintenance_.stop();
  replenish_soon_.cancel();
  openers_.clear();
  for (Server& server : servers_) {
    auto waiting = std::move(server.waiting);
    server.waiting.clear();
    for (Waiting& w : waiting) w.waiter->on_no_tunnel("the client is stopping");
  }
  std::vector<PoolTunnel*> tunnels;
  for (auto& tunnel : tunnels_) tunnels.push_back(tunnel.get());
  for (PoolTunnel* tunnel : tunnels) tunnel->retire("the client is stopping");
}

void TunnelPool::acquire(PoolWaiter& waiter, bool fresh) {
  MX_ASSERT_IN_LOOP(loop_);
  if (stopped_) return waiter.on_no_tunnel("the client is stopping");
  if (!fresh) {
    const auto server = choose_server(statuses(), Clock::now(), true, {}, random_());
    PoolTunnel* tunnel = server ? least_loaded(*server) : nullptr;
    if (auto stream = tunnel ? tunnel->open_stream() : nullptr) {
      ++counts_.hits;
      replenish();
      waiter.on_tunnel_stream(std::move(stream), true, servers_[*server].name);
      return;
    }
  }
  ++counts_.misses;
  dispatch({&waiter, {}, fresh});
}

void TunnelPool::cancel(PoolWaiter& waiter) {
  for (Server& server : servers_) {
    server.waiting.remove_if([&](const Waiting& w) { return w.waiter == &waiter; });
  }
}

// Queues a session on the server it should use; tunnels are opened for it.
void TunnelPool::dispatch(Waiting waiting) {
  const auto server = choose_server(statuses(), Clock::now(), false, waiting.tried, random_());
  if (!server) {
    waiting.waiter->on_no_tunnel(waiting.tried.empty() ? "every egress server is down"
                                                       : "no egress server could be reached");
    return;
  }
  servers_[*server].waiting.push_back(std::move(waiting));
  replenish();
}

void TunnelPool::replenish() {
  if (stopped_) return;
  const auto now = Clock::now();
  const std::vector<ServerStatus> status = statuses();
  const std::optional<uint32_t> best = best_priority(status, now);
  for (size_t i = 0; i < servers_.size(); ++i) {
    Server& s = servers_[i];
    if (s.retired) continue;
    if (!s.status.up) {
      // A down server: one probe at a time, once per retry_interval or for
      // the sessions that were sent to it because its probe was due.
      if (s.opening == 0 && (now >= s.status.retry_at || !s.waiting.empty())) {
        s.status.retry_at = now + config_.client.retry_interval;
        open(i);
      }
      continue;
    }
    const bool preferred = best && s.status.priority == *best;
    for (size_t n = tunnels_to_open(rule(i), ready_count(i), s.opening, s.waiting.size(),
                                    preferred);
         n > 0; --n) {
      open(i);
    }
  }
}

void TunnelPool::open(size_t server) {
  Server& s = servers_[server];
  ++s.opening;
  openers_.push_back(std::make_unique<TunnelOpener>(
      loop_, resolver_, TunnelOpener::Target{s.config.address, s.tls.get(), s.config.server_name},
      identity_, kDefaultSessionWindow, config_.client.handshake_timeout, config_.client.liveness(),
      [this, server, began = Clock::now()](OpenedTunnel opened) {
        on_opened(server, std::move(opened), began);
      }));
}

void TunnelPool::on_opened(size_t server, OpenedTunnel opened, Clock::time_point began) {
  Server& s = servers_[server];
  --s.opening;
  if (s.retired && s.opening == 0) s.tls.reset();
  for (auto it = openers_.begin(); it != openers_.end();) {
    if (!(*it)->finished()) {
      ++it;
      continue;
    }
    loop_.destroy_later(std::move(*it));  // we are inside its callback
    it = openers_.erase(it);
  }
  if (!opened.tunnel) {
    ++s.open_failures;
    on_open_failed(server, opened.error);
    if (first_answer_) std::exchange(first_answer_, nullptr)();
    return;
  }
  s.open_seconds->observe(Clock::now() - began);
  if (!s.status.up && !s.retired) MX_LOG(Info, kLog) << "server " << s.name << " is up again";
  if (!s.retired) s.status.up = true;
  MX_LOG(Debug, kLog) << "tunnel to " << s.name << " opened (window " << opened.send_window
                      << ", cipher " << opened.tunnel->tls().cipher_name() << ", records "
                      << opened.tunnel->tls().record_protection() << ")";
  tunnels_.push_back(std::make_unique<PoolTunnel>(
      loop_, server, s.name, s.config.sessions_per_tunnel, std::move(opened.tunnel),
      opened.send_window,
      Liveness::Settings{config_.client.keepalive_interval, config_.client.keepalive_timeout},
      static_cast<PoolTunnelEvents&>(*this)));
  if (s.retired) {  // opened under the configuration before a reload
    tunnels_.back()->retire("server " + s.name + " removed or changed by a reload");
    if (first_answer_) std::exchange(first_answer_, nullptr)();
    return;
  }
  serve_waiting(server, *tunnels_.back(), true);
  replenish();
  if (first_answer_) std::exchange(first_answer_, nullptr)();
}

// Sessions waiting on `server` get streams on `tunnel` while it has room.
// A tunnel `opened_now` had its handshake on their critical path: not
// "reused". One that freed a slot was open before they asked: "reused", and not
// for the sessions that want a fresh one (their retry after a dead tunnel).
void TunnelPool::serve_waiting(size_t server, PoolTunnel& tunnel, bool opened_now) {
  Server& s = servers_[server];
  while (true) {
    // Searched again each time: a waiter's callback may change the queue.
    auto it = std::find_if(s.waiting.begin(), s.waiting.end(),
                           [&](const Waiting& w) { return opened_now || !w.fresh; });
    if (it == s.waiting.end()) return;
    auto stream = tunnel.open_stream();
    if (!stream) return;
    Waiting waiting = std::move(*it);
    s.waiting.erase(it);
    waiting.waiter->on_tunnel_stream(std::move(stream), !opened_now, s.name);
  }
}

void TunnelPool::on_open_failed(size_t server, const std::string& error) {
  Server& s = servers_[server];
  if (s.retired) {
    MX_LOG(Debug, kLog) << "tunnel to retired server " << s.name << " failed: " << error;
    return;
  }
  if (s.status.up) {
    MX_LOG(Warn, kLog) << "server " << s.name << " is down: " << error
                       << log_json_kv("server", s.name) << log_json_kv("reason", error);
  } else {
    MX_LOG(Debug, kLog) << "server " << s.name << " still down: " << error;
  }
  s.status.up = false;
  s.status.retry_at = Clock::now() + config_.client.retry_interval;
  // Its tunnels may be just as dead: no new session goes to them (their
  // live sessions go on; the empty ones close).
  std::vector<PoolTunnel*> retiring;
  for (auto& tunnel : tunnels_) {
    if (tunnel->server() == server) retiring.push_back(tunnel.get());
  }
  for (PoolTunnel* tunnel : retiring) tunnel->retire("server " + s.name + " is down");
  // Its waiting sessions try the other servers.
  redispatch_waiting(server, true);
}

// Probes down servers, closes empty tunnels beyond the pool, tops it up.
void TunnelPool::maintenance_tick() {
  for (size_t i = 0; i < servers_.size(); ++i) close_empty_beyond_pool(i, false);
  replenish();
  const auto period =
      std::min<std::chrono::milliseconds>(config_.client.retry_interval, std::chrono::seconds(5));
  maintenance_.start(period, [this] { maintenance_tick(); });
}

void TunnelPool::close_empty_beyond_pool(size_t server, bool only_over_max) {
  const auto now = Clock::now();
  const WarmRule warm = rule(server);
  std::vector<PoolTunnel*> closing;  // closing one removes it from tunnels_
  size_t rank = 0;
  for (auto& tunnel : tunnels_) {
    if (tunnel->server() != server || tunnel->sessions() > 0 || !tunnel->has_room()) continue;
    const auto empty_for =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - tunnel->empty_since());
    const bool close =
        only_over_max ? rank >= warm.pool_max : close_empty_tunnel(warm, rank, empty_for);
    if (close) {
      closing.push_back(tunnel.get());
    } else {
      ++rank;
    }
  }
  for (PoolTunnel* tunnel : closing) tunnel->close("beyond the pool and unused");
}

size_t TunnelPool::servers_up() const {
  return static_cast<size_t>(std::count_if(active_.begin(), active_.end(),
                                           [&](size_t i) { return servers_[i].status.up; }));
}

PoolTunnel* TunnelPool::least_loaded(size_t server) {
  PoolTunnel* best = nullptr;
  for (auto& tunnel : tunnels_) {
    if (tunnel->server() != server || !tunnel->has_room()) continue;
    if (best == nullptr || tunnel->sessions() < best->sessions()) best = tunnel.get();
  }
  return best;
}

std::vector<ServerStatus> TunnelPool::statuses() {
  std::vector<ServerStatus> status;
  status.reserve(servers_.size());
  for (size_t i = 0; i < servers_.size(); ++i) {
    status.push_back(servers_[i].status);
    status.back().ready = ready_count(i) > 0;
  }
  return status;
}

size_t TunnelPool::ready_count(size_t server) const {
  size_t ready = 0;
  for (const auto& tunnel : tunnels_) {
    if (tunnel->server() == server && tunnel->has_room()) ++ready;
  }
  return ready;
}

std::vector<PoolServerView> TunnelPool::server_views() const {
  std::vector<PoolServerView> views;
  views.reserve(active_.size());
  for (size_t i : active_) {
    const Server& s = servers_[i];
    PoolServerView view;
    view.name = s.name;
    view.up = s.status.up;
    view.opening = s.opening;
    for (const auto& tunnel : tunnels_) {
      if (tunnel->server() == i && !tunnel->closed()) ++view.open;
    }
    view.ready = ready_count(i);
    view.open_failures = s.open_failures;
    view.open_seconds = s.open_seconds.get();
    views.push_back(std::move(view));
  }
  return views;
}

WarmRule TunnelPool::rule(size_t server) const {
  const ClientConfig::Server& c = servers_[server].config;
  return {c.pool, c.pool_max, c.sessions_per_tunnel, config_.client.pool_idle_timeout};
}

void TunnelPool::on_pool_tunnel_closed(PoolTunnel& tunnel) {
  for (auto it = tunnels_.begin(); it != tunnels_.end(); ++it) {
    if (it->get() != &tunnel) continue;
    loop_.destroy_later(std::move(*it));  // we are inside its callback
    tunnels_.erase(it);
    break;
  }
  if (!stopped_) replenish_soon_.schedule([this] { replenish(); });
}

void TunnelPool::on_pool_tunnel_room(PoolTunnel& tunnel) {
  serve_waiting(tunnel.server(), tunnel, false);
  if (tunnel.sessions() == 0) close_empty_beyond_pool(tunnel.server(), true);
}

}  // namespace mx
