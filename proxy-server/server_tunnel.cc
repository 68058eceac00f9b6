#include "server_tunnel.h"

#include "mxegress/crypto/client_identity.h"
#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "tunnel";
}  // namespace

ServerTunnel::ServerTunnel(ServerContext context, std::unique_ptr<TcpConnection> connection,
                           FinishedCallback finished)
    : ctx_(context), finished_(std::move(finished)), timer_(context.loop) {
  auto peer = connection->peer_address();
  peer_ = peer ? peer->to_string() : "?";
  tunnel_ = std::make_unique<Tunnel>(ctx_.loop, std::move(connection), ctx_.tls,
                                     TlsEngine::Role::Server);
  tunnel_->set_handler(this);
}

ServerTunnel::~ServerTunnel() {
  pump_.reset();
  dialer_.reset();
  tunnel_->set_handler(nullptr);
}

void ServerTunnel::start() {
  MX_LOG(Debug, kLog) << "accepted peer=" << peer_;
  tunnel_->start();
  timer_.start(ctx_.config.server.handshake_timeout, [this] {
    MX_LOG(Warn, kLog) << "auth failed peer=" << peer_
                       << " reason=" << log_field("no TLS handshake and AUTH within the handshake timeout");
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
        Bytes pong;
        frame::encode_frame(pong, frame::Type::Pong, f.payload);
        tunnel_->send(pong);
      } else if (f.type != frame::Type::Pong) {
        close(std::string("protocol error: unexpected ") + frame::type_name(f.type) + " while idle");
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
  frame::encode_auth_result(out, {status, frame::auth_status_name(status)});
  tunnel_->send(out);
  close("auth failed");
}

void ServerTunnel::authenticate(const frame::Frame& f) {
  auto auth = frame::parse_auth(f.payload);
  if (!auth) return refuse_auth(frame::AuthStatus::Malformed, "malformed AUTH frame");
  if (auth->version != frame::kProtocolVersion) {
    return refuse_auth(frame::AuthStatus::UnsupportedVersion,
                       "protocol version " + std::to_string(auth->version) + " not supported");
  }
  auto tenant = ctx_.tenants.find(auth->public_key);
  if (!tenant) {
    return refuse_auth(frame::AuthStatus::UnknownKey, "unknown key " + encode_key(auth->public_key));
  }
  std::array<uint8_t, 32> exporter{};
  if (!tunnel_->tls().export_keying_material(exporter, kAuthExporterLabel) ||
      !verify_auth(auth->public_key, exporter, auth->signature)) {
    return refuse_auth(frame::AuthStatus::BadSignature,
                       "bad signature for the key of tenant " + tenant->name);
  }
  tenant_ = tenant->name;
  MX_LOG(Info, kLog) << "auth ok tenant=" << tenant_ << " peer=" << peer_;
  Bytes out;
  frame::encode_auth_result(out, {frame::AuthStatus::Ok, "ok"});
  tunnel_->send(out);
  enter_idle();
}

void ServerTunnel::enter_idle() {
  state_ = State::Idle;
  // An idle tunnel is kept for the client's pool as long as a relayed
  // connection may stay idle.
  timer_.start(ctx_.config.server.idle_timeout, [this] { close("idle tunnel timeout"); });
}

void ServerTunnel::start_session(const frame::Frame& f) {
  timer_.stop();
  bool bad_address_type = false;
  auto target = frame::parse_connect(f.payload, bad_address_type);
  if (!target) {
    if (bad_address_type) {
      MX_LOG(Warn, kLog) << "refused tenant=" << tenant_ << " peer=" << peer_
                         << " reason=" << log_field("address type not supported");
      send_reply(socks5::Reply::AddressTypeNotSupported, Target{});
      enter_idle();
      return;
    }
    close("protocol error: malformed CONNECT");
    return;
  }
  state_ = State::Dialing;
  target_ = *target;
  session_start_ = std::chrono::steady_clock::now();
  ++sessions_;
  dialer_ = std::make_unique<Dialer>(ctx_.loop, ctx_.policy, ctx_.config.server.connect_timeout,
                                     "tenant=" + tenant_);
  dialer_->dial(target_, [this](DialResult result) { on_dialed(std::move(result)); });
}

void ServerTunnel::send_reply(socks5::Reply reply, const Target& bound) {
  Bytes out;
  frame::encode_connect_reply(out, {static_cast<uint8_t>(reply), bound});
  tunnel_->send(out);
}

void ServerTunnel::on_dialed(DialResult result) {
  ctx_.loop.defer([dead = std::shared_ptr<Dialer>(std::move(dialer_))] {});
  dial_ = std::move(result);
  upstream_ = std::move(dial_.connection);
  const Target bound = dial_.source ? dial_.source->to_target() : Target{};
  send_reply(dial_.reply, bound);
  if (dial_.reply != socks5::Reply::Succeeded) {
    const bool refused = dial_.reply == socks5::Reply::NotAllowed;
    MX_LOG(Info, kLog) << (refused ? "refused" : "failed") << " tenant=" << tenant_
                       << " target=" << target_.to_string()
                       << " reply=" << static_cast<int>(dial_.reply) << " reason=" << log_field(dial_.detail);
    log_session_end(socks5::reply_name(dial_.reply), 0, 0);
    enter_idle();
    return;
  }
  state_ = State::Relaying;
  upstream_->start_reading();
  PumpOptions options;
  options.idle_timeout = ctx_.config.server.idle_timeout;
  pump_ = std::make_unique<Pump>(ctx_.loop, *tunnel_, *upstream_, options,
                                 [this](const RelayOutcome& outcome) { on_relay_done(outcome); });
  pump_->start();
}

void ServerTunnel::log_session_end(const std::string& end, uint64_t up, uint64_t down) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - session_start_)
                      .count();
  MX_LOG(Info, "session") << "tenant=" << tenant_ << " peer=" << peer_
                          << " target=" << target_.to_string() << " connected="
                          << (dial_.connected ? dial_.connected->to_string() : "-")
                          << " source=" << (dial_.source ? dial_.source->to_string() : "-")
                          << " reply=" << static_cast<int>(dial_.reply) << " bytes_up=" << up
                          << " bytes_down=" << down << " duration_ms=" << ms
                          << " end=" << log_field(end);
}

