#include "check/spf_check.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <variant>

#include "check/dns_names.h"
#include "check/spf_macro.h"

namespace mx::check::spf {
namespace {

constexpr int kMaxLookups = 10;     // RFC 7208 §4.6.4
constexpr int kMaxVoidLookups = 2;  // §4.6.4
constexpr size_t kMaxNames = 10;    // MX hosts of one mx, PTR names of one ptr

std::string normalise(std::string_view domain) {
  std::string out(domain);
  if (!out.empty() && out.back() == '.') out.pop_back();
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// §4.3: a multi-label name, no empty label, none longer than 63.
bool valid_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253 || domain.find('.') == std::string_view::npos) {
    return false;
  }
  size_t start = 0;
  while (start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    if (end == start || end - start > 63) return false;
    start = end + 1;
  }
  return true;
}

bool prefix_matches(std::span<const uint8_t> a, std::span<const uint8_t> b, int bits) {
  for (size_t i = 0; bits > 0 && i < a.size() && i < b.size(); ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

Result result_of(Qualifier q) {
  switch (q) {
    case Qualifier::Pass:
      return Result::Pass;
    case Qualifier::Fail:
      return Result::Fail;
    case Qualifier::SoftFail:
      return Result::SoftFail;
    case Qualifier::Neutral:
      return Result::Neutral;
  }
  return Result::Neutral;
}

Verdict problem(Result result, Problem why, std::string domain, std::string detail = {}) {
  Verdict v;
  v.result = result;
  v.problem = why;
  v.domain = std::move(domain);
  v.detail = std::move(detail);
  return v;
}

// One replay of check_host over the answers known so far.
class Evaluation {
 public:
  Evaluation(const SocketAddress& ip, std::string sender_domain, const Answers& answers)
      : ip_(ip), sender_domain_(std::move(sender_domain)), answers_(answers) {}

  // nullopt: an answer is missing (need()).
  std::optional<Verdict> check_host(const std::string& domain);
  const std::optional<DnsQuery>& need() const { return need_; }

 private:
  // What evaluating one mechanism came to.
  struct Outcome {
    enum class Kind { NoMatch, Match, Pending, Decided } kind = Kind::NoMatch;
    Verdict verdict;  // Match via include: the inner verdict; Decided: the error
  };
  static Outcome no_match() { return {}; }
  static Outcome match() { return {Outcome::Kind::Match, {}}; }
  static Outcome pending() { return {Outcome::Kind::Pending, {}}; }
  static Outcome decided(Verdict v) { return {Outcome::Kind::Decided, std::move(v)}; }

  // The answer, or null after noting it as the one needed.
  const DnsAnswer* ask(QueryType type, const std::string& name) {
    DnsQuery q{type, name};
    auto it = answers_.find(q);
    if (it != answers_.end()) return &it->second;
    need_ = std::move(q);
    return nullptr;
  }
  bool v4() const { return ip_.family() == AF_INET; }
  QueryType address_type() const { return v4() ? QueryType::A : QueryType::Aaaa; }
  bool address_matches(const SocketAddress& a, const Mechanism& m) const {
    return a.family() == ip_.family() &&
           prefix_matches(a.ip_bytes(), ip_.ip_bytes(), v4() ? m.cidr4 : m.cidr6);
  }
  // The domain a domain-spec names in `domain`'s record (macros expanded),
  // or the permerror of a macro that cannot be.
  std::variant<std::string, Verdict> target_of(const std::string& spec, const std::string& domain,
                                               const std::string& term) const {
    if (spec.empty()) return domain;
    if (!has_macro(spec)) return normalise(spec);
    const MacroResult expanded = expand_macros(spec, {ip_, "postmaster", sender_domain_, domain});
    switch (expanded.error) {
      case MacroResult::Error::None:
        return normalise(expanded.text);
      case MacroResult::Error::Syntax:
        return problem(Result::PermError, Problem::Syntax, domain, term + ": malformed macro");
      case MacroResult::Error::Unsupported:
        return problem(Result::PermError, Problem::MacroNotSupported, domain,
                       term + ": %{" + std::string(1, expanded.letter) + "}");
    }
    return problem(Result::PermError, Problem::Syntax, domain, term);
  }
  std::optional<Verdict> count_lookup(const std::string& domain) {
    if (++lookups_ > kMaxLookups)
      return problem(Result::PermError, Problem::TooManyLookups, domain);
    return std::nullopt;
  }
  std::optional<Verdict> count_void(const DnsAnswer& a, const std::string& domain) {
    if (a.void_lookup() && ++voids_ > kMaxVoidLookups) {
      return problem(Result::PermError, Problem::TooManyVoidLookups, domain);
    }
    return std::nullopt;
  }
  static Verdict dns_error(const DnsQuery& q, const DnsAnswer& a, const std::string& domain) {
    return problem(Result::TempError, Problem::DnsError, domain,
                   std::string(describe(q.type)) + " " + q.name + ": " + describe(a.status));
  }

  Outcome evaluate(const Mechanism& m, const std::string& domain);
  Outcome addresses_of(const std::string& name, const Mechanism& m, const std::string& domain);
  Outcome mx(const std::string& target, const Mechanism& m, const std::string& domain);
  Outcome ptr(const std::string& target, const std::string& domain);

  const SocketAddress& ip_;
  const std::string sender_domain_;  // postmaster@ this is the sender (%{s}, %{l}, %{o})
  const Answers& answers_;
  std::optional<DnsQuery> need_;
  int lookups_ = 0;
  int voids_ = 0;
};

std::optional<Verdict> Evaluation::check_host(const std::string& domain) {
  if (!valid_domain(domain)) return problem(Result::None, Problem::BadDomain, domain);
  const DnsAnswer* txt = ask(QueryType::Txt, domain);
  if (txt == nullptr) return std::nullopt;
  if (txt->error()) return dns_error({QueryType::Txt, domain}, *txt, domain);
  const std::string* found = nullptr;
  for (const std::string& text : txt->texts) {
    if (!is_spf_record(text)) continue;
    if (found != nullptr) return problem(Result::PermError, Problem::MultipleRecords, domain);
    found = &text;
  }
  if (found == nullptr) return problem(Result::None, Problem::NoRecord, domain);
  ParseResult parsed = parse_record(*found);
  if (!parsed.record) {
    return problem(Result::PermError, Problem::Syntax, domain,
                   parsed.term + ": " + describe(parsed.error));
  }
  for (const Mechanism& m : parsed.record->mechanisms) {
    Outcome outcome = evaluate(m, domain);
    switch (outcome.kind) {
      case Outcome::Kind::Pending:
        return std::nullopt;
      case Outcome::Kind::Decided:
        return outcome.verdict;
      case Outcome::Kind::NoMatch:
        continue;
      case Outcome::Kind::Match: {
        if (m.kind == MechanismKind::Include) {
          // Report what matched inside, with the qualifier of the include.
          outcome.verdict.result = result_of(m.qualifier);
          return outcome.verdict;
        }
        Verdict v;
        v.result = result_of(m.qualifier);
        v.mechanism = m.text;
        v.domain = domain;
        return v;
      }
    }
  }
  if (parsed.record->redirect) {
    const std::string& spec = *parsed.record->redirect;
    auto target_or_error = target_of(spec, domain, "redirect=" + spec);
    if (auto* error = std::get_if<Verdict>(&target_or_error)) return *error;
    if (auto over = count_lookup(domain)) return over;
    const std::string target = std::get<std::string>(target_or_error);
    std::optional<Verdict> inner = check_host(target);
    if (!inner) return std::nullopt;
    if (inner->result == Result::None) {
      return problem(Result::PermError, Problem::RedirectWithoutRecord, domain, "redirect=" + spec);
    }
    return inner;
  }
  Verdict v;  // §4.7: no mechanism matched, no redirect
  v.result = Result::Neutral;
  v.domain = domain;
  return v;
}

Evaluation::Outcome Evaluation::evaluate(const Mechanism& m, const std::string& domain) {
  if (m.kind == MechanismKind::All) return match();
  if (m.kind == MechanismKind::Ip4 || m.kind == MechanismKind::Ip6) {
    const bool family = (m.kind == MechanismKind::Ip4) == v4();
    const int bits = v4() ? m.cidr4 : m.cidr6;
    return family && prefix_matches(m.network, ip_.ip_bytes(), bits) ? match() : no_match();
  }
  auto target_or_error = target_of(m.domain, domain, m.text);
  if (auto* error = std::get_if<Verdict>(&target_or_error)) return decided(*error);
  if (auto over = count_lookup(domain)) return decided(*over);
  const std::string target = std::get<std::string>(target_or_error);
  switch (m.kind) {
    case MechanismKind::Include: {
      std::optional<Verdict> inner = check_host(target);
      if (!inner) return pending();
      switch (inner->result) {
        case Result::Pass:
          return {Outcome::Kind::Match, *inner};
        case Result::Fail:
        case Result::SoftFail:
        case Result::Neutral:
          return no_match();
        case Result::TempError:
        case Result::PermError:
          return decided(*inner);
        case Result::None:
          return decided(problem(Result::PermError, Problem::IncludeWithoutRecord, domain, m.text));
      }
      return no_match();
    }
    case MechanismKind::A:
      return addresses_of(target, m, domain);
    case MechanismKind::Mx:
      return mx(target, m, domain);
    case MechanismKind::Ptr:
      return ptr(target, domain);
    case MechanismKind::Exists: {
      const DnsAnswer* a = ask(QueryType::A, target);
      if (a == nullptr) return pending();
      if (a->error()) return decided(dns_error({QueryType::A, target}, *a, domain));
      if (auto over = count_void(*a, domain)) return decided(*over);
      return a->addresses.empty() ? no_match() : match();
    }
    default:
      return no_match();
  }
}

Evaluation::Outcome Evaluation::addresses_of(const std::string& name, const Mechanism& m,
                                             const std::string& domain) {
  const DnsAnswer* a = ask(address_type(), name);
  if (a == nullptr) return pending();
  if (a->error()) return decided(dns_error({address_type(), name}, *a, domain));
  if (auto over = count_void(*a, domain)) return decided(*over);
  for (const SocketAddress& found : a->addresses) {
    if (address_matches(found, m)) return match();
  }
  return no_match();
}

Evaluation::Outcome Evaluation::mx(const std::string& target, const Mechanism& m,
                                   const std::string& domain) {
  const DnsAnswer* answer = ask(QueryType::Mx, target);
  if (answer == nullptr) return pending();
  if (answer->error()) return decided(dns_error({QueryType::Mx, target}, *answer, domain));
  if (auto over = count_void(*answer, domain)) return decided(*over);
  if (answer->names.size() > kMaxNames) {
    return decided(problem(Result::PermError, Problem::TooManyNames, domain, m.text));
  }
  for (const std::string& host : answer->names) {
    const std::string name = normalise(host);
    if (name.empty()) continue;  // a null MX (RFC 7505)
    const DnsAnswer* a = ask(address_type(), name);
    if (a == nullptr) return pending();
    if (a->error()) return decided(dns_error({address_type(), name}, *a, domain));
    for (const SocketAddress& found : a->addresses) {
      if (address_matches(found, m)) return match();
    }
  }
  return no_match();
}

// §5.5: names of the address whose own addresses include it ("validated"),
// equal to the target or under it. A failed lookup only skips a name.
Evaluation::Outcome Evaluation::ptr(const std::string& target, const std::string& domain) {
  const std::string reverse = reverse_name(ip_);
  const DnsAnswer* answer = ask(QueryType::Ptr, reverse);
  if (answer == nullptr) return pending();
  if (answer->error()) return no_match();
  if (auto over = count_void(*answer, domain)) return decided(*over);
  const size_t count = std::min(answer->names.size(), kMaxNames);
  for (size_t i = 0; i < count; ++i) {
    const std::string name = normalise(answer->names[i]);
    if (name != target && !name.ends_with("." + target)) continue;
    const DnsAnswer* a = ask(address_type(), name);
    if (a == nullptr) return pending();
    for (const SocketAddress& found : a->addresses) {
      if (found == ip_ || (found.family() == ip_.family() &&
                           std::ranges::equal(found.ip_bytes(), ip_.ip_bytes()))) {
        return match();
      }
    }
  }
  return no_match();
}

}  // namespace

Step check_host(const SocketAddress& ip, std::string_view domain, const Answers& answers) {
  const std::string start = normalise(domain);
  Evaluation evaluation(ip, start, answers);
  std::optional<Verdict> verdict = evaluation.check_host(start);
  Step step;
  if (verdict) {
    step.verdict = std::move(*verdict);
  } else {
    step.need = evaluation.need();
  }
  return step;
}

}  // namespace mx::check::spf
