#include "tunnel_session.h"

#include "mxegress/util/log.h"

namespace mx {
namespace {

constexpr const char* kLog = "session";
// The server answers CONNECT within its own connect_timeout (default 30 s);
// this bound only catches a server that never answers.
constexpr std::chrono::seconds kReplyTimeout{120};
// On a shared tunnel, a CONNECT without any answer this long sends a PING.
constexpr std::chrono::milliseconds kProbeAfter{200};

}  // namespace

TunnelSession::TunnelSession(ClientContext context, TcpConnection& local, std::string peer,
                             Target target, ReplyCallback on_reply, DoneCallback on_done)
    : ctx_(context),
      local_(local),
      peer_(std::move(peer)),
      target_(std::move(target)),
      on_reply_(std::move(on_reply)),
      on_done_(std::move(on_done)),
      reply_timer_(context.loop) {}

TunnelSession::~TunnelSession() {
  *alive_ = false;
  held_.reset();
  pump_.reset();
  stream_.reset();  // an unfinished session is reset on the shared tunnel
  if (tunnel_) {
    tunnel_->set_handler(nullptr);
    tunnel_->close();
  }
}

void TunnelSession::start(Bytes early_data) {
  start_ = std::chrono::steady_clock::now();
  held_ = std::make_unique<HeldInput>(local_, std::move(early_data),
                                      [this](const std::string& why) { on_client_gone(why); });
  acquire(false);
}

void TunnelSession::acquire(bool fresh) {
  std::weak_ptr<bool> alive = alive_;
  ctx_.pool.acquire(
      [this, alive](TunnelPool::Acquired acquired) {
        if (alive.expired()) return;  // the tunnel, if any, closes with `acquired`
        on_tunnel(std::move(acquired));
      },
      fresh);
}

void TunnelSession::on_tunnel(TunnelPool::Acquired acquired) {
  if (client_gone_) return;  // a stream that sent nothing goes without an RST
  if (!acquired.tunnel && !acquired.stream) {
    fail(socks5::Reply::GeneralFailure, "no tunnel: " + acquired.error);
    return;
  }
  server_index_ = acquired.server_index;
  server_ = acquired.server;
  reused_ = acquired.reused;
  if (acquired.stream) {
    // A session on a shared tunnel.
    stream_ = std::move(acquired.stream);
    stream_->set_control(this);
    Bytes address;
    socks5::encode_address(address, target_);
    const auto sent = std::chrono::steady_clock::now();
    stream_->send_frame(frame::Type::Connect, address);
    // As PING does in the single mode: the tunnel must be heard from within
    // keepalive_timeout of the CONNECT, else it is taken for dead. The reply
    // usually comes first; only a slow one makes us PING (no extra frame
    // per session otherwise).
    const auto timeout = ctx_.config.client.keepalive_timeout;
    const auto probe_after = std::min<std::chrono::milliseconds>(kProbeAfter, timeout / 2);
    reply_timer_.start(probe_after, [this, sent, timeout, probe_after] {
      if (stream_->heard_since(sent)) return start_reply_timer();
      stream_->probe_tunnel();
      reply_timer_.start(timeout - probe_after, [this, sent] {
        if (stream_->heard_since(sent)) return start_reply_timer();
        on_session_closed("no answer from the shared tunnel within keepalive_timeout");
      });
    });
    return;
  }
  tunnel_ = std::move(acquired.tunnel);
  tunnel_->set_handler(this);
  Bytes out;
  if (reused_) {
    // A pooled tunnel may have died silently (a frozen server, a NAT that
    // dropped the flow). PING goes first and costs no round trip; without a
    // PONG within keepalive_timeout the CONNECT goes to a fresh tunnel.
    frame::encode_frame(out, frame::Type::Ping, as_bytes("connect?"));
    awaiting_pong_ = true;
  }
  frame::encode_connect(out, target_);
  tunnel_->send(out);
  if (reused_) {
    reply_timer_.start(ctx_.config.client.keepalive_timeout,
                       [this] { on_tunnel_closed("no PONG within keepalive_timeout"); });
    return;
  }
  start_reply_timer();
}

void TunnelSession::on_client_gone(const std::string& why) {
  MX_LOG(Info, kLog) << "peer=" << peer_ << " target=" << target_.to_string() << " " << why
                     << (server_.empty() ? std::string() : "; CONNECT cancelled on " + server_);
  client_gone_ = true;
  reply_timer_.stop();
  drop_stream();  // its RST stops the server's dial
  drop_tunnel();  // the single mode: so does closing the tunnel
  on_reply_ = nullptr;
  auto on_done = std::move(on_done_);
  on_done(why);
}

void TunnelSession::start_reply_timer() {
  reply_timer_.start(kReplyTimeout, [this] {
    drop_tunnel();
    drop_stream();
    fail(socks5::Reply::GeneralFailure, "no CONNECT reply from " + server_);
  });
}

void TunnelSession::drop_tunnel() {
  if (!tunnel_) return;
  tunnel_->set_handler(nullptr);
  tunnel_->close();
  ctx_.loop.defer([dead = std::shared_ptr<Tunnel>(std::move(tunnel_))] {});
}

void TunnelSession::drop_stream() {
  if (!stream_) return;
  reply_timer_.stop();  // its callbacks look at the stream
  stream_->set_control(nullptr);
  ctx_.loop.defer([dead = std::shared_ptr<MuxStream>(std::move(stream_))] {});
}

Stream& TunnelSession::remote() {
  if (stream_) return *stream_;
  return *tunnel_;
}

void TunnelSession::on_session_frame(frame::Type type, ByteView body) {
  if (type == frame::Type::ConnectReply) {
    if (auto reply = frame::parse_connect_reply(body)) {
      on_connect_reply(*reply);
      return;
    }
  }
  if (type == frame::Type::Rst) {
    // Reset before any reply: the server dialed nothing (it retires the
    // tunnel), so the CONNECT may go elsewhere.
    drop_stream();
    MX_LOG(Info, kLog) << "peer=" << peer_ << " " << server_
                       << " refused the session on a retiring tunnel; trying another";
    if (!retried_) {
      retried_ = true;
      acquire(true);
      return;
    }
    fail(socks5::Reply::GeneralFailure, "session reset by " + server_ + " before its reply");
    return;
  }
  drop_stream();
  fail(socks5::Reply::GeneralFailure,
       std::string("protocol error: unexpected ") + frame::type_name(type));
}

void TunnelSession::on_session_closed(const std::string& why) {
  drop_stream();
  if (retry_on_fresh_tunnel(why)) return;
  fail(socks5::Reply::GeneralFailure, "tunnel to " + server_ + " closed: " + why);
}

void TunnelSession::on_tunnel_frame(const frame::Frame& f) {
  if (f.type == frame::Type::ConnectReply) {
    if (auto reply = frame::parse_connect_reply(f.payload)) {
      on_connect_reply(*reply);
      return;
    }
  }
  if (f.type == frame::Type::Pong && awaiting_pong_) {
    awaiting_pong_ = false;  // alive: now wait for the CONNECT reply proper
    start_reply_timer();
    return;
  }
  if (f.type == frame::Type::Pong || f.type == frame::Type::End) return;
  drop_tunnel();
  fail(socks5::Reply::GeneralFailure,
       std::string("protocol error: unexpected ") + frame::type_name(f.type));
}

void TunnelSession::on_tunnel_closed(const std::string& why) {
  reply_timer_.stop();
  awaiting_pong_ = false;
  drop_tunnel();
  if (retry_on_fresh_tunnel(why)) return;
  fail(socks5::Reply::GeneralFailure, "tunnel to " + server_ + " closed: " + why);
}

bool TunnelSession::retry_on_fresh_tunnel(const std::string& why) {
  if (!reused_ || retried_) return false;
  // A pooled tunnel died unnoticed (server restarted, NAT dropped it): the
  // CONNECT never reached a live server, so it is safe to send it again.
  retried_ = true;
  MX_LOG(Info, kLog) << "peer=" << peer_ << " pooled tunnel to " << server_ << " was dead (" << why
                     << "); retrying on a fresh tunnel";
  acquire(true);
  return true;
}

void TunnelSession::on_connect_reply(const frame::ConnectReplyMessage& reply) {
  reply_timer_.stop();
  const auto code = static_cast<socks5::Reply>(reply.reply);
  if (code != socks5::Reply::Succeeded) {
    MX_LOG(Info, kLog) << "peer=" << peer_ << " target=" << target_.to_string()
                       << " reply=" << static_cast<int>(reply.reply) << " ("
                       << socks5::reply_name(code) << ") via=" << server_
                       << " tunnel=" << (reused_ ? "pooled" : "fresh");
    held_->release();
    // The tunnel did its job and stays clean: it serves the next session.
    if (stream_) {
      stream_->forget();  // over on both sides: no RST
      drop_stream();
    } else {
      tunnel_->set_handler(nullptr);
      ctx_.pool.release(std::move(tunnel_), server_index_);
    }
    auto on_reply = std::move(on_reply_);
    on_reply(code, reply.bound, socks5::reply_name(code));
    return;
  }
  MX_LOG(Debug, kLog) << "peer=" << peer_ << " target=" << target_.to_string() << " connected from "
                      << reply.bound.to_string() << " via " << server_;
  if (tunnel_) tunnel_->set_handler(nullptr);
  if (stream_) stream_->set_control(nullptr);
  // The relay reads the local side from here on, in this same turn.
  const Bytes early_data = held_->release(true);
  auto on_reply = std::move(on_reply_);
  on_reply(code, reply.bound, "connected");
  if (!early_data.empty()) remote().write(early_data);
  PumpOptions options;
  options.idle_timeout = ctx_.config.client.idle_timeout;
  pump_ = std::make_unique<Pump>(ctx_.loop, local_, remote(), options,
                                 [this](const RelayOutcome& o) { on_relay_done(o); });
  pump_->start();
}

void TunnelSession::on_relay_done(const RelayOutcome& outcome) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start_)
                      .count();
  MX_LOG(Info, kLog) << "peer=" << peer_ << " target=" << target_.to_string() << " via=" << server_
                     << " tunnel=" << (reused_ ? "pooled" : "fresh")
                     << " bytes_up=" << outcome.bytes_a_to_b
                     << " bytes_down=" << outcome.bytes_b_to_a << " duration_ms=" << ms
                     << " end=" << log_field(outcome.end);
  ctx_.loop.defer([pump = std::shared_ptr<Pump>(std::move(pump_))] {});
  drop_stream();
  if (tunnel_ && tunnel_->session_complete()) {
    tunnel_->detach_session();
    ctx_.pool.release_after_end(std::move(tunnel_), server_index_);
  }
  auto on_done = std::move(on_done_);
  on_done(outcome.end);
}

void TunnelSession::fail(socks5::Reply reply, const std::string& why) {
  MX_LOG(Warn, kLog) << "peer=" << peer_ << " target=" << target_.to_string()
                     << " reply=" << static_cast<int>(reply) << " " << why;
  if (!on_reply_) return;
  held_->release();
  auto on_reply = std::move(on_reply_);
  on_reply(reply, Target{}, why);
}

}  // namespace mx
