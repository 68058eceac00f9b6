#include "socks5_session.h"

#include "mxegress/util/log.h"

namespace mx {
namespace {

constexpr const char* kLog = "socks5";
// The server answers CONNECT within its own connect_timeout (default 30 s);
// this bound only catches a server that never answers.
constexpr std::chrono::seconds kReplyTimeout{120};

}  // namespace

Socks5Session::Socks5Session(ClientContext context, std::unique_ptr<TcpConnection> local,
                             FinishedCallback finished)
    : ctx_(context),
      local_(std::move(local)),
      finished_(std::move(finished)),
      reply_timer_(context.loop) {
  auto peer = local_->peer_address();
  peer_ = peer ? peer->to_string() : "?";
}

Socks5Session::~Socks5Session() {
  *alive_ = false;
  pump_.reset();
  handshake_.reset();
  if (tunnel_) tunnel_->set_handler(nullptr);
}

void Socks5Session::start() {
  start_ = std::chrono::steady_clock::now();
  handshake_ = std::make_unique<Socks5Handshake>(
      ctx_.loop, *local_, ctx_.passwords, ctx_.config.client.handshake_timeout,
      "peer=" + peer_ + " ", [this](Socks5Handshake::Request r) { on_request(std::move(r)); },
      [this](const std::string& why) { finish(why); });
  handshake_->start();
}

void Socks5Session::on_request(Socks5Handshake::Request request) {
  state_ = State::Connecting;
  target_ = request.target;
  early_data_ = std::move(request.early_data);
  std::weak_ptr<bool> alive = alive_;
  ctx_.pool.acquire([this, alive](std::unique_ptr<Tunnel> tunnel, const std::string& error) {
    if (alive.expired()) return;  // the tunnel, if any, closes with its owner here
    on_tunnel(std::move(tunnel), error);
  });
}

void Socks5Session::on_tunnel(std::unique_ptr<Tunnel> tunnel, const std::string& error) {
  if (state_ != State::Connecting) return;
  if (!tunnel) {
    reply_and_close(socks5::Reply::GeneralFailure, "no tunnel: " + error);
    return;
  }
  tunnel_ = std::move(tunnel);
  tunnel_->set_handler(this);
  Bytes out;
  frame::encode_connect(out, target_);
  tunnel_->send(out);
  reply_timer_.start(kReplyTimeout, [this] {
    reply_and_close(socks5::Reply::GeneralFailure, "no CONNECT reply from the server");
  });
}

void Socks5Session::on_tunnel_frame(const frame::Frame& f) {
  if (state_ == State::Connecting && f.type == frame::Type::ConnectReply) {
    if (auto reply = frame::parse_connect_reply(f.payload)) {
      on_connect_reply(*reply);
      return;
    }
  }
  if (f.type == frame::Type::Pong) return;
  tunnel_->close();
  reply_and_close(socks5::Reply::GeneralFailure,
                  std::string("protocol error: unexpected ") + frame::type_name(f.type));
}

void Socks5Session::on_tunnel_closed(const std::string& why) {
  reply_and_close(socks5::Reply::GeneralFailure, "tunnel closed: " + why);
}

void Socks5Session::on_connect_reply(const frame::ConnectReplyMessage& reply) {
  reply_timer_.stop();
  const auto code = static_cast<socks5::Reply>(reply.reply);
  handshake_->send_reply(code, reply.bound);
  if (code != socks5::Reply::Succeeded) {
    MX_LOG(Info, kLog) << "peer=" << peer_ << " target=" << target_.to_string()
                       << " reply=" << static_cast<int>(reply.reply) << " ("
                       << socks5::reply_name(code) << ")";
    // The tunnel did its job and stays clean: it serves the next session.
    tunnel_->set_handler(nullptr);
    ctx_.pool.release(std::move(tunnel_));
    finish(socks5::reply_name(code));
    return;
  }
  MX_LOG(Debug, kLog) << "peer=" << peer_ << " target=" << target_.to_string()
                      << " connected from " << reply.bound.to_string();
  state_ = State::Relaying;
  tunnel_->set_handler(nullptr);
  if (!early_data_.empty()) {
    tunnel_->write(early_data_);
    early_data_.clear();
  }
  PumpOptions options;
  options.idle_timeout = ctx_.config.client.idle_timeout;
  pump_ = std::make_unique<Pump>(ctx_.loop, *local_, *tunnel_, options,
                                 [this](const RelayOutcome& o) { on_relay_done(o); });
  pump_->start();
}

void Socks5Session::on_relay_done(const RelayOutcome& outcome) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start_)
                      .count();
  MX_LOG(Info, kLog) << "session peer=" << peer_ << " target=" << target_.to_string()
                     << " bytes_up=" << outcome.bytes_a_to_b
                     << " bytes_down=" << outcome.bytes_b_to_a << " duration_ms=" << ms
                     << " end=" << log_field(outcome.end);
  ctx_.loop.defer([pump = std::shared_ptr<Pump>(std::move(pump_))] {});
  if (tunnel_->session_complete()) {
    tunnel_->detach_session();
    ctx_.pool.release_after_end(std::move(tunnel_));
  }
  finish(outcome.end);
}

void Socks5Session::reply_and_close(socks5::Reply reply, const std::string& why) {
  if (state_ == State::Closed) return;
  MX_LOG(Warn, kLog) << "peer=" << peer_ << " target=" << target_.to_string()
                     << " reply=" << static_cast<int>(reply) << " " << why;
  handshake_->send_reply(reply, Target{});
  finish(why);
}

void Socks5Session::finish(const std::string& why) {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  reply_timer_.stop();
  local_->set_reader(nullptr);
  local_->close_after_flush();
  if (tunnel_) {
    tunnel_->set_handler(nullptr);
    tunnel_->close();
  }
  MX_LOG(Debug, kLog) << "peer=" << peer_ << " closed: " << why;
  finished_(this);
}

}  // namespace mx