void ServerTunnel::on_relay_done(const RelayOutcome& outcome) {
  // a = tunnel (the client's bytes), b = upstream (the destination's bytes)
  log_session_end(outcome.end, outcome.bytes_a_to_b, outcome.bytes_b_to_a);
  ctx_.loop.defer([pump = std::shared_ptr<Pump>(std::move(pump_)),
                   upstream = std::shared_ptr<TcpConnection>(std::move(upstream_))] {});
  // FIN went both ways: whatever happened to the destination socket after
  // that (a late reset after QUIT is common) cannot reach the client, and
  // the tunnel is clean. END tells the client it may reuse it.
  if (tunnel_->session_complete()) {
    tunnel_->detach_session();
    Bytes end;
    frame::encode_frame(end, frame::Type::End, as_bytes(outcome.clean ? "closed" : outcome.end));
    tunnel_->send(end);
    enter_idle();
    return;
  }
  close(outcome.end);
}

void ServerTunnel::on_tunnel_closed(const std::string& why) {
  MX_LOG(Debug, kLog) << "closed peer=" << peer_ << " tenant=" << tenant_ << " reason=" << log_field(why);
  close(why);
}

void ServerTunnel::close(const std::string& why) {
  if (state_ == State::Closed) return;
  if (state_ == State::Handshake) {
    MX_LOG(Warn, kLog) << "tunnel failed peer=" << peer_ << " reason=" << log_field(why);
  }
  state_ = State::Closed;
  timer_.stop();
  tunnel_->close();
  finished_(this);
}

}  // namespace mx
