// The words of SPF verdicts, for the check's table and JSON.
#include "check/spf_check.h"

namespace mx::check::spf {

const char* describe(Result result) {
  switch (result) {
    case Result::None:
      return "none";
    case Result::Neutral:
      return "neutral";
    case Result::Pass:
      return "pass";
    case Result::Fail:
      return "fail";
    case Result::SoftFail:
      return "softfail";
    case Result::TempError:
      return "temperror";
    case Result::PermError:
      return "permerror";
  }
  return "permerror";
}

const char* describe(Problem p) {
  switch (p) {
    case Problem::None:
      return "no problem";
    case Problem::BadDomain:
      return "not a domain name";
    case Problem::NoRecord:
      return "no SPF record";
    case Problem::MultipleRecords:
      return "more than one SPF record";
    case Problem::Syntax:
      return "malformed record";
    case Problem::TooManyLookups:
      return "more than 10 DNS-querying terms";
    case Problem::TooManyVoidLookups:
      return "more than 2 void lookups";
    case Problem::TooManyNames:
      return "more than 10 MX names";
    case Problem::MacroNotSupported:
      return "macro not supported";
    case Problem::IncludeWithoutRecord:
      return "include of a domain without an SPF record";
    case Problem::RedirectWithoutRecord:
      return "redirect to a domain without an SPF record";
    case Problem::DnsError:
      return "DNS error";
  }
  return "problem";
}

std::string describe(const Verdict& v) {
  std::string text = describe(v.result);
  if (v.problem == Problem::None) {
    if (v.mechanism.empty()) return text + " (no mechanism matched in " + v.domain + ")";
    return text + " (" + v.mechanism + " in " + v.domain + ")";
  }
  const char* where = v.problem == Problem::NoRecord ? " at " : " in ";
  text += std::string(" (") + describe(v.problem) + where + v.domain;
  if (!v.detail.empty()) text += ": " + v.detail;
  return text + ")";
}

}  // namespace mx::check::spf
