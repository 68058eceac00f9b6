#include "server_tunnel.h"

#include "mxegress/crypto/client_identity.h"
#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "tunnel";
constexpr std::chrono::milliseconds kPongGrace{20};

bool allowed_from(const std::vector<Cidr>& cidrs, const std::optional<SocketAddress>& peer) {
  if (cidrs.empty()) return true;
  if (!peer) return false;
  for (const Cidr& cidr : cidrs) {
    if (cidr.contains(*peer)) return true;
  }
  return false;
}

}  // namespace

// One session of a multiplexed tunnel: its stream and the egress behind it.
class ServerTunnel::MuxSession final : public MuxStreamControl {
 public:
  MuxSession(ServerTunnel& owner, std::unique_ptr<MuxStream> s)
      : owner_(owner), stream(std::move(s)) {
    stream->set_control(this);
  }

  // Before the reply, the client may only reset the session: it gave up.
  void on_session_frame(frame::Type type, ByteView) override {
    const uint32_t id = stream->id();
    if (type == frame::Type::Rst) {
      MX_LOG(Info, kLog) << "session " << id
                         << " cancelled by the client before the reply peer=" << owner_.peer_;
      if (session) session->cut("cancelled by the client before the reply");
      owner_.end_mux_session(id);
      return;
    }
    owner_.close(std::string("protocol error: ") + frame::type_name(type) + " in session " +
                 std::to_string(id) + " before its reply");
  }
  void on_session_closed(const std::string&) override {}  // close() ends the egress

  ServerTunnel& owner_;
  std::unique_ptr<MuxStream> stream;  // declared first: the session's pump uses it
  std::unique_ptr<EgressSession> session;
};

ServerTunnel::ServerTunnel(EgressContext context, SnapshotSource snapshots, SSL_CTX* tls,
                           std::unique_ptr<TcpConnection> connection, FinishedCallback finished)
    : ctx_(context),
      snapshots_(std::move(snapshots)),
      finished_(std::move(finished)),
      timer_(context.loop),
      pong_timer_(context.loop) {
  peer_address_ = connection->peer_address();
  peer_ = peer_address_ ? peer_address_->to_string() : "?";
  tunnel_ =
      std::make_unique<Tunnel>(ctx_.loop, std::move(connection), tls, TlsEngine::Role::Server);
  tunnel_->set_handler(this);
}

ServerTunnel::~ServerTunnel() {
  session_.reset();
  mux_sessions_.clear();
  mux_.reset();
  tunnel_->set_handler(nullptr);
}

void ServerTunnel::start() {
  MX_LOG(Debug, kLog) << "accepted peer=" << peer_;
  tunnel_->start();
  timer_.start(snapshots_()->config().server.handshake_timeout, [this] {
    MX_LOG(Warn, kLog) << "auth failed peer=" << peer_ << " reason="
                       << log_field("no TLS handshake and AUTH within the handshake timeout");
    close("handshake timeout");
  });
}

void ServerTunnel::on_tunnel_ready() {
  state_ = State::Authenticating;
  MX_LOG(Debug, kLog) << "TLS established peer=" << peer_ << " "
                      << tunnel_->tls().protocol_version();
}

void ServerTunnel::on_tunnel_frame(const frame::Frame& f) {
  switch (state_) {
    case State::Authenticating:
      if (f.type != frame::Type::Auth) {
        refuse_auth(frame::AuthStatus::Malformed,
                    std::string("expected AUTH, got ") + frame::type_name(f.type));
        return;
      }
      authenticate(f);
      return;
    case State::Idle:
      if (f.type == frame::Type::Connect) {
        start_session(f);
      } else if (f.type == frame::Type::Ping) {
        answer_ping(f.payload);
      } else if (f.type != frame::Type::Pong) {
        close(std::string("protocol error: unexpected ") + frame::type_name(f.type) +
              " while idle");
      }
      return;
    default:
      close(std::string("protocol error: unexpected ") + frame::type_name(f.type));
      return;
  }
}

