// SPF's check_host() (RFC 7208 §4) without I/O: it never sends a query. It
// is a pure function of the address, the domain and the DNS answers known so
// far: each call either needs one more answer (Step::need), which the caller
// gets and adds to `answers` before calling again, or has the verdict. Every
// call replays the evaluation from the start over the answers it is given,
// so the lookup limits count the same way each time.
//
//   spf::Answers answers;
//   for (;;) {
//     auto step = spf::check_host(ip, "example.org", answers);
//     if (!step.need) return step.verdict;
//     answers[*step.need] = ask_dns(*step.need);
//   }
//
// Supported: every mechanism (all, include, a, mx, ptr, ip4, ip6, exists),
// qualifiers, redirect=, exp= and unknown modifiers (ignored), the limits of
// 10 DNS-querying terms, 2 void lookups and 10 MX or PTR names. Macros (§7)
// are expanded (spf_macro.h) with postmaster@DOMAIN as the sender; %{h} and
// %{p} give permerror (MacroNotSupported) rather than a guess.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "check/dns_answer.h"
#include "check/spf_record.h"
#include "mxegress/net/socket_address.h"

namespace mx::check::spf {

enum class Result { None, Neutral, Pass, Fail, SoftFail, TempError, PermError };

enum class Problem {
  None,
  BadDomain,              // the domain asked about is not a domain (result none)
  NoRecord,               // no SPF record at the domain (result none)
  MultipleRecords,        // more than one "v=spf1" TXT record
  Syntax,                 // a record that does not parse (detail: term and why)
  TooManyLookups,         // more than 10 include/a/mx/ptr/exists/redirect
  TooManyVoidLookups,     // more than 2 lookups with no answer
  TooManyNames,           // more than 10 MX hosts of an mx mechanism
  MacroNotSupported,      // %{h} (no HELO name in a check) or %{p}
  IncludeWithoutRecord,   // include: of a domain with no SPF record
  RedirectWithoutRecord,  // redirect= to a domain with no SPF record
  DnsError,               // a lookup timed out or failed (detail: which)
};

struct Verdict {
  Result result = Result::None;
  // The mechanism that decided, as written ("ip4:203.0.113.0/24", "-all"),
  // and the domain whose record holds it; for a problem, where it arose.
  std::string mechanism;
  std::string domain;
  Problem problem = Problem::None;
  std::string
      detail;  // Syntax: "ip4:1.2.3/8: malformed address"; DnsError: "TXT example.org: timeout"
};

using Answers = std::map<DnsQuery, DnsAnswer>;

struct Step {
  std::optional<DnsQuery> need;  // set: this answer is missing, verdict is not one yet
  Verdict verdict;
};

Step check_host(const SocketAddress& ip, std::string_view domain, const Answers& answers);

const char* describe(Result result);  // "pass", "softfail", "permerror", ...
const char* describe(Problem problem);
// "pass (ip4:203.0.113.0/24 in example.org)", "none (no SPF record at example.org)".
std::string describe(const Verdict& verdict);

}  // namespace mx::check::spf
