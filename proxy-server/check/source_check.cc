#include "check/source_check.h"

#include <sys/socket.h>

#include <algorithm>
#include <list>

#include "check/dns_names.h"
#include "check/spf_check.h"
#include "egress_server.h"

namespace mx::check {
namespace {

constexpr size_t kMaxPtrNames = 10;  // names of one address whose addresses are asked

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

void set_error(CheckResult& r, const std::string& what, const DnsAnswer& answer) {
  r.outcome = Outcome::Error;
  r.detail = std::string("error: ") + describe(answer.status) + " (" + what + ")";
  r.facts["error"] = describe(answer.status);
}

bool same_ip(const SocketAddress& a, const SocketAddress& b) {
  return a.family() == b.family() && std::ranges::equal(a.ip_bytes(), b.ip_bytes());
}

// The checks of every address, and how many answers are still awaited.
class Runner {
 public:
  Runner(Loop& loop, DnsClient& dns) : loop_(loop), dns_(dns) {}

  void start(AddressReport& report, const std::string& domain, const CheckRequest& request);
  // Runs the loop until every check has its answer.
  void wait() {
    if (--pending_ > 0) loop_.run();
  }

 private:
  struct Work {
    AddressReport* report;
    size_t ptr = 0, fcrdns = 0, spf = 0, first_dnsbl = 0;  // indexes into report->checks
    std::string spf_domain;
    spf::Answers spf_answers;
    size_t fcrdns_waiting = 0;
    std::vector<std::string> confirmed, unconfirmed;
    std::vector<std::string> fcrdns_errors;
  };

  void ask(const DnsQuery& query, std::function<void(DnsAnswer)> done) {
    ++pending_;
    dns_.ask(query, [this, done = std::move(done)](DnsAnswer answer) {
      done(std::move(answer));
      if (--pending_ == 0) loop_.stop();
    });
  }
  CheckResult& check(Work& w, size_t index) { return w.report->checks[index]; }

  void on_ptr(Work& w, const DnsAnswer& answer);
  void on_fcrdns_answer(Work& w, const std::string& name, const DnsAnswer& answer);
  void step_spf(Work& w);
  void on_dnsbl(Work& w, size_t index, const std::string& zone, const DnsAnswer& answer);

