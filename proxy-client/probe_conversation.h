// The SMTP side of `mxegress-client probe`, without I/O: fed the MX's
// replies (smtp_reply.h) and the outcome of the TLS handshake, it says what
// to send next and records each step in a ProbeReport. The order is the
// one an MTA follows: banner, EHLO, STARTTLS (when offered), TLS, EHLO
// again, QUIT. A negative reply ends the probe politely (QUIT, then close);
// a broken connection ends it at once. ProbeSession does the I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "mxegress/codec/smtp_reply.h"
#include "probe_report.h"

namespace mx {

class ProbeConversation {
 public:
  struct Options {
    std::string helo;     // the name sent with EHLO
    bool tls = true;      // false: --no-tls, stop after the first EHLO
    bool verify = false;  // --verify: an unverified certificate fails the probe
  };
  // What the I/O driver does next.
  struct Action {
    enum class Kind {
      Wait,      // read the next reply
      Send,      // send `line` (with CRLF), then read the next reply
      StartTls,  // begin the TLS handshake (over the bytes after the 220)
      Close,     // done: close the stream
    };
    Kind kind = Kind::Wait;
    std::string line;
  };
  using Clock = std::function<int64_t()>;  // ms since the probe started

  ProbeConversation(Options options, ProbeReport& report, Clock clock);

  // The stream to the MX is open (CONNECT succeeded): the banner is next.
  Action on_connected();
  Action on_reply(const smtp::Reply& reply);
  // The TLS handshake succeeded (`tls` filled in) or failed (`why`).
  Action on_tls_done(const ProbeTls& tls);
  Action on_tls_failed(const std::string& why);
  // The stream broke, the MX sent something that is no SMTP, or a step
  // ran out of time: the probe ends here (no reply to wait for).
  Action on_closed(const std::string& why);
  Action on_bad_reply(smtp::ReplyError error);
  Action on_timeout();

  // The step under way ("banner", "ehlo", ...), for a timeout's message.
  const char* step() const;
  bool in_tls() const { return tls_on_; }
  bool finished() const { return state_ == State::Done; }

 private:
  enum class State { Idle, Banner, Ehlo, StartTls, Handshake, EhloTls, Quit, Done };

  Action send(State next, std::string line);
  Action quit();  // after a failure, or at the end
  Action close();
  Action fail(ProbeFailure why, std::string text, bool smtp_usable);
  void record(bool ok, std::string detail);

  Options options_;
  ProbeReport& report_;
  Clock clock_;
  State state_ = State::Idle;
  bool tls_on_ = false;
};

}  // namespace mx
