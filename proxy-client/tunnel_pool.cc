#include "tunnel_pool.h"

#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "pool";
}

// Opens one tunnel: resolve, TCP connect, TLS handshake, AUTH.
class TunnelPool::Opening final : private TunnelHandler {
 public:
  using Done = std::function<void(Opening*, std::unique_ptr<Tunnel>, const std::string&)>;

  Opening(Loop& loop, const ServerEntry& server, const ClientIdentity& identity,
          std::chrono::milliseconds timeout, Done done, Acquired requester)
      : loop_(loop),
        server_(server),
        identity_(identity),
        done_(std::move(done)),
        requester_(std::move(requester)),
        deadline_(loop) {
    deadline_.start(timeout, [this] {
      fail("no authenticated tunnel to " + server_.config.address.to_string() +
           " within the handshake timeout");
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

  Acquired take_requester() { return std::move(requester_); }

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
      fail("cannot connect to " + server_.config.address.to_string() + ": " + uv_error_text(status));
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
      fail("server " + server_.config.address.to_string() + " refused our key: " +
           frame::auth_status_name(result->status));
      return;
    }
    deadline_.stop();
    tunnel_->set_handler(nullptr);
    finish(std::move(tunnel_), {});
  }

  void on_tunnel_closed(const std::string& why) override {
    std::string text = why;
    if (why.find("certificate") != std::string::npos || why.find("verify") != std::string::npos) {
      text = "server verification failed: " + why;
    }
    fail("tunnel to " + server_.config.address.to_string() + " failed: " + text);
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
  const ServerEntry& server_;
  const ClientIdentity& identity_;
  Done done_;
  Acquired requester_;
  Timer deadline_;
  std::unique_ptr<Resolution> resolution_;
  std::unique_ptr<Tunnel> tunnel_;
};

// An authenticated tunnel waiting for its next session.
class TunnelPool::Idle final : private TunnelHandler {
 public:
  Idle(TunnelPool& pool, std::unique_ptr<Tunnel> tunnel, bool awaiting_end)
      : pool_(pool), tunnel_(std::move(tunnel)), awaiting_end_(awaiting_end) {
    tunnel_->set_handler(this);
  }
  bool ready() const { return !awaiting_end_ || tunnel_->end_received(); }
  ~Idle() override {
    if (tunnel_) tunnel_->set_handler(nullptr);
  }
  std::unique_ptr<Tunnel> take() {
    tunnel_->set_handler(nullptr);
    return std::move(tunnel_);
  }

 private:
  void on_tunnel_ready() override {}
  void on_tunnel_frame(const frame::Frame& f) override {
    if (f.type == frame::Type::Pong) return;
    if (f.type == frame::Type::End && awaiting_end_) {
      awaiting_end_ = false;
      return;
    }
    MX_LOG(Debug, kLog) << "idle tunnel got " << frame::type_name(f.type) << ", closing it";
    tunnel_->close();
    pool_.remove_idle(this);
  }
  void on_tunnel_closed(const std::string& why) override {
    MX_LOG(Debug, kLog) << "idle tunnel closed: " << why;
    pool_.remove_idle(this);
  }

  TunnelPool& pool_;
  std::unique_ptr<Tunnel> tunnel_;
  bool awaiting_end_;
};

std::unique_ptr<TunnelPool> TunnelPool::create(Loop& loop, const ClientConfig& config,
                                               ClientIdentity identity, std::string& err) {
  std::vector<ServerEntry> servers;
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
    servers.push_back(ServerEntry{server, std::move(tls)});
  }
  return std::unique_ptr<TunnelPool>(new TunnelPool(loop, config, std::move(identity), std::move(servers)));
}

TunnelPool::TunnelPool(Loop& loop, const ClientConfig& config, ClientIdentity identity,
                       std::vector<ServerEntry> servers)
    : loop_(loop), config_(config), identity_(std::move(identity)), servers_(std::move(servers)) {}

TunnelPool::~TunnelPool() { stop(); }

void TunnelPool::stop() {
  stopped_ = true;
  openings_.clear();
  idle_.clear();
}

void TunnelPool::acquire(Acquired done) {
  if (stopped_) {
    loop_.defer([done = std::move(done)] { done(nullptr, "client is stopping"); });
    return;
  }
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (!(*it)->ready()) continue;
    auto holder = std::make_shared<std::unique_ptr<Tunnel>>((*it)->take());
    idle_.erase(it);
    loop_.defer([done = std::move(done), holder] { done(std::move(*holder), {}); });
    return;
  }
  open(0, std::move(done), {});
}

void TunnelPool::open(size_t server_index, Acquired done, std::string previous_error) {
  if (server_index >= servers_.size()) {
    loop_.defer([done = std::move(done), previous_error] { done(nullptr, previous_error); });
    return;
  }
  ++handshakes_;
  openings_.push_back(std::make_unique<Opening>(
      loop_, servers_[server_index], identity_, config_.client.handshake_timeout,
      [this, server_index](Opening* o, std::unique_ptr<Tunnel> tunnel, const std::string& error) {
        Acquired requester = o->take_requester();
        forget_opening(o);
        if (tunnel) {
          MX_LOG(Debug, kLog) << "tunnel to " << servers_[server_index].config.address.to_string()
                              << " authenticated";
          requester(std::move(tunnel), {});
          return;
        }
        MX_LOG(Warn, kLog) << error;
        open(server_index + 1, std::move(requester), error);
      },
      std::move(done)));
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

void TunnelPool::release(std::unique_ptr<Tunnel> tunnel) { add_idle(std::move(tunnel), false); }

void TunnelPool::release_after_end(std::unique_ptr<Tunnel> tunnel) {
  add_idle(std::move(tunnel), true);
}

void TunnelPool::add_idle(std::unique_ptr<Tunnel> tunnel, bool awaiting_end) {
  if (stopped_ || tunnel->dead()) return;
  idle_.push_back(std::make_unique<Idle>(*this, std::move(tunnel), awaiting_end));
}

void TunnelPool::remove_idle(Idle* idle) {
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (it->get() != idle) continue;
    loop_.defer([dead = std::shared_ptr<Idle>(std::move(*it))] {});
    idle_.erase(it);
    return;
  }
}

}  // namespace mx
