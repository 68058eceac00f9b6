#include "mxegress/codec/smtp_observer.h"

#include <algorithm>
#include <cstring>

namespace mx::smtp {
namespace {

std::string printable_prefix(const std::string& text) {
  std::string out(text, 0, std::min(text.size(), SessionFacts::kMaxBannerText));
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e) c = '?';
  }
  return out;
}

}  // namespace

const char* observer_stop_name(ObserverStop stop) {
  switch (stop) {
    case ObserverStop::None:
      return "none";
    case ObserverStop::TlsStarted:
      return "tls";
    case ObserverStop::MailFrom:
      return "mail";
    case ObserverStop::OtherCommand:
      return "other command";
    case ObserverStop::ByteCap:
      return "byte cap";
    case ObserverStop::NotSmtp:
      return "not smtp";
  }
  return "unknown";
}

SessionObserver::SessionObserver(size_t byte_cap) : byte_cap_(byte_cap) {}

ByteView SessionObserver::within_cap(ByteView data) {
  const ByteView read = data.first(std::min(data.size(), byte_cap_ - seen_));
  seen_ += read.size();
  return read;
}

bool SessionObserver::finish(ByteView data, ByteView read) {
  if (!stopped() && read.size() < data.size()) stop(ObserverStop::ByteCap);
  return !stopped();
}

bool SessionObserver::from_client(ByteView data) {
  if (stopped()) return false;
  const ByteView read = within_cap(data);
  read_commands(read);
  return finish(data, read);
}

bool SessionObserver::from_server(ByteView data) {
  if (stopped()) return false;
  const ByteView read = within_cap(data);
  // The reply parser lets NUL through (in a reply's text); no SMTP server
  // sends one. The replies before it count: after a 220 to STARTTLS, a NUL
  // is TLS's.
  const void* nul = read.empty() ? nullptr : std::memchr(read.data(), 0, read.size());
  const size_t before_nul =
      nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - read.data()) : read.size();
  read_replies(read.first(before_nul));
  if (nul && !stopped()) stop(ObserverStop::NotSmtp);
  return finish(data, read);
}

void SessionObserver::read_replies(ByteView in) {
  while (!in.empty() && !stopped()) {
    FeedResult result = replies_.feed(in);
    if (result.error != ReplyError::None) return stop(ObserverStop::NotSmtp);
    in = in.subspan(result.consumed);
    if (result.reply) on_reply(*result.reply);
  }
}

void SessionObserver::read_commands(ByteView in) {
  while (!in.empty() && !stopped()) {
    const CommandRead result = commands_.feed(in);
    if (result.error != CommandError::None) return stop(ObserverStop::NotSmtp);
    in = in.subspan(result.consumed);
    if (result.command) on_command(*result.command);
  }
}

void SessionObserver::on_reply(const Reply& reply) {
  if (!facts_.banner_code) {
    facts_.banner_code = reply.code;
    facts_.banner_text = printable_prefix(reply.lines.front());
    return;
  }
  if (pending_count_ == 0) return;  // unsolicited: a 421 before the MX closes, say
  const Awaiting awaiting = pending_[pending_head_];
  pending_head_ = (pending_head_ + 1) % kMaxPending;
  --pending_count_;
  switch (awaiting) {
    case Awaiting::Extensions:
      // Only a 250 lists extensions; a refused EHLO (the gateway falls back
      // to HELO) tells nothing.
      if (reply.code == 250) facts_.starttls_offered = parse_ehlo_keywords(reply).starttls();
      break;
    case Awaiting::StartTls:
      facts_.starttls_reply = reply.code;
      if (reply.kind() == 2) stop(ObserverStop::TlsStarted);
      break;
    case Awaiting::Nothing:
      break;
  }
}

void SessionObserver::on_command(Command command) {
  Awaiting awaiting = Awaiting::Nothing;
  switch (command) {
    case Command::Mail:
      return stop(ObserverStop::MailFrom);
    case Command::Other:
      return stop(ObserverStop::OtherCommand);
    case Command::Ehlo:
    case Command::Lhlo:
      awaiting = Awaiting::Extensions;
      break;
    case Command::StartTls:
      facts_.starttls_sent = true;
      awaiting = Awaiting::StartTls;
      break;
    case Command::Helo:
    case Command::Noop:
    case Command::Rset:
    case Command::Quit:
      break;
  }
  if (pending_count_ == kMaxPending) return stop(ObserverStop::NotSmtp);
  pending_[(pending_head_ + pending_count_) % kMaxPending] = awaiting;
  ++pending_count_;
}

void SessionObserver::stop(ObserverStop why) {
  facts_.stop = why;
  // Nothing more is read: the buffered line (and a multi-line reply's lines)
  // go now, not with the session.
  replies_ = ReplyParser();
  commands_ = CommandReader();
}

}  // namespace mx::smtp
