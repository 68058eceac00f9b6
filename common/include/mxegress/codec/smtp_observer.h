// The plaintext start of an SMTP session, observed passively and without I/O
// (docs/privacy.md says what is read and kept). The relay hands a
// SessionObserver every chunk it moves between the mail gateway (client) and
// the MX (server), cut anywhere; the observer never changes, delays or keeps
// those bytes beyond the line it is reading. It notes the MX's banner,
// whether its EHLO reply offers STARTTLS, whether the gateway sent STARTTLS
// and the MX's answer, and then stops for good at the first of:
//   - TlsStarted: a 2xx reply to STARTTLS (everything after it is TLS);
//   - MailFrom: the gateway's MAIL (the envelope begins; the rest of that
//     line is not read);
//   - OtherCommand: any gateway command but EHLO, HELO, LHLO, STARTTLS, NOOP,
//     RSET and QUIT (AUTH carries credentials: not read);
//   - ByteCap: more bytes than the cap, both directions together;
//   - NotSmtp: a reply or command line that is not SMTP, too long, a NUL byte,
//     or more unanswered commands than any client pipelines.
// Replies answer commands in order (pipelining, RFC 2920): the MX's first
// reply is its banner, each one after answers the oldest command not yet
// answered, and a reply with no command waiting (a 421 before closing) is
// passed over.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "mxegress/codec/smtp_command.h"
#include "mxegress/codec/smtp_reply.h"
#include "mxegress/util/bytes.h"

namespace mx::smtp {

enum class ObserverStop : uint8_t { None, TlsStarted, MailFrom, OtherCommand, ByteCap, NotSmtp };
// "none", "tls", "mail", "other command", "byte cap", "not smtp"
const char* observer_stop_name(ObserverStop stop);

struct SessionFacts {
  static constexpr size_t kMaxBannerText = 200;
  std::optional<int> banner_code;  // the MX's greeting reply code
  // Its first line's text: printable ASCII only (others become '?'), at most
  // kMaxBannerText bytes.
  std::string banner_text;
  std::optional<bool>
      starttls_offered;        // set when an EHLO got a 250 reply: whether it listed STARTTLS
  bool starttls_sent = false;  // the gateway sent STARTTLS
  std::optional<int> starttls_reply;  // the MX's reply code to it
  ObserverStop stop = ObserverStop::None;
};

class SessionObserver {
 public:
  static constexpr size_t kDefaultByteCap = 8192;
  // Commands sent and not answered yet, at most: a client waits for the
  // banner and pipelines a few commands, never this many.
  static constexpr size_t kMaxPending = 32;

  explicit SessionObserver(size_t byte_cap = kDefaultByteCap);

  // Each returns whether the observer still wants bytes (false once stopped).
  bool from_client(ByteView data);  // the gateway's bytes, toward the MX
  bool from_server(ByteView data);  // the MX's bytes, toward the gateway
  bool stopped() const { return facts_.stop != ObserverStop::None; }
  const SessionFacts& facts() const { return facts_; }

 private:
  // What a reply to a command tells.
  enum class Awaiting : uint8_t { Extensions /* EHLO, LHLO */, StartTls, Nothing };

  // The part of `data` within the byte cap, counted as seen.
  ByteView within_cap(ByteView data);
  // After reading `read` of `data`: ByteCap if the cap cut it short.
  bool finish(ByteView data, ByteView read);
  void read_replies(ByteView in);
  void read_commands(ByteView in);
  void on_reply(const Reply& reply);
  void on_command(Command command);
  void stop(ObserverStop why);

  size_t byte_cap_;
  size_t seen_ = 0;
  ReplyParser replies_;
  CommandReader commands_;
  std::array<Awaiting, kMaxPending> pending_{};  // a ring: the oldest at pending_head_
  size_t pending_head_ = 0;
  size_t pending_count_ = 0;
  SessionFacts facts_;
};

}  // namespace mx::smtp