void ServerTunnel::refuse_auth(frame::AuthStatus status, const std::string& detail) {
  MX_LOG(Warn, kLog) << "auth failed peer=" << peer_ << " reason=" << log_field(detail);
  Bytes out;
  frame::encode_auth_result(out, {status, frame::auth_status_name(status), std::nullopt});
  tunnel_->send(out);
  close("auth failed");
}

std::optional<std::string> ServerTunnel::key_refusal(const ServerSnapshot& snapshot,
                                                     const ServerConfig::Tenant** tenant) const {
  *tenant = snapshot.tenant_for_key(key_);
  if (*tenant == nullptr) return "unknown key " + key_text_;
  if (!(*tenant)->enabled) return "tenant " + (*tenant)->name + " is disabled";
  if (!allowed_from((*tenant)->tunnel_from, peer_address_)) {
    return "tenant " + (*tenant)->name + " may not open tunnels from " +
           (peer_address_ ? peer_address_->ip_string() : "?");
  }
  return std::nullopt;
}

void ServerTunnel::authenticate(const frame::Frame& f) {
  auto auth = frame::parse_auth(f.payload);
  if (!auth) return refuse_auth(frame::AuthStatus::Malformed, "malformed AUTH frame");
  if (auth->version != frame::kProtocolVersion) {
    return refuse_auth(frame::AuthStatus::UnsupportedVersion,
                       "protocol version " + std::to_string(auth->version) + " not supported");
  }
  key_ = auth->public_key;
  key_text_ = encode_key(key_);
  std::shared_ptr<const ServerSnapshot> snapshot = snapshots_();
  const ServerConfig::Tenant* tenant = snapshot->tenant_for_key(key_);
  if (tenant == nullptr)
    return refuse_auth(frame::AuthStatus::UnknownKey, "unknown key " + key_text_);
  std::array<uint8_t, 32> exporter{};
  if (!tunnel_->tls().export_keying_material(exporter, kAuthExporterLabel) ||
      !verify_auth(auth->public_key, exporter, auth->signature)) {
    return refuse_auth(frame::AuthStatus::BadSignature,
                       "bad signature for the key of tenant " + tenant->name);
  }
  if (auto refused = key_refusal(*snapshot, &tenant)) {
    return refuse_auth(frame::AuthStatus::NotAllowed, *refused);
  }
  if (auth->mux_window && *auth->mux_window == 0) {
    return refuse_auth(frame::AuthStatus::Malformed, "multiplexed mode with a window of 0");
  }
  tenant_ = tenant->name;
  MX_LOG(Info, kLog) << "auth ok tenant=" << tenant_ << " peer=" << peer_
                     << " mode=" << (auth->mux_window ? "multiplexed" : "single")
                     << " cipher=" << tunnel_->tls().cipher_name()
                     << " records=" << tunnel_->tls().record_protection();
  frame::AuthResultMessage result{frame::AuthStatus::Ok, "ok", std::nullopt};
  if (auth->mux_window) result.mux_window = kDefaultSessionWindow;
  Bytes out;
  frame::encode_auth_result(out, result);
  tunnel_->send(out);
  if (!auth->mux_window) return enter_idle();
  // From here on the MuxTunnel gets the tunnel's frames and hands us the
  // ones that are not for a session.
  mux_ = std::make_unique<MuxTunnel>(ctx_.loop, *tunnel_, kDefaultSessionWindow, *auth->mux_window,
                                     static_cast<MuxTunnelHandler&>(*this));
  state_ = State::Multiplexed;
  start_idle_timer();
}

void ServerTunnel::enter_idle() {
  state_ = State::Idle;
  start_idle_timer();
}

void ServerTunnel::start_idle_timer() {
  // An idle tunnel is kept for the client's pool as long as a relayed
  // connection may stay idle.
  timer_.start(snapshots_()->config().server.idle_timeout,
               [this] { close("idle tunnel timeout"); });
}

