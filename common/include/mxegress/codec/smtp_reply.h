// SMTP replies (RFC 5321 section 4.2) as the client side reads them, without
// I/O: a ReplyParser is fed arbitrary chunks of what the server sent and
// yields whole replies ("250-first", "250 last": one reply of two lines).
// It stops at the end of each reply, so bytes after it (a TLS handshake
// after "220 go ahead") stay with the caller. Bad input is an error value,
// never an exception: a line or reply beyond its cap, a line that is not
// "NNN", "NNN text" or "NNN-text" (not SMTP: an HTTP or TLS server, say),
// or a continuation line whose code differs.
//
// Also: the EHLO keywords of a 250 reply (STARTTLS offered?).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/util/bytes.h"

namespace mx::smtp {

struct Reply {
  int code = 0;                            // 200..599
  std::vector<std::string> lines;          // the text after "NNN-"/"NNN " of each line, no CRLF
  int kind() const { return code / 100; }  // 2 positive, 3 intermediate, 4 and 5 negative
  // The lines joined by "\n" (for a message to the operator).
  std::string text() const;
};

enum class ReplyError {
  None,
  LineTooLong,   // a line (with its line end) longer than Limits::max_line
  ReplyTooLong,  // a reply's lines together longer than Limits::max_reply
  NotSmtp,       // a line that does not start with a reply code and "-", " " or its end
  CodeMismatch,  // a line of a multi-line reply with another code than the first
};
const char* reply_error_name(ReplyError error);  // "line too long", ...

struct Limits {
  // RFC 5321 4.5.3.1.5 allows 512 octets per reply line; real servers write
  // longer ones, so the default is generous.
  size_t max_line = 2048;
  size_t max_reply = 64 * 1024;
};

struct FeedResult {
  size_t consumed = 0;                  // bytes of the input used (the rest is after the reply)
  std::optional<Reply> reply;           // a complete reply, when one ended in the input
  ReplyError error = ReplyError::None;  // sticky: every later feed says it again
};

class ReplyParser {
 public:
  explicit ReplyParser(Limits limits = {}) : limits_(limits) {}

  // Consumes input up to the end of the first reply that completes in it,
  // or all of it. Call again with the rest for the replies after.
  FeedResult feed(ByteView in);
  // Nothing buffered: the server is at a reply boundary.
  bool idle() const { return line_.empty() && lines_.empty(); }
  ReplyError error() const { return error_; }

 private:
  ReplyError take_line(bool& last);  // line_ is one whole line, its end removed

  Limits limits_;
  std::string line_;  // the line being read
  int code_ = 0;      // of the reply being read (its first line)
  std::vector<std::string> lines_;
  size_t reply_bytes_ = 0;
  ReplyError error_ = ReplyError::None;
};

// An EHLO reply's service extensions: one keyword per line after the first
// (the greeting), with its parameters. Keywords compare without case.
struct EhloKeywords {
  struct Extension {
    std::string keyword;  // as the server wrote it
    std::vector<std::string> params;
  };
  std::vector<Extension> extensions;
  bool has(std::string_view keyword) const;
  bool starttls() const { return has("STARTTLS"); }
};
// The extensions of a 250 reply to EHLO; empty for any other code.
EhloKeywords parse_ehlo_keywords(const Reply& reply);

}  // namespace mx::smtp
