#include "probe_conversation.h"

namespace mx {
namespace {

// "554 5.7.1 go away" (the lines joined by " / ").
std::string describe(const smtp::Reply& reply) {
  std::string text = std::to_string(reply.code);
  for (size_t i = 0; i < reply.lines.size(); ++i) {
    text += (i == 0 ? " " : " / ") + reply.lines[i];
  }
  return text;
}

}  // namespace

ProbeConversation::ProbeConversation(Options options, ProbeReport& report, Clock clock)
    : options_(std::move(options)), report_(report), clock_(std::move(clock)) {}

const char* ProbeConversation::step() const {
  switch (state_) {
    case State::Idle:
    case State::Banner:
      return "banner";
    case State::Ehlo:
      return "ehlo";
    case State::StartTls:
      return "starttls";
    case State::Handshake:
      return "tls";
    case State::EhloTls:
      return "ehlo-tls";
    case State::Quit:
    case State::Done:
      return "quit";
  }
  return "?";
}

void ProbeConversation::record(bool ok, std::string detail) {
  report_.add(step(), clock_(), ok, std::move(detail));
}

ProbeConversation::Action ProbeConversation::on_connected() {
  state_ = State::Banner;
  return {};
}

ProbeConversation::Action ProbeConversation::send(State next, std::string line) {
  state_ = next;
  return {Action::Kind::Send, std::move(line)};
}

ProbeConversation::Action ProbeConversation::quit() { return send(State::Quit, "QUIT"); }

ProbeConversation::Action ProbeConversation::close() {
  state_ = State::Done;
  return {Action::Kind::Close, {}};
}

ProbeConversation::Action ProbeConversation::fail(ProbeFailure why, std::string text,
                                                  bool smtp_usable) {
  report_.fail(why, step(), std::move(text));
  return smtp_usable ? quit() : close();
}

ProbeConversation::Action ProbeConversation::on_reply(const smtp::Reply& reply) {
  const bool positive = reply.kind() == 2;
  switch (state_) {
    case State::Idle:
    case State::Banner:
      report_.banner_code = reply.code;
      record(positive, describe(reply));
      if (!positive) return fail(ProbeFailure::SmtpRefused, "banner " + describe(reply), true);
      return send(State::Ehlo, "EHLO " + options_.helo);
    case State::Ehlo: {
      report_.starttls_offered = smtp::parse_ehlo_keywords(reply).starttls();
      if (reply.code != 250) {
        record(false, describe(reply));
        return fail(ProbeFailure::SmtpRefused, "EHLO " + describe(reply), true);
      }
      record(true, describe(reply) +
                       (report_.starttls_offered ? " (STARTTLS offered)" : " (no STARTTLS)"));
      if (!options_.tls) return quit();
      if (!report_.starttls_offered) {
        report_.add("starttls", clock_(), false, "not offered");
        state_ = State::StartTls;
        return fail(ProbeFailure::StarttlsUnavailable, "STARTTLS not offered", true);
      }
      return send(State::StartTls, "STARTTLS");
    }
    case State::StartTls:
      record(reply.code == 220, describe(reply));
      if (reply.code != 220) {
        return fail(ProbeFailure::StarttlsUnavailable, "STARTTLS " + describe(reply), true);
      }
      state_ = State::Handshake;
      return {Action::Kind::StartTls, {}};
    case State::Handshake:
      // Bytes in clear after the 220: the MX did not wait for our handshake.
      record(false, "unexpected reply before the handshake: " + describe(reply));
      return fail(ProbeFailure::TlsFailed, "reply before the TLS handshake: " + describe(reply),
                  false);
    case State::EhloTls:
      record(reply.code == 250, describe(reply));
      if (reply.code != 250) {
        return fail(ProbeFailure::SmtpRefused, "EHLO after STARTTLS " + describe(reply), true);
      }
      return quit();
    case State::Quit:
      record(reply.code == 221, describe(reply));
      return close();
    case State::Done:
      break;
  }
  return close();
}

ProbeConversation::Action ProbeConversation::on_tls_done(const ProbeTls& tls) {
  tls_on_ = true;
  report_.tls_done = true;
  report_.tls = tls;
  std::string detail = tls.version + " " + tls.cipher;
  if (tls.has_certificate) {
    detail += tls.certificate.verified
                  ? ", certificate verified"
                  : ", certificate not verified: " + tls.certificate.verify_error;
  } else {
    detail += ", no certificate";
  }
  const bool verified = tls.has_certificate && tls.certificate.verified;
  record(!options_.verify || verified, detail);
  if (options_.verify && !verified) {
    return fail(ProbeFailure::Unverified,
                tls.has_certificate ? "certificate not verified: " + tls.certificate.verify_error
                                    : "no certificate",
                true);
  }
  return send(State::EhloTls, "EHLO " + options_.helo);
}

ProbeConversation::Action ProbeConversation::on_tls_failed(const std::string& why) {
  record(false, why);
  return fail(ProbeFailure::TlsFailed, "TLS handshake failed: " + why, false);
}

ProbeConversation::Action ProbeConversation::on_closed(const std::string& why) {
  if (state_ == State::Done) return close();
  if (state_ == State::Quit) {
    // Closed instead of 221: the probe's outcome stands.
    record(true, "closed: " + why);
    return close();
  }
  record(false, "closed: " + why);
  const ProbeFailure failure =
      state_ == State::Handshake ? ProbeFailure::TlsFailed : ProbeFailure::SmtpRefused;
  return fail(failure, std::string("connection closed during ") + step() + ": " + why, false);
}

ProbeConversation::Action ProbeConversation::on_bad_reply(smtp::ReplyError error) {
  record(false, smtp::reply_error_name(error));
  if (state_ == State::Quit) return close();
  return fail(ProbeFailure::SmtpRefused, smtp::reply_error_name(error), false);
}

ProbeConversation::Action ProbeConversation::on_timeout() {
  record(false, "timeout");
  if (state_ == State::Quit) return close();
  return fail(ProbeFailure::Timeout, std::string("timeout at ") + step(), false);
}

}  // namespace mx