// A pooled tunnel's client sends PING just ahead of its CONNECT, to learn
// quickly that the tunnel is alive. The CONNECT_REPLY tells it as much, so the
// PONG waits kPongGrace and is dropped if the reply goes first: one TLS record
// and one wakeup less per session on each side (docs/PROTOCOL.md).
void ServerTunnel::answer_ping(ByteView payload) {
  pong_payload_.assign(payload.begin(), payload.end());
  pong_timer_.start(kPongGrace, [this] {
    if (state_ == State::Closed) return;
    MX_LOG(Debug, kLog) << "pong peer=" << peer_;
    Bytes pong;
    frame::encode_frame(pong, frame::Type::Pong, pong_payload_);
    tunnel_->send(pong);
  });
}

void ServerTunnel::stop_pong() {
  if (!pong_timer_.active()) return;
  pong_timer_.stop();
  MX_LOG(Debug, kLog) << "pong withheld peer=" << peer_ << ": the CONNECT reply answers the PING";
}

void ServerTunnel::send_reply(socks5::Reply reply, const Target& bound) {
  stop_pong();
  Bytes out;
  frame::encode_connect_reply(out, {static_cast<uint8_t>(reply), bound});
  tunnel_->send(out);
}

void ServerTunnel::start_session(const frame::Frame& f) {
  timer_.stop();
  bool bad_address_type = false;
  auto target = frame::parse_connect(f.payload, bad_address_type);
  if (!target) {
    if (!bad_address_type) return close("protocol error: malformed CONNECT");
    MX_LOG(Warn, kLog) << "refused tenant=" << tenant_ << " peer=" << peer_
                       << " reason=" << log_field("address type not supported");
    send_reply(socks5::Reply::AddressTypeNotSupported, Target{});
    enter_idle();
    return;
  }
  // The rules in force now, not those of the AUTH: a reload may have
  // changed the tenant since.
  std::shared_ptr<const ServerSnapshot> snapshot = snapshots_();
  const ServerConfig::Tenant* tenant = nullptr;
  if (auto refused = key_refusal(*snapshot, &tenant)) {
    MX_LOG(Warn, kLog) << "refused peer=" << peer_ << " target=" << target->to_string()
                       << " reason=" << log_field(*refused);
    send_reply(socks5::Reply::NotAllowed, Target{});
    close(*refused);
    return;
  }
  tenant_ = tenant->name;
  state_ = State::InSession;
  session_ = std::make_unique<EgressSession>(
      ctx_, snapshot, *tenant, EgressOrigin{"tunnel", peer_, key_text_}, *target, *tunnel_,
      [this](socks5::Reply reply, const Target& bound) {
        on_reply(reply, bound);
        return Bytes{};  // the client sends its bytes after the reply
      },
      [this](const RelayOutcome& outcome) { on_session_done(outcome); });
  session_->start();
}

void ServerTunnel::on_reply(socks5::Reply reply, const Target& bound) {
  send_reply(reply, bound);
  if (reply == socks5::Reply::Succeeded) return;
  // A failed CONNECT leaves the tunnel clean: it serves the next one.
  end_session();
  if (state_ != State::Closed) enter_idle();
}

void ServerTunnel::end_session() {
  ctx_.loop.defer([dead = std::shared_ptr<EgressSession>(std::move(session_))] {});
  if (retire_after_session_) close("retired after its session (reload or drain)");
}

void ServerTunnel::on_session_done(const RelayOutcome& outcome) {
  // FIN went both ways: whatever happened to the destination socket after
  // that (a late reset after QUIT is common) cannot reach the client, and
  // the tunnel is clean. END tells the client it may reuse it.
  if (tunnel_->session_complete()) {
    tunnel_->detach_session();
    Bytes end;
    frame::encode_frame(end, frame::Type::End, as_bytes(outcome.clean ? "closed" : outcome.end));
    tunnel_->send(end);
    end_session();
    if (state_ != State::Closed) enter_idle();
    return;
  }
  end_session();
  close(outcome.end);
}

