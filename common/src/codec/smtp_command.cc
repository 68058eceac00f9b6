#include "mxegress/codec/smtp_command.h"

#include <array>
#include <string_view>

namespace mx::smtp {
namespace {

bool is_alpha(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

// The verb's characters: RFC 5321's verbs are letters; private ones seen in
// the wild also hold digits and hyphens (XEXCH50, X-LINK2STATE), like an
// EHLO keyword.
bool is_verb_char(uint8_t c, bool first) {
  return is_alpha(c) || (!first && (is_digit(c) || c == '-'));
}

char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

struct KnownVerb {
  std::string_view name;  // upper case
  Command command;
};

// RFC 5321's verbs, its extensions' (IANA's SMTP service extension registry)
// and old ones still answered (SEND, SOML, SAML, TURN; sendmail's VERB, ONEX).
constexpr std::array<KnownVerb, 24> kVerbs{{
    {"EHLO", Command::Ehlo},         {"HELO", Command::Helo},  {"LHLO", Command::Lhlo},
    {"STARTTLS", Command::StartTls}, {"NOOP", Command::Noop},  {"RSET", Command::Rset},
    {"QUIT", Command::Quit},         {"MAIL", Command::Mail},  {"RCPT", Command::Other},
    {"DATA", Command::Other},        {"BDAT", Command::Other}, {"AUTH", Command::Other},
    {"VRFY", Command::Other},        {"EXPN", Command::Other}, {"HELP", Command::Other},
    {"ETRN", Command::Other},        {"ATRN", Command::Other}, {"BURL", Command::Other},
    {"TURN", Command::Other},        {"SEND", Command::Other}, {"SOML", Command::Other},
    {"SAML", Command::Other},        {"VERB", Command::Other}, {"ONEX", Command::Other},
}};

}  // namespace

const char* command_name(Command command) {
  switch (command) {
    case Command::Ehlo:
      return "EHLO";
    case Command::Helo:
      return "HELO";
    case Command::Lhlo:
      return "LHLO";
    case Command::StartTls:
      return "STARTTLS";
    case Command::Noop:
      return "NOOP";
    case Command::Rset:
      return "RSET";
    case Command::Quit:
      return "QUIT";
    case Command::Mail:
      return "MAIL";
    case Command::Other:
      return "other";
  }
  return "unknown";
}

const char* command_error_name(CommandError error) {
  switch (error) {
    case CommandError::None:
      return "no error";
    case CommandError::NoVerb:
      return "no SMTP verb";
    case CommandError::LineTooLong:
      return "command line too long";
    case CommandError::NulByte:
      return "NUL byte in a command line";
  }
  return "unknown error";
}

std::optional<Command> CommandReader::classify_verb() const {
  if (verb_size_ == 0) return std::nullopt;
  char upper[kMaxVerb];
  for (size_t i = 0; i < verb_size_; ++i) upper[i] = to_upper(verb_[i]);
  const std::string_view verb(upper, verb_size_);
  for (const KnownVerb& known : kVerbs) {
    if (known.name == verb) return known.command;
  }
  // A private extension (XCLIENT, XFORWARD, X-ANONYMOUSTLS, ...).
  if (verb.front() == 'X') return Command::Other;
  return std::nullopt;
}

CommandRead CommandReader::feed(ByteView in) {
  CommandRead result;
  if (error_ != CommandError::None) {
    result.error = error_;
    return result;
  }
  for (size_t i = 0; i < in.size(); ++i) {
    const uint8_t c = in[i];
    if (c == 0) {
      error_ = CommandError::NulByte;
      break;
    }
    if (++line_bytes_ > max_line_) {
      error_ = CommandError::LineTooLong;
      break;
    }
    const bool line_end = c == '\n';
    if (line_end) line_bytes_ = 0;
    if (!in_verb_) {
      // A parameter byte: skipped. The next line starts with a verb again.
      in_verb_ = line_end;
      continue;
    }
    if (line_end || c == ' ' || c == '\r') {
      const std::optional<Command> command = classify_verb();
      if (!command) {
        error_ = CommandError::NoVerb;
        break;
      }
      verb_size_ = 0;
      in_verb_ = line_end;
      result.command = command;
      result.consumed = i + 1;
      return result;
    }
    // Told apart at the first byte that cannot be part of a verb (TLS, binary)
    // or when the word grows longer than any verb, not at the line's end.
    if (!is_verb_char(c, verb_size_ == 0) || verb_size_ == kMaxVerb) {
      error_ = CommandError::NoVerb;
      break;
    }
    verb_[verb_size_++] = static_cast<char>(c);
  }
  result.error = error_;
  result.consumed = error_ == CommandError::None ? in.size() : 0;
  return result;
}

}  // namespace mx::smtp
