#include "tunnel_pool.h"

#include <algorithm>

#include "mxegress/relay/mux_tunnel.h"
#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "pool";
using Clock = std::chrono::steady_clock;

// Takes `item` out of `list` and destroys it on the next loop turn (we are
// usually inside one of its callbacks). False if it was not there.
template <typename T>
bool destroy_later(Loop& loop, std::list<std::unique_ptr<T>>& list, T* item) {
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (it->get() != item) continue;
    loop.defer([dead = std::shared_ptr<T>(std::move(*it))] {});
    list.erase(it);
    return true;
  }
  return false;
}
}  // namespace

struct TunnelPool::Server {
  size_t index;
  ClientConfig::Server config;
  SslCtxPtr tls;
  std::string name;  // host:port for logs
  bool up = true;
  Clock::time_point retry_at{};
  size_t opening = 0;        // tunnels being opened to keep the pool warm
  bool multiplexed = false;  // its last tunnel was granted the multiplexed mode
  // Sessions waiting for a shared tunnel being opened (a burst beyond the
  // pool's room): one handshake serves sessions_per_tunnel of them.
  std::list<AcquireCallback> waiting;
};

// Opens one tunnel: resolve, TCP connect, TLS handshake, AUTH.
class TunnelPool::Opening final : private TunnelHandler {
 public:
  using Done = std::function<void(Opening*, std::unique_ptr<Tunnel>, const std::string&)>;

  Opening(Loop& loop, Server& server, const ClientIdentity& identity,
          std::chrono::milliseconds timeout, Done done)
      : loop_(loop), server_(server), identity_(identity), done_(std::move(done)), deadline_(loop) {
    deadline_.start(timeout,
                    [this] { fail("no authenticated tunnel within the handshake timeout"); });
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
  // Set when the server granted the multiplexed mode: its session window.
  std::optional<uint32_t> granted_window() const { return granted_window_; }

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
    const int rc =
        raw->connect(addresses.front(), std::nullopt, [this](int s) { on_connected(s); });
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
    if (server_.config.sessions_per_tunnel > 1) auth.mux_window = kDefaultSessionWindow;
    asked_mux_ = auth.mux_window.has_value();
    Bytes out;
    frame::encode_auth(out, auth);
    tunnel_->send(out);
  }

  void on_tunnel_frame(const frame::Frame& f) override {
    auto result =
        f.type == frame::Type::AuthResult ? frame::parse_auth_result(f.payload) : std::nullopt;
    if (!result) {
      fail(std::string("protocol error: expected AUTH_RESULT, got ") + frame::type_name(f.type));
      return;
    }
    if (result->status != frame::AuthStatus::Ok) {
      fail(std::string("the server refused our key: ") + frame::auth_status_name(result->status));
      return;
    }
    // A version 1 server does not echo the extension: one session per tunnel.
    if (asked_mux_ && result->mux_window) {
      if (*result->mux_window == 0) {
        fail("protocol error: the server granted a session window of 0");
        return;
      }
      granted_window_ = result->mux_window;
    }
    tunnel_->set_handler(nullptr);
    finish(std::move(tunnel_), {});
  }