void ServerTunnel::on_reload() {
  if (state_ != State::Idle && state_ != State::InSession && state_ != State::Multiplexed) return;
  const std::shared_ptr<const ServerSnapshot> snapshot = snapshots_();
  const ServerConfig::Tenant* tenant = nullptr;
  auto refused = key_refusal(*snapshot, &tenant);
  if (!refused) return;
  if (state_ == State::Multiplexed && mux_sessions_.empty()) {
    MX_LOG(Info, kLog) << "closing idle tunnel peer=" << peer_ << " reason=" << log_field(*refused);
    close(*refused);
    return;
  }
  if (state_ == State::Multiplexed) {
    // As below, per session: a disabled or removed tenant's sessions are
    // cut; a removed key's sessions may finish. No new ones either way.
    const ServerConfig::Tenant* session_tenant = snapshot->tenant(tenant_);
    if (session_tenant == nullptr || !session_tenant->enabled) {
      if (!mux_sessions_.empty()) {
        MX_LOG(Info, kLog) << "cutting " << mux_sessions_.size() << " sessions peer=" << peer_
                           << " reason=" << log_field(*refused);
      }
      cut_mux_sessions(*refused);
    }
    retire(*refused);
    return;
  }
  if (state_ == State::Idle) {
    MX_LOG(Info, kLog) << "closing idle tunnel peer=" << peer_ << " reason=" << log_field(*refused);
    close(*refused);
    return;
  }
  // The tenant of the live session was disabled or removed: it is cut. Only a
  // removed key of a tenant still in force lets its session finish (the
  // tunnel then closes).
  const ServerConfig::Tenant* session_tenant = snapshot->tenant(tenant_);
  if (session_tenant == nullptr || !session_tenant->enabled) {
    MX_LOG(Info, kLog) << "cutting session peer=" << peer_ << " reason=" << log_field(*refused);
    session_->cut(*refused);
    return;
  }
  retire_after_session_ = true;
}

void ServerTunnel::on_drain() {
  if (state_ == State::Multiplexed) return retire("server stopping");
  if (state_ == State::InSession) {
    retire_after_session_ = true;
    return;
  }
  close("server stopping");
}

void ServerTunnel::on_tunnel_closed(const std::string& why) {
  MX_LOG(Debug, kLog) << "closed peer=" << peer_ << " tenant=" << tenant_
                      << " reason=" << log_field(why);
  close(why);
}

void ServerTunnel::close(const std::string& why) {
  if (state_ == State::Closed) return;
  if (state_ == State::Handshake) {
    MX_LOG(Warn, kLog) << "tunnel failed peer=" << peer_ << " reason=" << log_field(why);
  }
  state_ = State::Closed;
  timer_.stop();
  pong_timer_.stop();
  if (session_) session_->cut(why);
  cut_mux_sessions(why);  // ends every session, those still dialing too
  tunnel_->close();
  finished_(this);
}

// The multiplexed mode.

void ServerTunnel::on_mux_frame(const frame::Frame& f) {
  if (f.type == frame::Type::Ping) return answer_ping(f.payload);
  if (f.type == frame::Type::Pong) return;
  close(std::string("protocol error: unexpected ") + frame::type_name(f.type) +
        " on a multiplexed tunnel");
}

