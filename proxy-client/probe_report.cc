#include "probe_report.h"

namespace mx {

int exit_code(ProbeFailure failure) { return static_cast<int>(failure); }

const char* probe_failure_name(ProbeFailure failure) {
  switch (failure) {
    case ProbeFailure::None:
      return "ok";
    case ProbeFailure::Usage:
      return "usage";
    case ProbeFailure::NoTunnel:
      return "no tunnel";
    case ProbeFailure::LookupFailed:
      return "MX lookup failed";
    case ProbeFailure::ConnectRefused:
      return "connect refused";
    case ProbeFailure::SmtpRefused:
      return "SMTP refused";
    case ProbeFailure::StarttlsUnavailable:
      return "STARTTLS unavailable";
    case ProbeFailure::TlsFailed:
      return "TLS handshake failed";
    case ProbeFailure::Unverified:
      return "certificate not verified";
    case ProbeFailure::Timeout:
      return "timeout";
  }
  return "unknown";
}

void ProbeReport::add(std::string name, int64_t ms, bool ok, std::string detail) {
  steps.push_back(ProbeStep{std::move(name), ms, ok, std::move(detail)});
  if (on_step) on_step(steps.back());
}

void ProbeReport::fail(ProbeFailure why, std::string step, std::string text) {
  if (failure != ProbeFailure::None) return;  // the first failure is the one
  failure = why;
  failed_step = std::move(step);
  reason = std::move(text);
}

}  // namespace mx
