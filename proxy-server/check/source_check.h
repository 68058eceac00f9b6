// `mxegress-server check`: what each tenant source address looks like to a
// receiving MX. For every address: bindable here, its PTR name, whether that
// name resolves back to it (FCrDNS), whether the SPF record of the tenant's
// domain authorises it, and whether each DNSBL zone lists it. Every DNS
// query goes to the configured [resolver] through DnsClient, all of them in
// parallel on one Loop.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "check/dns_client.h"
#include "mxegress/config/server_config.h"
#include "mxegress/loop/loop.h"

namespace mx::check {

enum class Outcome {
  Ok,
  Fail,     // the check was made and the address does not pass it
  Error,    // the check could not be made (a DNS timeout or failure): not a pass
  Skipped,  // not asked for (SPF without a domain): not a failure
};

struct CheckResult {
  std::string check;  // "bind", "ptr", "fcrdns", "spf", "dnsbl"
  Outcome outcome = Outcome::Error;
  std::string detail;  // for people: "ptr mail1.example.net", "listed on zen.test: 127.0.0.2 'why'"
  // For machines (--json), by check: ptr "names"; fcrdns "name"; spf
  // "domain", "spf", "mechanism", "matched_in", "problem"; dnsbl "zone", "codes",
  // "reason"; every check "error" when Outcome::Error.
  std::map<std::string, std::string> facts;
  std::vector<std::string> values;  // ptr: the names; dnsbl: the codes
};

struct AddressReport {
  SocketAddress address;
  std::vector<CheckResult> checks;
  bool ok() const;  // every check Ok or Skipped
};

struct TenantReport {
  std::string tenant;
  bool any_source = false;  // source = "any": nothing to check
  std::string domain;       // the SPF domain used, or ""
  std::vector<AddressReport> addresses;
  bool ok() const;
};

struct CheckRequest {
  std::string domain;              // --domain: instead of each tenant's `domain`
  std::vector<std::string> zones;  // --dnsbl
};

// Runs every check of every tenant of `config` on `loop` (which must have
// nothing else to do) and returns when all are answered.
std::vector<TenantReport> run_checks(Loop& loop, DnsClient& dns, const ServerConfig& config,
                                     const CheckRequest& request);

const char* describe(Outcome outcome);  // "ok", "fail", "error", "skipped"

}  // namespace mx::check
