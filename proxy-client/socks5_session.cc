#include "socks5_session.h"

#include <sodium.h>

#include <algorithm>

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
    : ctx_(context), local_(std::move(local)), finished_(std::move(finished)), timer_(context.loop) {
  auto peer = local_->peer_address();
  peer_ = peer ? peer->to_string() : "?";
}

Socks5Session::~Socks5Session() {
  *alive_ = false;
  pump_.reset();
  if (tunnel_) tunnel_->set_handler(nullptr);
  local_->set_reader(nullptr);
}

void Socks5Session::start() {
  start_ = std::chrono::steady_clock::now();
  local_->set_reader(this);
  local_->start_reading();
  timer_.start(ctx_.config.client.handshake_timeout, [this] {
    MX_LOG(Warn, kLog) << "peer=" << peer_ << " no complete SOCKS5 request within the handshake timeout";
    finish("handshake timeout");
  });
}

void Socks5Session::on_stream_data(ByteView data) {
  if (state_ == State::Closed) return;
  if (input_.size() + data.size() > 4096) {
    MX_LOG(Warn, kLog) << "peer=" << peer_ << " sent too much before the relay started";
    finish("oversized input");
    return;
  }
  input_.insert(input_.end(), data.begin(), data.end());
  parse_input();
}

void Socks5Session::on_stream_eof() {
  MX_LOG(Debug, kLog) << "peer=" << peer_ << " closed before the relay started";
  finish("client closed");
}

void Socks5Session::on_stream_error(const std::string& why) {
  MX_LOG(Debug, kLog) << "peer=" << peer_ << " " << why;
  finish(why);
}

void Socks5Session::parse_input() {
  bool progressed = true;
  while (progressed && state_ != State::Closed && !input_.empty()) {
    switch (state_) {
      case State::Greeting:
        progressed = handle_greeting();
        break;
      case State::Login:
        progressed = handle_login();
        break;
      case State::Request:
        progressed = handle_request();
        break;
      default:
        return;  // later bytes are early data for the relay
    }
  }
}

void Socks5Session::send_local(const Bytes& bytes) { local_->write(ByteView(bytes)); }

bool Socks5Session::handle_greeting() {
  socks5::Greeting greeting;
  const socks5::ParseResult r = socks5::parse_greeting(input_, greeting);
  if (r.status == socks5::ParseStatus::NeedMore) return false;
  if (r.status == socks5::ParseStatus::Error) {
    MX_LOG(Warn, kLog) << "peer=" << peer_ << " bad greeting: " << r.error;
    finish("bad greeting");
    return false;
  }
  input_.erase(input_.begin(), input_.begin() + static_cast<ptrdiff_t>(r.consumed));
  const uint8_t wanted =
      ctx_.passwords.required() ? socks5::kMethodUserPass : socks5::kMethodNoAuth;
  const bool offered =
      std::find(greeting.methods.begin(), greeting.methods.end(), wanted) != greeting.methods.end();
  Bytes out;
  socks5::encode_method_selection(out, offered ? wanted : socks5::kMethodNoAcceptable);
  send_local(out);
  if (!offered) {
    MX_LOG(Warn, kLog) << "peer=" << peer_ << " offered no acceptable method"
                       << (ctx_.passwords.required() ? " (username/password required)" : "");
    finish("no acceptable method");
    return false;
  }
  state_ = wanted == socks5::kMethodUserPass ? State::Login : State::Request;
  return true;
}

bool Socks5Session::handle_login() {
  socks5::Credentials credentials;
  const socks5::ParseResult r = socks5::parse_credentials(input_, credentials);
  if (r.status == socks5::ParseStatus::NeedMore) return false;
  if (r.status == socks5::ParseStatus::Error) {
    MX_LOG(Warn, kLog) << "peer=" << peer_ << " bad login message: " << r.error;
    Bytes out;
    socks5::encode_auth_status(out, false);
    send_local(out);
    finish("bad login");
    return false;
  }
  input_.erase(input_.begin(), input_.begin() + static_cast<ptrdiff_t>(r.consumed));
  state_ = State::CheckingLogin;
  const std::string user = credentials.user;
  login_check_ = ctx_.passwords.verify(user, credentials.password,
                                       [this, user](bool ok) { on_login_checked(ok, user); });
  sodium_memzero(credentials.password.data(), credentials.password.size());
  return false;
}

void Socks5Session::on_login_checked(bool ok, const std::string& user) {
  if (state_ != State::CheckingLogin) return;
  Bytes out;
  socks5::encode_auth_status(out, ok);
  send_local(out);
  if (!ok) {
    MX_LOG(Warn, kLog) << "peer=" << peer_ << " login failed for user " << log_field(user);
    finish("login failed");
    return;
  }
  user_ = user;
  state_ = State::Request;
  parse_input();  // the request may already be here
}

bool Socks5Session::handle_request() {
  socks5::Request request;
  const socks5::ParseResult r = socks5::parse_request(input_, request);
  if (r.status == socks5::ParseStatus::NeedMore) return false;
  if (r.status == socks5::ParseStatus::Error) {
    reply_and_close(r.reply, "bad request: " + r.error);
    return false;
  }
  input_.erase(input_.begin(), input_.begin() + static_cast<ptrdiff_t>(r.consumed));
  target_ = request.target;
  if (request.command != socks5::Command::Connect) {
    reply_and_close(socks5::Reply::CommandNotSupported,
                    request.command == socks5::Command::Bind ? "BIND is not supported"
                                                             : "UDP ASSOCIATE is not supported");
    return false;
  }
  // Hold the client's bytes until the destination answers (early data stays
  // in input_ and is sent first when the relay starts).
  state_ = State::Connecting;
  local_->pause_reading();
  timer_.stop();
  std::weak_ptr<bool> alive = alive_;
  ctx_.pool.acquire([this, alive](std::unique_ptr<Tunnel> tunnel, const std::string& error) {
    if (alive.expired()) return;  // the tunnel, if any, closes with its owner here
    on_tunnel(std::move(tunnel), error);
  });
  return false;
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
  timer_.start(kReplyTimeout, [this] {
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
  timer_.stop();
  const auto code = static_cast<socks5::Reply>(reply.reply);
  Bytes out;
  socks5::encode_reply(out, code, reply.bound);
  send_local(out);
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
  if (!input_.empty()) {
    tunnel_->write(input_);
    input_.clear();
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
  if (outcome.clean && !tunnel_->dead()) {
    tunnel_->detach_session();
    ctx_.pool.release(std::move(tunnel_));
  }
  finish(outcome.end);
}

void Socks5Session::reply_and_close(socks5::Reply reply, const std::string& why) {
  if (state_ == State::Closed) return;
  MX_LOG(Warn, kLog) << "peer=" << peer_ << " reply=" << static_cast<int>(reply) << " " << why;
  Bytes out;
  socks5::encode_reply(out, reply, Target{});
  send_local(out);
  finish(why);
}

void Socks5Session::finish(const std::string& why) {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  timer_.stop();
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
