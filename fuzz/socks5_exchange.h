// What a SOCKS5 front end (the shared Socks5Handshake and the session that
// owns it) must answer to a given client byte stream, and the check of what
// it did answer. The expected answers are derived with the codec (fuzzed on
// its own by socks5_fuzz): one method selection per greeting, one login
// status per login message, with the right verdict, one reply per request,
// nothing after a refusal, and after a successful reply exactly the bytes
// the client relayed, echoed back in order.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "mxegress/codec/socks5.h"
#include "stateful_support.h"

namespace mx::fuzz {

class Socks5Exchange {
 public:
  using Verdict = std::function<bool(const std::string& user, const std::string& password)>;

  // `sent`: every byte the client sent; `login`: the front end requires
  // RFC 1929 login, `valid` says which logins are good.
  Socks5Exchange(ByteView sent, bool login, const Verdict& valid) {
    using namespace socks5;
    ByteView in = sent;
    Greeting greeting;
    ParseResult r = parse_greeting(in, greeting);
    if (r.status != ParseStatus::Done) return;  // no answer: bad or incomplete greeting
    in = in.subspan(r.consumed);
    const uint8_t wanted = login ? kMethodUserPass : kMethodNoAuth;
    bool offered = false;
    for (uint8_t m : greeting.methods) offered = offered || m == wanted;
    method_ = offered ? wanted : kMethodNoAcceptable;
    if (!offered) return;
    if (login) {
      Credentials credentials;
      r = parse_credentials(in, credentials);
      if (r.status == ParseStatus::NeedMore) return;
      login_ok_ = r.status == ParseStatus::Done && valid(credentials.user, credentials.password);
      if (!*login_ok_) return;
      in = in.subspan(r.consumed);
    }
    Request request;
    r = parse_request(in, request);
    if (r.status == ParseStatus::NeedMore) return;
    if (r.status == ParseStatus::Error) {
      reply_ = r.reply;
      return;
    }
    if (request.command != Command::Connect) {
      reply_ = Reply::CommandNotSupported;
      return;
    }
    connect_ = request.target;
    relayed_ = Bytes(in.begin() + static_cast<ptrdiff_t>(r.consumed), in.end());
  }

  // A complete CONNECT was sent: the reply is the session's to give.
  bool connect_sent() const { return connect_.has_value(); }
  const Target& target() const { return *connect_; }
  // The bytes sent after the CONNECT: what a successful session relays.
  size_t relayed_size() const { return relayed_.size(); }

  // Whether `received` holds every answer due (the CONNECT's reply included).
  bool answered(ByteView received) const {
    using namespace socks5;
    if (!method_) return true;
    uint8_t method = 0;
    ParseResult r = parse_method_selection(received, method);
    if (r.status != ParseStatus::Done) return false;
    received = received.subspan(r.consumed);
    if (method != *method_ || method == kMethodNoAcceptable) return true;
    if (method == kMethodUserPass) {
      if (!login_ok_) return true;
      bool ok = false;
      r = parse_auth_status(received, ok);
      if (r.status != ParseStatus::Done) return false;
      received = received.subspan(r.consumed);
      if (!ok) return true;
    }
    if (!reply_ && !connect_) return true;
    ReplyMessage reply;
    return parse_reply(received, reply).status != ParseStatus::NeedMore;
  }

  // Checks what the client received. `complete`: the client stayed until
  // the front end had answered everything up to the CONNECT (it half-closed
  // or waited), so every answer before the reply must be there; with
  // `reply_due` too (it waited for the reply), the reply as well; with
  // `echo_complete`, the echo of all relayed bytes after a success.
  // Returns the reply code received for a CONNECT, if any.
  std::optional<socks5::Reply> check(ByteView received, bool complete, bool reply_due,
                                     bool echo_complete) const {
    using namespace socks5;
    ByteView in = received;
    auto done = [&] { require(in.empty(), "socks5: bytes after the last answer due"); };
    auto absent_ok = [&](bool required, const char* what) {
      require(!required, what);
      done();
    };
    if (!method_) return done(), std::nullopt;
    if (in.empty()) return absent_ok(complete, "socks5: no method selection"), std::nullopt;
    uint8_t method = 0;
    ParseResult r = parse_method_selection(in, method);
    require(r.status == ParseStatus::Done, "socks5: method selection malformed or cut");
    require(method == *method_, "socks5: wrong method selected");
    in = in.subspan(r.consumed);
    if (method == kMethodNoAcceptable) return done(), std::nullopt;
    if (login_ok_) {
      if (in.empty()) return absent_ok(complete, "socks5: no login status"), std::nullopt;
      bool ok = false;
      r = parse_auth_status(in, ok);
      require(r.status == ParseStatus::Done, "socks5: login status malformed or cut");
      require(ok == *login_ok_, "socks5: wrong login verdict");
      in = in.subspan(r.consumed);
      if (!ok) return done(), std::nullopt;
    } else if (method == kMethodUserPass) {
      return done(), std::nullopt;  // the login message is not complete
    }
    if (!reply_ && !connect_) return done(), std::nullopt;
    if (in.empty()) {
      absent_ok(reply_ ? complete : reply_due, "socks5: no reply");
      return std::nullopt;
    }
    ReplyMessage reply;
    r = parse_reply(in, reply);
    require(r.status == ParseStatus::Done, "socks5: reply malformed or cut");
    in = in.subspan(r.consumed);
    if (reply_) {
      require(reply.reply == *reply_, "socks5: wrong reply to a bad request");
      done();
      return std::nullopt;
    }
    if (reply.reply != Reply::Succeeded) {
      done();
      return reply.reply;
    }
    require(in.size() <= relayed_.size() && std::equal(in.begin(), in.end(), relayed_.begin()),
            "socks5: the echo is not a prefix of what was relayed");
    require(!echo_complete || in.size() == relayed_.size(), "socks5: the echo is incomplete");
    return reply.reply;
  }

 private:
  std::optional<uint8_t> method_;
  std::optional<bool> login_ok_;
  std::optional<socks5::Reply> reply_;  // for a request refused by the front end
  std::optional<Target> connect_;
  Bytes relayed_;
};

}  // namespace mx::fuzz
