// SMTP command lines (RFC 5321 section 4.1) as a server would read them, but
// only their verbs: a CommandReader is fed arbitrary chunks of what a client
// sent and says which command each line starts with as soon as its verb ends
// (at the space or the line end after it), so the caller can stop before the
// parameters of a command it must not read (MAIL's address, AUTH's
// credentials). Parameters are skipped, never copied or kept; the reader
// holds the verb (at most kMaxVerb bytes) and a line length, nothing else.
//
// A line ends at LF, with or without CR before it (bare LF is seen in the
// wild). Bad input is an error value, sticky: a line that does not start with
// an SMTP verb (an empty line, a space, binary, an HTTP method), a line longer
// than its cap, a NUL byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "mxegress/util/bytes.h"

namespace mx::smtp {

// What a command line starts with. Other is any other SMTP verb: RCPT, DATA,
// BDAT, AUTH, VRFY, EXPN, HELP, ETRN, ... and private ones starting with X
// (XCLIENT, XFORWARD; RFC 5321 4.1.5).
enum class Command : uint8_t { Ehlo, Helo, Lhlo, StartTls, Noop, Rset, Quit, Mail, Other };
const char* command_name(Command command);  // "EHLO", ..., "other"

enum class CommandError : uint8_t {
  None,
  NoVerb,       // the line does not start with an SMTP verb followed by a space or its end
  LineTooLong,  // a line (with its line end) longer than the reader's cap
  NulByte,      // a NUL byte: no SMTP client sends one
};
const char* command_error_name(CommandError error);  // "no SMTP verb", ...

struct CommandRead {
  size_t consumed = 0;                      // bytes of the input used (up to the verb's end)
  std::optional<Command> command;           // the verb that ended in the input, if one did
  CommandError error = CommandError::None;  // sticky: every later feed says it again
};

class CommandReader {
 public:
  // RFC 5321 4.5.3.1.4 allows 512 octets per command line; twice that.
  static constexpr size_t kDefaultMaxLine = 1024;
  // The longest verb taken for one; known verbs have at most 8 letters.
  static constexpr size_t kMaxVerb = 16;

  explicit CommandReader(size_t max_line = kDefaultMaxLine) : max_line_(max_line) {}

  // Consumes input up to the end of the first verb that ends in it, or all
  // of it. Call again with the rest for the lines after.
  CommandRead feed(ByteView in);
  CommandError error() const { return error_; }

 private:
  // The verb read so far, or an error when it is none.
  std::optional<Command> classify_verb() const;

  size_t max_line_;
  size_t line_bytes_ = 0;  // of the line being read, its end included
  bool in_verb_ = true;    // still reading the line's first word
  char verb_[kMaxVerb] = {};
  size_t verb_size_ = 0;
  CommandError error_ = CommandError::None;
};

}  // namespace mx::smtp
