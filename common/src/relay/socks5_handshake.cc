#include "mxegress/relay/socks5_handshake.h"

#include <sodium.h>

#include <algorithm>

#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "socks5";
// More than any complete greeting + login + request (257 + 513 + 262 bytes)
// plus a little early data; a client that sends more is not speaking SOCKS5.
constexpr size_t kMaxBufferedInput = 4096;
}  // namespace

Socks5Handshake::Socks5Handshake(Loop& loop, TcpConnection& client, PasswordCache* passwords,
                                 std::chrono::milliseconds timeout, std::string peer,
                                 RequestCallback on_request, FailedCallback on_failed)
    : client_(client),
      passwords_(passwords),
      peer_(std::move(peer)),
      on_request_(std::move(on_request)),
      on_failed_(std::move(on_failed)),
      deadline_(loop),
      timeout_(timeout) {}

Socks5Handshake::~Socks5Handshake() {
  if (state_ != State::Done) client_.set_reader(nullptr);
}

void Socks5Handshake::start() {
  client_.set_reader(this);
  client_.start_reading();
  deadline_.start(timeout_,
                  [this] { fail("no complete SOCKS5 request within the handshake timeout"); });
}

void Socks5Handshake::on_stream_data(ByteView data) {
  if (state_ == State::Done) return;
  if (!data.empty()) heard_ = true;
  if (input_.size() + data.size() > kMaxBufferedInput) {
    fail("sent more than " + std::to_string(kMaxBufferedInput) + " bytes before its request");
    return;
  }
  input_.insert(input_.end(), data.begin(), data.end());
  parse_input();
}

void Socks5Handshake::on_stream_eof() { fail("closed during the SOCKS5 handshake", false); }

void Socks5Handshake::on_stream_error(const std::string& why) { fail(why, false); }

void Socks5Handshake::parse_input() {
  bool progressed = true;
  while (progressed && !input_.empty()) {
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
        return;
    }
  }
}

bool Socks5Handshake::handle_greeting() {
  socks5::Greeting greeting;
  const socks5::ParseResult r = socks5::parse_greeting(input_, greeting);
  if (r.status == socks5::ParseStatus::NeedMore) return false;
  if (r.status == socks5::ParseStatus::Error) {
    fail("bad greeting: " + r.error);
    return false;
  }
  input_.erase(input_.begin(), input_.begin() + static_cast<ptrdiff_t>(r.consumed));
  const uint8_t wanted = passwords_ ? socks5::kMethodUserPass : socks5::kMethodNoAuth;
  const bool offered =
      std::find(greeting.methods.begin(), greeting.methods.end(), wanted) != greeting.methods.end();
  Bytes out;
  socks5::encode_method_selection(out, offered ? wanted : socks5::kMethodNoAcceptable);
  send(out);
  if (!offered) {
    fail(passwords_ ? "did not offer username/password, which is required"
                    : "did not offer the no-authentication method");
    return false;
  }
  state_ = passwords_ ? State::Login : State::Request;
  return true;
}

bool Socks5Handshake::handle_login() {
  socks5::Credentials credentials;
  const socks5::ParseResult r = socks5::parse_credentials(input_, credentials);
  if (r.status == socks5::ParseStatus::NeedMore) return false;
  if (r.status == socks5::ParseStatus::Error) {
    Bytes out;
    socks5::encode_auth_status(out, false);
    send(out);
    fail("bad login message: " + r.error);
    return false;
  }
  sodium_memzero(input_.data(), r.consumed);
  input_.erase(input_.begin(), input_.begin() + static_cast<ptrdiff_t>(r.consumed));
  state_ = State::CheckingLogin;
  const std::string user = credentials.user;
  const auto peer = client_.peer_address();
  PasswordCache::Pending pending =
      passwords_->verify(user, credentials.password, peer ? peer->ip_string() : "?",
                         [this, user](LoginVerdict verdict) { on_login_checked(verdict, user); });
  sodium_memzero(credentials.password.data(), credentials.password.size());
  if (pending.now) {
    on_login_checked(*pending.now, user);  // parses what follows itself
    return false;
  }
  login_check_ = std::move(pending.token);
  return false;
}

void Socks5Handshake::on_login_checked(LoginVerdict verdict, const std::string& user) {
  if (state_ != State::CheckingLogin) return;
  login_check_.reset();
  const bool ok = verdict == LoginVerdict::Ok;
  Bytes out;
  socks5::encode_auth_status(out, ok);
  send(out);
  if (!ok) {
    // Busy and Backoff refusals come in floods: the checker logs them at
    // warn, rate-limited; this line is for debugging.
    user_ = user;
    fail("login failed for user " + log_field(user) + ": " + std::string(to_string(verdict)),
         verdict == LoginVerdict::BadPassword);
    return;
  }
  user_ = user;
  state_ = State::Request;
  parse_input();  // the request may already be here
}

bool Socks5Handshake::handle_request() {
  socks5::Request request;
  const socks5::ParseResult r = socks5::parse_request(input_, request);
  if (r.status == socks5::ParseStatus::NeedMore) return false;
  if (r.status == socks5::ParseStatus::Error) {
    send_reply(r.reply, Target{});
    fail("bad request: " + r.error);
    return false;
  }
  input_.erase(input_.begin(), input_.begin() + static_cast<ptrdiff_t>(r.consumed));
  if (request.command != socks5::Command::Connect) {
    send_reply(socks5::Reply::CommandNotSupported, Target{});
    fail(request.command == socks5::Command::Bind ? "BIND is not supported"
                                                  : "UDP ASSOCIATE is not supported");
    return false;
  }
  // What is already here goes first once the relay starts. The session that
  // takes the connection over reads on while it dials (HeldInput notices a
  // client that leaves); pausing here for it to resume would cost libuv an
  // epoll_ctl pair per session. If nothing took it over, stop reading.
  state_ = State::Done;
  deadline_.stop();
  client_.set_reader(nullptr);
  on_request_(Request{request.target, user_, std::move(input_)});
  if (!client_.has_reader()) client_.pause_reading();
  return false;
}

void Socks5Handshake::send_reply(socks5::Reply reply, const Target& bound) {
  Bytes out;
  socks5::encode_reply(out, reply, bound);
  send(out);
}

void Socks5Handshake::fail(const std::string& why, bool warn) {
  if (state_ == State::Done) return;
  state_ = State::Done;
  deadline_.stop();
  client_.set_reader(nullptr);
  // A connection that never sent a byte (a TCP health probe, a port scan)
  // is no client's failure: debug, like one that left during the handshake.
  const LogKv user = log_json_kv("user", user_.empty() ? std::nullopt : std::optional(user_));
  if (warn && heard_) {
    MX_LOG(Warn, kLog) << log_kv("peer", peer_) << user << ' ' << why;
  } else {
    MX_LOG(Debug, kLog) << log_kv("peer", peer_) << user << ' ' << why;
  }
  on_failed_(why);
}

}  // namespace mx
