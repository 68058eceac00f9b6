// What `mxegress-client probe` found: each step with its time since the
// start and its outcome, the facts the steps learned (the source address
// the server dialed from, the MX's certificate, ...), and why it failed, as
// a value. probe_output.h prints it; the exit code follows from `failure`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mx {

// The documented exit codes of `mxegress-client probe` (docs/probe.md).
enum class ProbeFailure {
  None = 0,                 // banner 2xx and STARTTLS done (or --no-tls)
  Usage = 2,                // bad command line or configuration
  NoTunnel = 3,             // no server took a tunnel
  LookupFailed = 4,         // the MX lookup of the domain failed
  ConnectRefused = 5,       // every MX host's CONNECT was refused
  SmtpRefused = 6,          // banner or EHLO not positive, the MX closed or spoke no SMTP
  StarttlsUnavailable = 7,  // STARTTLS not offered, or refused
  TlsFailed = 8,            // the TLS handshake failed
  Unverified = 9,           // --verify: the certificate did not verify
  Timeout = 10,             // a step took longer than --timeout
};
int exit_code(ProbeFailure failure);
const char* probe_failure_name(ProbeFailure failure);  // "connect refused", ...

struct ProbeStep {
  std::string name;  // "mx-lookup", "tunnel", "connect", "banner", "ehlo", "starttls", ...
  int64_t ms = 0;    // since the probe started
  bool ok = true;
  std::string detail;  // one line for the operator
};

struct ProbeCertificate {
  std::string subject;  // RFC 2253
  std::vector<std::string> dns_names;
  std::string sha256;  // "AB:CD:..." over the DER, as openssl x509 -fingerprint -sha256
  bool verified = false;
  std::string verify_error;  // why not, when not verified
};

struct ProbeTls {
  std::string version;  // "TLSv1.3"
  std::string cipher;
  bool has_certificate = false;
  ProbeCertificate certificate;
};

struct ProbeReport {
  std::string target;  // as asked: "example.org" or "mx.example.org:2525"
  std::vector<ProbeStep> steps;
  // Of the MX host that got through CONNECT (or the last one tried).
  std::string mx_host;
  std::string server;  // the mxegress-server that carried it
  std::string source;  // BND.ADDR of the CONNECT reply: the address the server dialed from
  int banner_code = 0;
  bool starttls_offered = false;
  bool tls_done = false;
  ProbeTls tls;
  ProbeFailure failure = ProbeFailure::None;
  std::string failed_step;  // the step named in the failure
  std::string reason;       // why it failed
  // Called with each step as it is added (the text output prints them live).
  std::function<void(const ProbeStep&)> on_step;

  void add(std::string name, int64_t ms, bool ok, std::string detail);
  void fail(ProbeFailure why, std::string step, std::string text);
  bool ok() const { return failure == ProbeFailure::None; }
};

}  // namespace mx