  Loop& loop_;
  DnsClient& dns_;
  std::list<Work> work_;
  size_t pending_ = 1;  // wait() gives this one back
};

void Runner::start(AddressReport& report, const std::string& domain, const CheckRequest& request) {
  Work& w = work_.emplace_back();
  w.report = &report;
  auto& checks = report.checks;
  const std::string why = source_bind_error(report.address);
  CheckResult bind{"bind", why.empty() ? Outcome::Ok : Outcome::Fail, "", {}, {}};
  bind.detail = why.empty() ? "bindable" : "not an address of this host (" + why + ")";
  checks.push_back(std::move(bind));
  w.ptr = checks.size();
  checks.push_back({"ptr", Outcome::Error, "", {}, {}});
  w.fcrdns = checks.size();
  checks.push_back({"fcrdns", Outcome::Error, "", {}, {}});
  w.spf = checks.size();
  checks.push_back(
      {"spf", Outcome::Skipped, "spf skipped (no --domain, no domain for the tenant)", {}, {}});
  w.first_dnsbl = checks.size();
  for (const std::string& zone : request.zones) {
    checks.push_back({"dnsbl", Outcome::Error, "", {{"zone", zone}}, {}});
  }

  const std::string reverse = reverse_name(report.address);
  ask({QueryType::Ptr, reverse}, [this, &w](DnsAnswer a) { on_ptr(w, a); });
  if (!domain.empty()) {
    w.spf_domain = domain;
    check(w, w.spf).facts["domain"] = domain;
    step_spf(w);
  }
  for (size_t i = 0; i < request.zones.size(); ++i) {
    const std::string& zone = request.zones[i];
    const size_t index = w.first_dnsbl + i;
    ask({QueryType::A, dnsbl_query_name(report.address, zone)},
        [this, &w, index, zone](DnsAnswer a) { on_dnsbl(w, index, zone, a); });
  }
}

void Runner::on_ptr(Work& w, const DnsAnswer& answer) {
  CheckResult& ptr = check(w, w.ptr);
  CheckResult& fcrdns = check(w, w.fcrdns);
  if (answer.error()) {
    set_error(ptr, "PTR", answer);
    set_error(fcrdns, "no PTR name to confirm", answer);
    return;
  }
  if (!answer.ok()) {
    ptr.outcome = Outcome::Fail;
    ptr.detail = "no PTR record (" + std::string(describe(answer.status)) + ")";
    fcrdns.outcome = Outcome::Fail;
    fcrdns.detail = "fcrdns: no PTR name to confirm";
    return;
  }
  ptr.outcome = Outcome::Ok;
  for (std::string name : answer.names) {
    if (name.size() > 1 && name.back() == '.') name.pop_back();
    ptr.values.push_back(name);
  }
  ptr.detail = "ptr " + join(ptr.values, ", ");
  const QueryType type = w.report->address.family() == AF_INET ? QueryType::A : QueryType::Aaaa;
  const size_t count = std::min(ptr.values.size(), kMaxPtrNames);
  w.fcrdns_waiting = count;
  for (size_t i = 0; i < count; ++i) {
    const std::string name = ptr.values[i];
    ask({type, name}, [this, &w, name](DnsAnswer a) { on_fcrdns_answer(w, name, a); });
  }
}

void Runner::on_fcrdns_answer(Work& w, const std::string& name, const DnsAnswer& answer) {
  bool found = false;
  for (const SocketAddress& a : answer.addresses) found = found || same_ip(a, w.report->address);
  if (found) {
    w.confirmed.push_back(name);
  } else if (answer.error()) {
    w.fcrdns_errors.push_back(name + ": " + describe(answer.status));
  } else {
    w.unconfirmed.push_back(name);
  }
  if (--w.fcrdns_waiting > 0) return;
  CheckResult& fcrdns = check(w, w.fcrdns);
  const std::string ip = w.report->address.ip_string();
  if (!w.confirmed.empty()) {
    fcrdns.outcome = Outcome::Ok;
    fcrdns.detail = "fcrdns ok (" + join(w.confirmed, ", ") + " has " + ip + ")";
    fcrdns.facts["name"] = w.confirmed.front();
  } else if (!w.fcrdns_errors.empty()) {
    fcrdns.outcome = Outcome::Error;
    fcrdns.detail = "error: " + join(w.fcrdns_errors, ", ");
    fcrdns.facts["error"] = join(w.fcrdns_errors, ", ");
  } else {
    fcrdns.outcome = Outcome::Fail;
    fcrdns.detail = "fcrdns: " + join(w.unconfirmed, ", ") + " does not resolve to " + ip;
  }
}

void Runner::step_spf(Work& w) {
  spf::Step step = spf::check_host(w.report->address, w.spf_domain, w.spf_answers);
  if (step.need) {
    const DnsQuery query = *step.need;
    ask(query, [this, &w, query](DnsAnswer a) {
      w.spf_answers[query] = std::move(a);
      step_spf(w);
    });
    return;
  }
  CheckResult& spf = check(w, w.spf);
  const spf::Verdict& v = step.verdict;
  spf.outcome = v.result == spf::Result::Pass        ? Outcome::Ok
                : v.result == spf::Result::TempError ? Outcome::Error
                                                     : Outcome::Fail;
  spf.detail = "spf " + spf::describe(v);
  spf.facts["spf"] = spf::describe(v.result);
  if (!v.mechanism.empty()) spf.facts["mechanism"] = v.mechanism;
  spf.facts["matched_in"] = v.domain;
  if (v.problem != spf::Problem::None) spf.facts["problem"] = spf::describe(v.problem);
  if (v.result == spf::Result::TempError) spf.facts["error"] = v.detail;
}

void Runner::on_dnsbl(Work& w, size_t index, const std::string& zone, const DnsAnswer& answer) {
  CheckResult& r = check(w, index);
  const DnsblVerdict verdict = dnsbl_verdict(answer);
  r.values = verdict.codes;
  const std::string codes = join(verdict.codes, ", ");
  switch (verdict.status) {
    case DnsblVerdict::Status::NotListed:
      r.outcome = Outcome::Ok;
      r.detail = "not listed on " + zone;
      return;
    case DnsblVerdict::Status::Error:
      set_error(r, zone, answer);
      return;
    case DnsblVerdict::Status::Refused:
      r.detail = "error: " + zone + " refused the query (" + codes + ")";
      r.facts["error"] = "refused";
      return;
    case DnsblVerdict::Status::Unexpected:
      r.detail = "error: " + zone + " gave an answer that is not a DNSBL code (" + codes + ")";
      r.facts["error"] = "unexpected answer";
      return;
    case DnsblVerdict::Status::Listed:
      break;
  }
  r.outcome = Outcome::Fail;
  r.detail = "listed on " + zone + ": " + codes;
  ask({QueryType::Txt, dnsbl_query_name(w.report->address, zone)}, [&r](DnsAnswer txt) {
    if (txt.texts.empty()) return;
    const std::string reason = join(txt.texts, "; ");
    r.facts["reason"] = reason;
    r.detail += " '" + reason + "'";
  });
}

}  // namespace

bool AddressReport::ok() const {
  return std::ranges::all_of(checks, [](const CheckResult& r) {
    return r.outcome == Outcome::Ok || r.outcome == Outcome::Skipped;
  });
}

bool TenantReport::ok() const {
  return std::ranges::all_of(addresses, [](const AddressReport& a) { return a.ok(); });
}

std::vector<TenantReport> run_checks(Loop& loop, DnsClient& dns, const ServerConfig& config,
                                     const CheckRequest& request) {
  std::vector<TenantReport> reports(config.tenants.size());
  Runner runner(loop, dns);
  for (size_t t = 0; t < config.tenants.size(); ++t) {
    const ServerConfig::Tenant& tenant = config.tenants[t];
    TenantReport& report = reports[t];
    report.tenant = tenant.name;
    report.any_source = tenant.source.empty();
    report.domain = request.domain.empty() ? tenant.domain : request.domain;
    report.addresses.resize(tenant.source.size());
    for (size_t i = 0; i < tenant.source.size(); ++i) {
      report.addresses[i].address = tenant.source[i];
      runner.start(report.addresses[i], report.domain, request);
    }
  }
  runner.wait();
  return reports;
}

const char* describe(Outcome outcome) {
  switch (outcome) {
    case Outcome::Ok:
      return "ok";
    case Outcome::Fail:
      return "fail";
    case Outcome::Error:
      return "error";
    case Outcome::Skipped:
      return "skipped";
  }
  return "error";
}

}  // namespace mx::check
