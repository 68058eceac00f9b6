#include "tunnel_pool.h"

#include <algorithm>

#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "pool";
using Clock = std::chrono::steady_clock;
}  // namespace

struct TunnelPool::Server {
  size_t index;
  ClientConfig::Server config;
  SslCtxPtr tls;
  std::string name;  // host:port for logs
  bool up = true;
  Clock::time_point retry_at{};
  size_t opening = 0;  // tunnels being opened to keep the pool warm
};

// Opens one tunnel: resolve, TCP connect, TLS handshake, AUTH.
class TunnelPool::Opening final : private TunnelHandler {
 public:
  using Done = std::function<void(Opening*, std::unique_ptr<Tunnel>, const std::string&)>;

  Opening(Loop& loop, Server& server, const ClientIdentity& identity,
          std::chrono::milliseconds timeout, Done done)
      : loop_(loop), server_(server), identity_(identity), done_(std::move(done)), deadline_(loop) {
    deadline_.start(timeout, [this] {
      fail("no authenticated tunnel within the handshake timeout");
    });
    resolution_ = std::make_unique<Resolution>(
        loop_, server_.config.address.host, server_.config.address.port,
        [this](int status, std::vector<SocketAddress> addresses) {
          on_resolved(status, std::move(addresses));
        });
  }
  ~Opening() override {
    if (tunnel_) tunnel_->set_handler(nullptr);
  }
  Server& server() { return server_; }

 private:
  void on_resolved(int status, std::vector<SocketAddress> addresses) {
    if (status != 0 || addresses.empty()) {
      fail("cannot resolve " + server_.config.address.host + ": " +
           (status ? uv_error_text(status) : "no address"));
      return;
    }
    auto connection = std::make_unique<TcpConnection>(loop_);
    TcpConnection* raw = connection.get();
    tunnel_ = std::make_unique<Tunnel>(loop_, std::move(connection), server_.tls.get(),
                                       TlsEngine::Role::Client, server_.config.server_name);
    tunnel_->set_handler(this);
    const int rc = raw->connect(addresses.front(), std::nullopt, [this](int s) { on_connected(s); });
    if (rc != 0) on_connected(rc);
  }

  void on_connected(int status) {
    if (status != 0) {
      fail("cannot connect: " + uv_error_text(status));
      return;
    }
    tunnel_->start();
  }

  void on_tunnel_ready() override {
    std::array<uint8_t, 32> exporter{};
    if (!tunnel_->tls().export_keying_material(exporter, kAuthExporterLabel)) {
      fail("TLS exporter failed");
      return;
    }
    frame::AuthMessage auth;
    auth.public_key = identity_.public_key;
    auth.signature = sign_auth(identity_, exporter);
    Bytes out;
    frame::encode_auth(out, auth);
    tunnel_->send(out);
  }

  void on_tunnel_frame(const frame::Frame& f) override {
    auto result = f.type == frame::Type::AuthResult ? frame::parse_auth_result(f.payload)
                                                    : std::nullopt;
    if (!result) {
      fail(std::string("protocol error: expected AUTH_RESULT, got ") + frame::type_name(f.type));
      return;
    }
    if (result->status != frame::AuthStatus::Ok) {
      fail(std::string("the server refused our key: ") + frame::auth_status_name(result->status));
      return;
    }
    tunnel_->set_handler(nullptr);
    finish(std::move(tunnel_), {});
  }

  void on_tunnel_closed(const std::string& why) override {
    const bool verification = why.find("certificate") != std::string::npos ||
                              why.find("verify") != std::string::npos;
    fail(verification ? "server verification failed: " + why : "tunnel failed: " + why);
  }

  void fail(const std::string& why) {
    if (tunnel_) tunnel_->close();
    finish(nullptr, why);
  }

  void finish(std::unique_ptr<Tunnel> tunnel, const std::string& error) {
    if (!done_) return;
    deadline_.stop();
    resolution_.reset();
    if (tunnel_) {
      // Keep the dead tunnel until the next turn: we may be inside its callback.
      loop_.defer([dead = std::shared_ptr<Tunnel>(std::move(tunnel_))] {});
    }
    auto done = std::move(done_);
    done(this, std::move(tunnel), error);
  }