void ServerTunnel::on_mux_connect(uint32_t id, ByteView body) {
  if (state_ != State::Multiplexed) return;
  timer_.stop();
  if (goaway_sent_) {
    // Sent before our GOAWAY reached the client. An RST before any reply
    // tells it that nothing was dialed, so it may try another tunnel.
    Bytes rst;
    frame::encode_session_frame(rst, frame::Type::Rst, id, {});
    mux_->send(rst);
    return;
  }
  bool bad_address_type = false;
  auto target = frame::parse_connect(body, bad_address_type);
  if (!target) {
    if (!bad_address_type) return close("protocol error: malformed CONNECT");
    MX_LOG(Warn, kLog) << "refused tenant=" << tenant_ << " peer=" << peer_
                       << " reason=" << log_field("address type not supported");
    return send_mux_refusal(id, socks5::Reply::AddressTypeNotSupported);
  }
  std::shared_ptr<const ServerSnapshot> snapshot = snapshots_();
  const ServerConfig::Tenant* tenant = nullptr;
  if (auto refused = key_refusal(*snapshot, &tenant)) {
    MX_LOG(Warn, kLog) << "refused peer=" << peer_ << " target=" << target->to_string()
                       << " reason=" << log_field(*refused);
    send_mux_refusal(id, socks5::Reply::NotAllowed);
    return retire(*refused);
  }
  tenant_ = tenant->name;
  auto entry = std::make_unique<MuxSession>(*this, mux_->open_stream(id));
  MuxSession& s = *entry;
  mux_sessions_[id] = std::move(entry);
  s.session = std::make_unique<EgressSession>(
      ctx_, snapshot, *tenant, EgressOrigin{"tunnel", peer_, key_text_}, *target, *s.stream,
      [this, id](socks5::Reply reply, const Target& bound) {
        on_mux_reply(id, reply, bound);
        return Bytes{};
      },
      [this, id](const RelayOutcome&) { end_mux_session(id); });
  s.session->start();
}

void ServerTunnel::send_mux_refusal(uint32_t id, socks5::Reply reply) {
  stop_pong();
  Bytes out;
  frame::encode_connect_reply(out, {static_cast<uint8_t>(reply), Target{}}, id);
  mux_->send(out);
  if (mux_sessions_.empty() && state_ == State::Multiplexed) start_idle_timer();
}

void ServerTunnel::on_mux_reply(uint32_t id, socks5::Reply reply, const Target& bound) {
  auto it = mux_sessions_.find(id);
  if (it == mux_sessions_.end()) return;
  stop_pong();
  Bytes out;
  frame::encode_connect_reply(out, {static_cast<uint8_t>(reply), bound}, id);
  mux_->send(out);
  if (reply == socks5::Reply::Succeeded) return;
  // A failed CONNECT ends the session on both sides without an RST.
  it->second->stream->forget();
  end_mux_session(id);
}

void ServerTunnel::end_mux_session(uint32_t id) {
  auto it = mux_sessions_.find(id);
  if (it == mux_sessions_.end()) return;
  // Destroyed on the next turn: we may be inside its callback.
  ctx_.loop.defer([dead = std::shared_ptr<MuxSession>(std::move(it->second))] {});
  mux_sessions_.erase(it);
  if (!mux_sessions_.empty() || state_ != State::Multiplexed) return;
  if (goaway_sent_) return close("retired after its sessions (reload or drain)");
  start_idle_timer();
}

void ServerTunnel::cut_mux_sessions(const std::string& why) {
  std::vector<uint32_t> ids;
  for (const auto& [id, s] : mux_sessions_) ids.push_back(id);
  for (uint32_t id : ids) {
    auto it = mux_sessions_.find(id);
    if (it == mux_sessions_.end()) continue;
    if (it->second->session) it->second->session->cut(why);
    // One still dialing has no relay to cut: it ends here, reset.
    if (mux_sessions_.count(id) != 0) end_mux_session(id);
  }
}

void ServerTunnel::retire(const std::string& why) {
  if (goaway_sent_ || state_ != State::Multiplexed) return;
  goaway_sent_ = true;
  MX_LOG(Info, kLog) << "retiring tunnel peer=" << peer_ << " sessions=" << mux_sessions_.size()
                     << " reason=" << log_field(why);
  Bytes goaway;
  frame::encode_frame(goaway, frame::Type::GoAway, {});
  mux_->send(goaway);
  if (mux_sessions_.empty()) close(why);
}

void ServerTunnel::on_mux_closed(const std::string& why) {
  MX_LOG(Debug, kLog) << "closed peer=" << peer_ << " tenant=" << tenant_
                      << " sessions=" << mux_sessions_.size() << " reason=" << log_field(why);
  close(why);
}

}  // namespace mx