  void on_tunnel_closed(const std::string& why) override {
    const bool verification =
        why.find("certificate") != std::string::npos || why.find("verify") != std::string::npos;
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
  bool asked_mux_ = false;
  std::optional<uint32_t> granted_window_;
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
      MX_LOG(Warn, kLog) << "idle tunnel to " << server_.name
                         << " did not answer PING; replacing it";
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

// A multiplexed tunnel shared by up to `sessions_per_tunnel` sessions. It is
// kept alive as a whole: PING when nothing was heard for keepalive_interval;
// an unanswered PING closes it. (Each new session also makes sure it hears
// from the tunnel within keepalive_timeout: TunnelSession.)
class TunnelPool::Shared final : private MuxTunnelHandler {
 public:
  Shared(TunnelPool& pool, Server& server, std::unique_ptr<Tunnel> tunnel, uint32_t send_window)
      : pool_(pool),
        server_(server),
        tunnel_(std::move(tunnel)),
        mux_(pool.loop_, *tunnel_, kDefaultSessionWindow, send_window,
             static_cast<MuxTunnelHandler&>(*this)),
        empty_since_(Clock::now()),
        keepalive_(pool.loop_) {
    schedule_keepalive();
  }
  ~Shared() override { keepalive_.stop(); }
  Server& server() { return server_; }
  size_t sessions() const { return mux_.stream_count(); }
  bool has_room() const {
    return !retiring_ && !tunnel_->dead() && sessions() < server_.config.sessions_per_tunnel;
  }
  Clock::time_point empty_since() const { return empty_since_; }

  std::unique_ptr<MuxStream> open_stream() {
    auto stream = mux_.open_next_stream();
    if (!stream) {
      retiring_ = true;  // session ids used up: the next session opens a new tunnel
      return nullptr;
    }
    return stream;
  }
  // Closes now if no session uses it, else when the last one ends.
  void retire() {
    retiring_ = true;
    if (sessions() == 0) close("retired");
  }
  void close(const std::string& why) {
    MX_LOG(Debug, kLog) << "shared tunnel to " << server_.name << " closing: " << why;
    keepalive_.stop();
    tunnel_->close();
    pool_.remove_shared(this);
  }

 private:
  static constexpr std::chrono::seconds kQuietBeforeSession{1};

  void schedule_keepalive() {
    const auto quiet = Clock::now() - mux_.last_heard();
    const auto interval = pool_.config_.client.keepalive_interval;
    if (quiet >= interval) return ping();
    keepalive_.start(std::chrono::duration_cast<std::chrono::milliseconds>(interval - quiet),
                     [this] { schedule_keepalive(); });
  }
  void ping() {
    Bytes out;
    frame::encode_frame(out, frame::Type::Ping, as_bytes("alive?"));
    mux_.send(out);
    if (checking_) return;
    checking_ = true;
    keepalive_.start(pool_.config_.client.keepalive_timeout, [this, sent = Clock::now()] {
      checking_ = false;
      if (mux_.last_heard() >= sent) return schedule_keepalive();
      MX_LOG(Warn, kLog) << "shared tunnel to " << server_.name << " with " << sessions()
                         << " sessions did not answer PING; closing it";
      tunnel_->close();
      on_mux_closed("no answer to PING within keepalive_timeout");
    });
  }
  // Any frame proves the tunnel alive: the ping's timer checks last_heard().
  void on_mux_frame(const frame::Frame& f) override {
    if (f.type == frame::Type::Pong) return;
    if (f.type == frame::Type::GoAway) {
      MX_LOG(Info, kLog) << "server " << server_.name << " retires a shared tunnel with "
                         << sessions() << " sessions";
      retire();
      return;
    }
    tunnel_->close();
    on_mux_closed(std::string("protocol error: unexpected ") + frame::type_name(f.type));
  }
  void on_mux_closed(const std::string& why) override {
    MX_LOG(Debug, kLog) << "shared tunnel to " << server_.name << " closed: " << why;
    keepalive_.stop();
    pool_.remove_shared(this);
  }
  void on_mux_stream_gone() override {
    if (sessions() > 0) return;
    empty_since_ = Clock::now();
    if (retiring_) close("retired and its last session ended");
  }

  TunnelPool& pool_;
  Server& server_;
  std::unique_ptr<Tunnel> tunnel_;
  MuxTunnel mux_;
  Clock::time_point empty_since_;
  Timer keepalive_;  // the next keepalive, or the deadline of a PING's answer
  bool checking_ = false;
  bool retiring_ = false;
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
    size_t spare = 0;
    for (auto it = shared_.begin(); it != shared_.end();) {
      Shared& shared = **it;
      ++it;
      if (&shared.server() != server.get() || shared.sessions() > 0 || !shared.has_room()) continue;
      if (++spare > server->config.pool &&
          now - shared.empty_since() > config_.client.pool_idle_timeout) {
        shared.close("beyond the pool and unused for pool_idle_timeout");
      }
    }
  }
  replenish();
  const auto period =
      std::min<std::chrono::milliseconds>(config_.client.retry_interval, std::chrono::seconds(5));
  maintenance_.start(period, [this] { maintenance_tick(); });
}

void TunnelPool::stop() {
  stopped_ = true;
  for (auto& server : servers_) {
    auto waiting = std::move(server->waiting);
    server->waiting.clear();
    for (auto& done : waiting) {
      loop_.defer([done = std::move(done)] {
        Acquired failed;
        failed.error = "the client is stopping";
        done(std::move(failed));
      });
    }
  }
  maintenance_.stop();
  openings_.clear();
  for (auto& idle : idle_) idle->close();
  idle_.clear();
  // Shared tunnels still carrying sessions close when their last one ends.
  retire_shared(nullptr);
}

TunnelPool::Server* TunnelPool::choose(bool need_idle, const std::vector<Server*>& exclude) {
  const auto now = Clock::now();
  auto usable = [&](const Server& s) {
    if (std::find(exclude.begin(), exclude.end(), &s) != exclude.end()) return false;
    return s.up || now >= s.retry_at;
  };
  auto has_idle = [&](const Server& s) { return ready_count(s) > 0; };
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
  if (stopped_) {
    loop_.defer([done = std::move(done)] {
      Acquired failed;
      failed.error = "the client is stopping";
      done(std::move(failed));
    });
    return;
  }
  if (!fresh) {
    if (Server* server = choose(true, {})) {
      if (Shared* shared = least_loaded(*server)) {
        if (give_stream(*shared, done, true)) return replenish();
      }
      for (auto it = idle_.begin(); it != idle_.end(); ++it) {
        if (&(*it)->server() != server || !(*it)->ready()) continue;
        auto holder = std::make_shared<std::unique_ptr<Tunnel>>((*it)->take());
        idle_.erase(it);
        replenish();
        const std::string name = server->name;
        const size_t index = server->index;
        loop_.defer([done = std::move(done), holder, name, index] {
          Acquired acquired;
          acquired.tunnel = std::move(*holder);
          acquired.reused = true;
          acquired.server = name;
          acquired.server_index = index;
          done(std::move(acquired));
        });
        return;
      }
    }
  }
  if (!fresh) {
    Server* server = choose(false, {});
    if (server != nullptr && server->multiplexed && server->up) {
      server->waiting.push_back(std::move(done));
      const size_t per_tunnel = server->config.sessions_per_tunnel;
      while (server->opening * per_tunnel < server->waiting.size()) open_warm(*server);
      return;
    }
  }
  open_for_session(std::move(done), {});
}

// A session on `shared` for `done` (called on the next turn); false if the
// tunnel could take no more.
bool TunnelPool::give_stream(Shared& shared, AcquireCallback& done, bool reused) {
  auto stream = shared.open_stream();
  if (!stream) return false;
  auto holder = std::make_shared<std::unique_ptr<MuxStream>>(std::move(stream));
  const std::string name = shared.server().name;
  const size_t index = shared.server().index;
  loop_.defer([done = std::move(done), holder, name, index, reused] {
    Acquired acquired;
    acquired.stream = std::move(*holder);
    acquired.reused = reused;
    acquired.server = name;
    acquired.server_index = index;
    done(std::move(acquired));
  });
  return true;
}

// Sessions that waited for a shared tunnel being opened: those it has room
// for get it (their handshake was on their critical path: not "reused");
// the rest wait for the next opening, or open tunnels of their own, on
// another server if this one `failed`.
void TunnelPool::serve_waiting(Server& server, Shared* shared, bool failed) {
  while (!server.waiting.empty()) {
    if (shared != nullptr && shared->has_room() &&
        give_stream(*shared, server.waiting.front(), false)) {
      server.waiting.pop_front();
      continue;
    }
    if (shared != nullptr && server.opening > 0) return;
    auto waiting = std::move(server.waiting);
    server.waiting.clear();
    for (auto& done : waiting) {
      open_for_session(std::move(done),
                       failed ? std::vector<Server*>{&server} : std::vector<Server*>{});
    }
    return;
  }
}

void TunnelPool::open_for_session(AcquireCallback done, std::vector<Server*> tried) {
  Server* server = choose(false, tried);
  if (server == nullptr) {
    Acquired failed;
    failed.error =
        tried.empty() ? "every egress server is down" : "no egress server could be reached";
    loop_.defer([done = std::move(done), failed = std::make_shared<Acquired>(std::move(failed))] {
      done(std::move(*failed));
    });
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
        s.multiplexed = o->granted_window().has_value();
        Acquired acquired;
        acquired.server = s.name;
        acquired.server_index = s.index;
        if (auto window = o->granted_window()) {
          // A new shared tunnel: this session is its first.
          add_shared(s, std::move(tunnel), *window);
          acquired.stream = shared_.back()->open_stream();
        } else {
          acquired.tunnel = std::move(tunnel);
        }
        done(std::move(acquired));
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
          serve_waiting(s, nullptr, true);
          return;
        }
        mark_up(s);
        s.multiplexed = o->granted_window().has_value();
        if (s.multiplexed) {
          add_shared(s, std::move(tunnel), *o->granted_window());
          serve_waiting(s, shared_.back().get(), false);
        } else {
          add_idle(s, std::move(tunnel), false);
          serve_waiting(s, nullptr, false);
        }
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
  // Shared ones take no new sessions; their live sessions go on.
  retire_shared(&server);
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
    const size_t ready = ready_count(*s);
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
  if (destroy_later(loop_, idle_, idle)) replenish_later();
}

void TunnelPool::forget_opening(Opening* opening) { destroy_later(loop_, openings_, opening); }

void TunnelPool::replenish_later() {
  loop_.defer([this, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired()) replenish();
  });
}

