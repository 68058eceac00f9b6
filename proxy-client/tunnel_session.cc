#include "tunnel_session.h"

#include "mxegress/util/log.h"

namespace mx {
namespace {

constexpr const char* kLog = "session";
// The server answers CONNECT within its own connect_timeout (default 30 s),
// and a dead tunnel is found by its liveness within keepalive_timeout; this
// bound only catches a server that is alive but never answers.
constexpr std::chrono::seconds kReplyTimeout{120};

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
  if (waiting_) ctx_.pool.cancel(*this);
  held_.reset();
  pump_.reset();
  stream_.reset();  // an unfinished session is reset on its tunnel
}

void TunnelSession::start(Bytes early_data) {
  MX_ASSERT_IN_LOOP(ctx_.loop);
  start_ = std::chrono::steady_clock::now();
  if (ctx_.sessions != nullptr) ctx_.sessions->start(ctx_.mode);
  held_ = std::make_unique<HeldInput>(local_, std::move(early_data),
                                      [this](const std::string& why) { on_client_gone(why); });
  waiting_ = true;
  ctx_.pool.acquire(*this);
}

void TunnelSession::on_tunnel_stream(std::unique_ptr<TunnelStream> stream, bool reused,
                                     const std::string& server) {
  waiting_ = false;
  stream_ = std::move(stream);
  reused_ = reused;
  server_ = server;
  stream_->set_control(this);
  stream_->send_connect(target_);
  reply_timer_.start(kReplyTimeout,
                     [this] { fail(socks5::Reply::GeneralFailure, "no CONNECT reply from " + server_); });
}

void TunnelSession::on_no_tunnel(const std::string& why) {
  waiting_ = false;
  count_end(SessionResult::NoTunnel);
  fail(socks5::Reply::GeneralFailure, "no tunnel: " + why);
}

void TunnelSession::on_client_gone(const std::string& why) {
  MX_LOG(Info, kLog) << log_kv("peer", peer_) << log_kv("target", target_.to_string()) << " "
                     << why << (stream_ ? "; CONNECT cancelled on " + server_ : std::string());
  if (waiting_) ctx_.pool.cancel(*this);
  waiting_ = false;
  reply_timer_.stop();
  drop_stream();  // its RST stops the server's dial
  on_reply_ = nullptr;
  count_end(SessionResult::Cancelled);
  auto on_done = std::move(on_done_);
  on_done(why);
}

void TunnelSession::drop_stream() {
  if (!stream_) return;
  stream_->set_control(nullptr);
  ctx_.loop.destroy_later(std::move(stream_));  // we may be inside its callback
}

void TunnelSession::on_session_frame(frame::Type type, ByteView body) {
  if (type == frame::Type::ConnectReply) {
    if (auto reply = frame::parse_connect_reply(body)) return on_connect_reply(*reply);
  }
  if (type == frame::Type::Rst) {
    // Reset before any reply: the server dialed nothing (it retires the
    // tunnel), so the CONNECT may go elsewhere.
    if (retry(server_ + " refused the session on a retiring tunnel")) return;
    fail(socks5::Reply::GeneralFailure, "session reset by " + server_ + " before its reply");
    return;
  }
  fail(socks5::Reply::GeneralFailure,
       std::string("protocol error: unexpected ") + frame::type_name(type));
}

void TunnelSession::on_session_lost(const std::string& why) {
  // A tunnel that was open before we asked may have been dead all along:
  // the CONNECT never reached a live server, so it may go again.
  if (reused_ && retry("pooled tunnel to " + server_ + " was dead (" + why + ")")) return;
  count_end(SessionResult::TunnelLost);
  fail(socks5::Reply::GeneralFailure, "tunnel to " + server_ + " " + why);
}

bool TunnelSession::retry(const std::string& why) {
  if (retried_) return false;
  retried_ = true;
  reply_timer_.stop();
  drop_stream();
  MX_LOG(Info, kLog) << log_kv("peer", peer_) << log_json_kv("target", target_.to_string()) << " "
                     << why << "; retrying on a fresh tunnel";
  waiting_ = true;
  ctx_.pool.acquire(*this, true);
  return true;
}

void TunnelSession::on_connect_reply(const frame::ConnectReplyMessage& reply) {
  reply_timer_.stop();
  const auto code = static_cast<socks5::Reply>(reply.reply);
  if (code != socks5::Reply::Succeeded) {
    MX_LOG(Info, kLog) << log_kv("peer", peer_) << log_kv("target", target_.to_string())
                       << log_kv("reply", static_cast<int>(reply.reply)) << " ("
                       << socks5::reply_name(code) << ")" << log_kv("via", server_)
                       << log_kv("tunnel", reused_ ? "pooled" : "fresh");
    held_->release();
    stream_->forget();  // over on both sides: no RST
    drop_stream();
    count_end(session_result_of(code));
    auto on_reply = std::move(on_reply_);
    on_reply(code, reply.bound, socks5::reply_name(code));
    return;
  }
  MX_LOG(Debug, kLog) << log_kv("peer", peer_) << log_kv("target", target_.to_string())
                      << " connected from " << reply.bound.to_string() << " via " << server_;
  stream_->set_control(nullptr);
  // The relay reads the local side from here on, in this same turn.
  const Bytes early_data = held_->release(true);
  auto on_reply = std::move(on_reply_);
  on_reply(code, reply.bound, "connected");
  // Relayed outside the pump: counted here for the session's log line.
  early_bytes_ = early_data.size();
  if (!early_data.empty()) stream_->write(early_data);
  PumpOptions options;
  options.idle_timeout = ctx_.config.client.idle_timeout;
  options.names = {"client", "tunnel"};
  pump_ = std::make_unique<Pump>(ctx_.loop, local_, *stream_, options,
                                 [this](const RelayOutcome& o) { on_relay_done(o); });
  pump_->start();
}

void TunnelSession::on_relay_done(const RelayOutcome& outcome) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start_)
                      .count();
  MX_LOG(Info, kLog) << log_kv("peer", peer_) << log_kv("target", target_.to_string())
                     << log_kv("via", server_) << log_kv("tunnel", reused_ ? "pooled" : "fresh")
                     << log_kv("bytes_up", early_bytes_ + outcome.bytes_a_to_b)
                     << log_kv("bytes_down", outcome.bytes_b_to_a) << log_kv("duration_ms", ms)
                     << log_kv("end", outcome.end);
  ctx_.loop.destroy_later(std::move(pump_));  // we are inside its callback
  drop_stream();
  count_end(session_result_of(outcome));
  auto on_done = std::move(on_done_);
  on_done(outcome.end);
}

void TunnelSession::fail(socks5::Reply reply, const std::string& why) {
  MX_LOG(Warn, kLog) << log_kv("peer", peer_) << log_kv("target", target_.to_string())
                     << log_kv("reply", static_cast<int>(reply)) << " " << why;
  reply_timer_.stop();
  drop_stream();
  if (!on_reply_) return;
  count_end(session_result_of(reply));
  held_->release();
  auto on_reply = std::move(on_reply_);
  on_reply(reply, Target{}, why);
}

void TunnelSession::count_end(SessionResult result) {
  if (counted_end_ || ctx_.sessions == nullptr) return;
  counted_end_ = true;
  ctx_.sessions->end(ctx_.mode, result);
}

}  // namespace mx