  Loop& loop_;
  Server& server_;
  const ClientIdentity& identity_;
  Done done_;
  Timer deadline_;
  std::unique_ptr<Resolution> resolution_;
  std::unique_ptr<Tunnel> tunnel_;
};

// An authenticated tunnel waiting for its next session, kept alive by PING.
class TunnelPool::Idle final : private TunnelHandler {
 public:
  Idle(TunnelPool& pool, Server& server, std::unique_ptr<Tunnel> tunnel, bool awaiting_end)
      : pool_(pool),
        server_(server),
        tunnel_(std::move(tunnel)),
        awaiting_end_(awaiting_end),
        since_(Clock::now()),
        keepalive_(pool.loop_) {
    tunnel_->set_handler(this);
    schedule_ping();
  }
  ~Idle() override {
    if (tunnel_) tunnel_->set_handler(nullptr);
  }
  Server& server() { return server_; }
  bool ready() const { return !awaiting_end_ || tunnel_->end_received(); }
  Clock::time_point since() const { return since_; }
  std::unique_ptr<Tunnel> take() {
    keepalive_.stop();
    tunnel_->set_handler(nullptr);
    return std::move(tunnel_);
  }
  void close() { tunnel_->close(); }

 private:
  void schedule_ping() {
    keepalive_.start(pool_.config_.client.keepalive_interval, [this] { ping(); });
  }
  void ping() {
    Bytes out;
    const uint64_t n = ++pings_;
    Bytes payload(8);
    for (int i = 0; i < 8; ++i) payload[i] = static_cast<uint8_t>(n >> (8 * (7 - i)));
    frame::encode_frame(out, frame::Type::Ping, payload);
    tunnel_->send(out);
    awaiting_pong_ = true;
    keepalive_.start(pool_.config_.client.keepalive_timeout, [this] {
      MX_LOG(Warn, kLog) << "idle tunnel to " << server_.name << " did not answer PING; replacing it";
      tunnel_->close();
      pool_.remove_idle(this);
    });
  }
  void on_tunnel_ready() override {}
  void on_tunnel_frame(const frame::Frame& f) override {
    if (f.type == frame::Type::Pong && awaiting_pong_) {
      awaiting_pong_ = false;
      schedule_ping();
      return;
    }
    if (f.type == frame::Type::End && awaiting_end_) {
      awaiting_end_ = false;
      return;
    }
    MX_LOG(Debug, kLog) << "idle tunnel got " << frame::type_name(f.type) << ", closing it";
    tunnel_->close();
    pool_.remove_idle(this);
  }
  void on_tunnel_closed(const std::string& why) override {
    MX_LOG(Debug, kLog) << "idle tunnel to " << server_.name << " closed: " << why;
    pool_.remove_idle(this);
  }

  TunnelPool& pool_;
  Server& server_;
  std::unique_ptr<Tunnel> tunnel_;
  bool awaiting_end_;
  bool awaiting_pong_ = false;
  uint64_t pings_ = 0;
  Clock::time_point since_;
  Timer keepalive_;
};

std::unique_ptr<TunnelPool> TunnelPool::create(Loop& loop, const ClientConfig& config,
                                               ClientIdentity identity, std::string& err) {
  std::unique_ptr<TunnelPool> pool(new TunnelPool(loop, config, std::move(identity)));
  for (const auto& server : config.servers) {
    ServerVerification verification;
    verification.pin = server.pin_sha256;
    if (server.ca_file) verification.ca_file = *server.ca_file;
    verification.server_name = server.server_name;
    SslCtxPtr tls = make_client_tls_context(verification, err);
    if (!tls) {
      err = "server " + server.address.to_string() + ": " + err;
      return nullptr;
    }
    auto entry = std::make_unique<Server>();
    entry->index = pool->servers_.size();
    entry->config = server;
    entry->tls = std::move(tls);
    entry->name = server.address.to_string();
    pool->servers_.push_back(std::move(entry));
  }
  return pool;
}

TunnelPool::TunnelPool(Loop& loop, const ClientConfig& config, ClientIdentity identity)
    : loop_(loop), config_(config), identity_(std::move(identity)), maintenance_(loop) {}