// Tunnels that can take a session now: idle ones, and shared ones with room.
size_t TunnelPool::ready_count(const Server& server) const {
  size_t ready = 0;
  for (const auto& idle : idle_) {
    if (&idle->server() == &server && idle->ready()) ++ready;
  }
  for (const auto& shared : shared_) {
    if (&shared->server() == &server && shared->has_room()) ++ready;
  }
  return ready;
}

void TunnelPool::add_shared(Server& server, std::unique_ptr<Tunnel> tunnel, uint32_t send_window) {
  MX_LOG(Debug, kLog) << "shared tunnel to " << server.name << " opened (window " << send_window
                      << ", cipher " << tunnel->tls().cipher_name() << ", records "
                      << tunnel->tls().record_protection() << ")";
  shared_.push_back(std::make_unique<Shared>(*this, server, std::move(tunnel), send_window));
}

TunnelPool::Shared* TunnelPool::least_loaded(const Server& server) {
  Shared* best = nullptr;
  for (auto& shared : shared_) {
    if (&shared->server() != &server || !shared->has_room()) continue;
    if (best == nullptr || shared->sessions() < best->sessions()) best = shared.get();
  }
  return best;
}

void TunnelPool::retire_shared(const Server* server) {
  std::vector<Shared*> retiring;  // retire() may remove it from shared_
  for (auto& shared : shared_) {
    if (server == nullptr || &shared->server() == server) retiring.push_back(shared.get());
  }
  for (Shared* shared : retiring) shared->retire();
}

void TunnelPool::remove_shared(Shared* shared) {
  if (destroy_later(loop_, shared_, shared)) replenish_later();
}

}  // namespace mx
