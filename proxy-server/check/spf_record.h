// One SPF record (RFC 7208 §4.6, §5, §6) parsed into its terms: no DNS, no
// evaluation (spf_check.h does that). Macros (§7) are recognised by their
// syntax and left unexpanded in the domain-spec; the evaluator refuses them.
//
//   auto parsed = spf::parse_record("v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all");
//   if (!parsed.record) ... parsed.error, parsed.term
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mx::check::spf {

enum class Qualifier : char { Pass = '+', Fail = '-', SoftFail = '~', Neutral = '?' };

enum class MechanismKind { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists };

struct Mechanism {
  Qualifier qualifier = Qualifier::Pass;
  MechanismKind kind = MechanismKind::All;
  // include, exists (required); a, mx, ptr (empty = the current domain).
  std::string domain;
  // ip4 (4 bytes used), ip6: the network as written (host bits allowed).
  std::array<uint8_t, 16> network{};
  // ip4 and ip6 use the one of their family; a and mx both.
  int cidr4 = 32;
  int cidr6 = 128;
  std::string text;  // the term as written, for reports: "-ip4:192.0.2.0/24"
};

struct Record {
  std::vector<Mechanism> mechanisms;
  std::optional<std::string> redirect;  // the domain-spec of redirect=
};

enum class ParseError {
  None,
  NotSpf,             // does not start with "v=spf1" followed by a space or its end
  UnknownMechanism,   // a term that is neither a known mechanism nor name=value
  MissingDomain,      // include:, exists: without a domain-spec
  BadDomain,          // a domain-spec that is not one (RFC 7208 §7.1)
  BadAddress,         // ip4:/ip6: without a valid address of the family
  BadCidr,            // a prefix length out of range, with a leading zero, or stray
  DuplicateModifier,  // redirect= or exp= twice
  BadModifier,        // a modifier with a malformed name or value
};

struct ParseResult {
  std::optional<Record> record;  // set when error is None
  ParseError error = ParseError::None;
  std::string term;  // the offending term, as written
};

// "v=spf1" (case-insensitive) alone or followed by a space: RFC 7208 §4.5.
bool is_spf_record(std::string_view txt);

ParseResult parse_record(std::string_view txt);

// A domain-spec with a macro (any '%': RFC 7208 §7) needs expansion before
// it names a domain.
bool has_macro(std::string_view domain_spec);

// For messages: "unknown mechanism", "bad prefix length", ...
const char* describe(ParseError error);

}  // namespace mx::check::spf