TunnelPool::~TunnelPool() { stop(); }

void TunnelPool::start() {
  replenish();
  maintenance_tick();
}

// Probes down servers, shrinks the pool after a burst, tops it up; re-arms itself.
void TunnelPool::maintenance_tick() {
  const auto now = Clock::now();
  for (auto& server : servers_) {
    size_t kept = 0;
    for (auto it = idle_.begin(); it != idle_.end();) {
      Idle& idle = **it;
      ++it;
      if (&idle.server() != server.get() || !idle.ready()) continue;
      if (++kept > server->config.pool && now - idle.since() > config_.client.pool_idle_timeout) {
        idle.close();
        remove_idle(&idle);
      }
    }
  }
  replenish();
  const auto period = std::min<std::chrono::milliseconds>(config_.client.retry_interval,
                                                          std::chrono::seconds(5));
  maintenance_.start(period, [this] { maintenance_tick(); });
}

void TunnelPool::stop() {
  stopped_ = true;
  maintenance_.stop();
  openings_.clear();
  for (auto& idle : idle_) idle->close();
  idle_.clear();
}

TunnelPool::Server* TunnelPool::choose(bool need_idle, const std::vector<Server*>& exclude) {
  const auto now = Clock::now();
  auto usable = [&](const Server& s) {
    if (std::find(exclude.begin(), exclude.end(), &s) != exclude.end()) return false;
    return s.up || now >= s.retry_at;
  };
  auto has_idle = [&](const Server& s) {
    return std::any_of(idle_.begin(), idle_.end(),
                       [&](const auto& idle) { return &idle->server() == &s && idle->ready(); });
  };
  // The best priority that has a usable server.
  std::optional<uint32_t> best;
  for (const auto& s : servers_) {
    if (usable(*s) && (!best || s->config.priority < *best)) best = s->config.priority;
  }
  if (!best) return nullptr;
  std::vector<Server*> group;
  for (const auto& s : servers_) {
    if (usable(*s) && s->config.priority == *best && (!need_idle || has_idle(*s))) {
      group.push_back(s.get());
    }
  }
  if (group.empty()) return nullptr;
  uint64_t total = 0;
  for (Server* s : group) total += s->config.weight;
  uint64_t pick = std::uniform_int_distribution<uint64_t>(0, total - 1)(random_);
  for (Server* s : group) {
    if (pick < s->config.weight) return s;
    pick -= s->config.weight;
  }
  return group.back();
}

void TunnelPool::acquire(AcquireCallback done, bool fresh) {
  auto fail_later = [this](AcquireCallback cb, std::string why) {
    loop_.defer([cb = std::move(cb), why] { cb(Acquired{nullptr, false, {}, 0, why}); });
  };
  if (stopped_) return fail_later(std::move(done), "the client is stopping");
  if (!fresh) {
    if (Server* server = choose(true, {})) {
      for (auto it = idle_.begin(); it != idle_.end(); ++it) {
        if (&(*it)->server() != server || !(*it)->ready()) continue;
        auto holder = std::make_shared<std::unique_ptr<Tunnel>>((*it)->take());
        idle_.erase(it);
        replenish();
        const std::string name = server->name;
        const size_t index = server->index;
        loop_.defer([done = std::move(done), holder, name, index] {
          done(Acquired{std::move(*holder), true, name, index, {}});
        });
        return;
      }
    }
  }
  open_for_session(std::move(done), {});
}

void TunnelPool::open_for_session(AcquireCallback done, std::vector<Server*> tried) {
  Server* server = choose(false, tried);
  if (server == nullptr) {
    std::string why = tried.empty() ? "every egress server is down" : "no egress server could be reached";
    loop_.defer([done = std::move(done), why] { done(Acquired{nullptr, false, {}, 0, why}); });
    return;
  }
  tried.push_back(server);
  openings_.push_back(std::make_unique<Opening>(
      loop_, *server, identity_, config_.client.handshake_timeout,
      [this, done = std::move(done), tried](Opening* o, std::unique_ptr<Tunnel> tunnel,
                                            const std::string& error) mutable {
        Server& s = o->server();
        forget_opening(o);
        if (!tunnel) {
          on_open_failed(s, error);
          open_for_session(std::move(done), std::move(tried));
          return;
        }
        mark_up(s);
        done(Acquired{std::move(tunnel), false, s.name, s.index, {}});
      }));
}

void TunnelPool::open_warm(Server& server) {
  ++server.opening;
  openings_.push_back(std::make_unique<Opening>(
      loop_, server, identity_, config_.client.handshake_timeout,
      [this](Opening* o, std::unique_ptr<Tunnel> tunnel, const std::string& error) {
        Server& s = o->server();
        --s.opening;
        forget_opening(o);
        if (!tunnel) {
          on_open_failed(s, error);
          return;
        }
        mark_up(s);
        add_idle(s, std::move(tunnel), false);
      }));
}

void TunnelPool::on_open_failed(Server& server, const std::string& error) {
  if (server.up) {
    MX_LOG(Warn, kLog) << "server " << server.name << " is down: " << error;
  } else {
    MX_LOG(Debug, kLog) << "server " << server.name << " still down: " << error;
  }
  server.up = false;
  server.retry_at = Clock::now() + config_.client.retry_interval;
  // Its idle tunnels may be just as dead; they fail their PING soon, but a
  // session should not draw one first.
  for (auto it = idle_.begin(); it != idle_.end();) {
    Idle& idle = **it;
    ++it;
    if (&idle.server() == &server) {
      idle.close();
      remove_idle(&idle);
    }
  }
}

void TunnelPool::mark_up(Server& server) {
  if (!server.up) {
    MX_LOG(Info, kLog) << "server " << server.name << " is up again";
  }
  server.up = true;
}

void TunnelPool::replenish() {
  if (stopped_) return;
  const auto now = Clock::now();
  std::optional<uint32_t> best;
  for (const auto& s : servers_) {
    if ((s->up || now >= s->retry_at) && (!best || s->config.priority < *best)) {
      best = s->config.priority;
    }
  }
  for (auto& s : servers_) {
    if (!s->up) {
      // A down server gets one probe per retry_interval.
      if (now >= s->retry_at && s->opening == 0) {
        s->retry_at = now + config_.client.retry_interval;
        open_warm(*s);
      }
      continue;
    }
    if (!best || s->config.priority != *best) continue;
    size_t ready = 0;
    for (const auto& idle : idle_) {
      if (&idle->server() == s.get() && idle->ready()) ++ready;
    }
    while (ready + s->opening < s->config.pool) open_warm(*s);
  }
}

void TunnelPool::release(std::unique_ptr<Tunnel> tunnel, size_t server_index) {
  add_idle(*servers_.at(server_index), std::move(tunnel), false);
}

void TunnelPool::release_after_end(std::unique_ptr<Tunnel> tunnel, size_t server_index) {
  add_idle(*servers_.at(server_index), std::move(tunnel), true);
}

void TunnelPool::add_idle(Server& server, std::unique_ptr<Tunnel> tunnel, bool awaiting_end) {
  if (stopped_ || tunnel->dead()) return;
  size_t kept = 0;
  for (const auto& idle : idle_) {
    if (&idle->server() == &server) ++kept;
  }
  if (kept >= server.config.pool_max) {
    tunnel->close();
    return;
  }
  idle_.push_back(std::make_unique<Idle>(*this, server, std::move(tunnel), awaiting_end));
}

void TunnelPool::remove_idle(Idle* idle) {
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (it->get() != idle) continue;
    loop_.defer([dead = std::shared_ptr<Idle>(std::move(*it))] {});
    idle_.erase(it);
    loop_.defer([this, alive = std::weak_ptr<bool>(alive_)] {
      if (!alive.expired()) replenish();
    });
    return;
  }
}

void TunnelPool::forget_opening(Opening* opening) {
  for (auto it = openings_.begin(); it != openings_.end(); ++it) {
    if (it->get() != opening) continue;
    // Destroyed on the next turn: we are inside its callback.
    loop_.defer([dead = std::shared_ptr<Opening>(std::move(*it))] {});
    openings_.erase(it);
    return;
  }
}

}  // namespace mx
