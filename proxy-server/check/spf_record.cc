#include "check/spf_record.h"

#include <arpa/inet.h>

#include <cctype>

namespace mx::check::spf {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

// macro-expand = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
bool valid_macro_string(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c < 0x21 || c > 0x7e) return false;
    if (c != '%') continue;
    if (i + 1 >= text.size()) return false;
    const char next = text[i + 1];
    if (next == '%' || next == '_' || next == '-') {
      ++i;
      continue;
    }
    if (next != '{' || i + 2 >= text.size()) return false;
    const char letter = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i + 2])));
    if (std::string_view("slodiphcrtv").find(letter) == std::string_view::npos) return false;
    size_t j = i + 3;
    while (j < text.size() && is_digit(text[j])) ++j;
    if (j < text.size() && (text[j] == 'r' || text[j] == 'R')) ++j;
    while (j < text.size() && std::string_view(".-+,/_=").find(text[j]) != std::string_view::npos) {
      ++j;
    }
    if (j >= text.size() || text[j] != '}') return false;
    i = j;
  }
  return true;
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool valid_toplabel(std::string_view label) {
  if (label.empty() || label.front() == '-' || label.back() == '-') return false;
  bool alpha = false;
  for (const char c : label) {
    if (c != '-' && !is_alnum(c)) return false;
    alpha = alpha || is_alpha(c) || c == '-';
  }
  return alpha;
}

bool valid_domain_spec(std::string_view spec) {
  if (spec.empty() || !valid_macro_string(spec)) return false;
  if (has_macro(spec)) return true;  // what it expands to is checked then
  if (spec.back() == '.') spec.remove_suffix(1);
  if (spec.empty() || spec.size() > 253) return false;
  const size_t last_dot = spec.rfind('.');
  if (last_dot == std::string_view::npos) return false;  // domain-end needs "." toplabel
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find('.', start);
    if (end == std::string_view::npos) end = spec.size();
    const size_t length = end - start;
    if (length == 0 || length > 63) return false;
    start = end + 1;
  }
  return valid_toplabel(spec.substr(last_dot + 1));
}

// ip4-cidr-length / ip6-cidr-length digits: "0" or a number without a leading zero.
std::optional<int> prefix_length(std::string_view digits, int max) {
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
  int value = 0;
  for (const char c : digits) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

// dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]: "/24", "//64", "/24//64".
bool parse_dual_cidr(std::string_view text, Mechanism& m) {
  if (text.empty()) return true;
  if (!text.starts_with("/")) return false;
  std::optional<std::string_view> v4;
  std::optional<std::string_view> v6;
  if (text.starts_with("//")) {
    v6 = text.substr(2);
  } else if (const size_t both = text.find("//", 1); both != std::string_view::npos) {
    v4 = text.substr(1, both - 1);
    v6 = text.substr(both + 2);
  } else {
    v4 = text.substr(1);
  }
  if (v4) {
    auto length = prefix_length(*v4, 32);
    if (!length) return false;
    m.cidr4 = *length;
  }
  if (v6) {
    auto length = prefix_length(*v6, 128);
    if (!length) return false;
    m.cidr6 = *length;
  }
  return true;
}

ParseError parse_ip(std::string_view value, Mechanism& m) {
  const bool v4 = m.kind == MechanismKind::Ip4;
  std::string_view address = value;
  std::optional<std::string_view> cidr;
  if (const size_t slash = value.find('/'); slash != std::string_view::npos) {
    address = value.substr(0, slash);
    cidr = value.substr(slash + 1);
  }
  const std::string text(address);
  if (inet_pton(v4 ? AF_INET : AF_INET6, text.c_str(), m.network.data()) != 1) {
    return ParseError::BadAddress;
  }
  if (cidr) {
    auto length = prefix_length(*cidr, v4 ? 32 : 128);
    if (!length) return ParseError::BadCidr;
    (v4 ? m.cidr4 : m.cidr6) = *length;
  }
  return ParseError::None;
}

std::optional<MechanismKind> mechanism_kind(std::string_view name) {
  static constexpr std::pair<std::string_view, MechanismKind> kNames[] = {
      {"all", MechanismKind::All}, {"include", MechanismKind::Include}, {"a", MechanismKind::A},
      {"mx", MechanismKind::Mx},   {"ptr", MechanismKind::Ptr},         {"ip4", MechanismKind::Ip4},
      {"ip6", MechanismKind::Ip6}, {"exists", MechanismKind::Exists}};
  for (const auto& [text, kind] : kNames) {
    if (iequals(name, text)) return kind;
  }
  return std::nullopt;
}

ParseError parse_mechanism(std::string_view term, Mechanism& m) {
  m.text = std::string(term);
  if (!term.empty() && std::string_view("+-~?").find(term.front()) != std::string_view::npos) {
    m.qualifier = static_cast<Qualifier>(term.front());
    term.remove_prefix(1);
  }
  const size_t name_end = term.find_first_of(":/");
  auto kind = mechanism_kind(term.substr(0, name_end));
  if (!kind) return ParseError::UnknownMechanism;
  m.kind = *kind;
  const std::string_view rest = name_end == std::string_view::npos ? "" : term.substr(name_end);
  const bool has_domain = !rest.empty() && rest.front() == ':';
  switch (m.kind) {
    case MechanismKind::All:
      return rest.empty() ? ParseError::None : ParseError::UnknownMechanism;
    case MechanismKind::Ip4:
    case MechanismKind::Ip6:
      if (!has_domain) return ParseError::BadAddress;
      return parse_ip(rest.substr(1), m);
    case MechanismKind::Include:
    case MechanismKind::Exists:
    case MechanismKind::Ptr: {
      if (!has_domain) {
        if (m.kind != MechanismKind::Ptr) return ParseError::MissingDomain;
        return rest.empty() ? ParseError::None : ParseError::BadCidr;
      }
      m.domain = std::string(rest.substr(1));
      if (m.domain.empty()) return ParseError::MissingDomain;
      return valid_domain_spec(m.domain) ? ParseError::None : ParseError::BadDomain;
    }
    case MechanismKind::A:
    case MechanismKind::Mx: {
      std::string_view cidr = rest;
      if (has_domain) {
        const std::string_view spec = rest.substr(1);
        const size_t slash = spec.find('/');
        m.domain = std::string(spec.substr(0, slash));
        cidr = slash == std::string_view::npos ? "" : spec.substr(slash);
        if (!valid_domain_spec(m.domain)) return ParseError::BadDomain;
      }
      return parse_dual_cidr(cidr, m) ? ParseError::None : ParseError::BadCidr;
    }
  }
  return ParseError::UnknownMechanism;
}

// name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), then "=".
std::optional<size_t> modifier_name_end(std::string_view term) {
  const size_t eq = term.find('=');
  if (eq == std::string_view::npos || eq == 0 || !is_alpha(term.front())) return std::nullopt;
  for (size_t i = 1; i < eq; ++i) {
    const char c = term[i];
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return std::nullopt;
  }
  return eq;
}

}  // namespace

bool is_spf_record(std::string_view txt) {
  if (txt.size() < 6 || !iequals(txt.substr(0, 6), "v=spf1")) return false;
  return txt.size() == 6 || txt[6] == ' ';
}

bool has_macro(std::string_view domain_spec) {
  return domain_spec.find('%') != std::string_view::npos;
}

ParseResult parse_record(std::string_view txt) {
  ParseResult result;
  if (!is_spf_record(txt)) {
    result.error = ParseError::NotSpf;
    return result;
  }
  Record record;
  bool seen_exp = false;
  size_t at = 6;
  while (at < txt.size()) {
    if (txt[at] == ' ') {
      ++at;
      continue;
    }
    size_t end = txt.find(' ', at);
    if (end == std::string_view::npos) end = txt.size();
    const std::string_view term = txt.substr(at, end - at);
    at = end;
    ParseError error = ParseError::None;
    if (auto eq = modifier_name_end(term)) {
      const std::string_view name = term.substr(0, *eq);
      const std::string_view value = term.substr(*eq + 1);
      if (iequals(name, "redirect")) {
        if (record.redirect) {
          error = ParseError::DuplicateModifier;
        } else if (!valid_domain_spec(value)) {
          error = value.empty() ? ParseError::MissingDomain : ParseError::BadDomain;
        } else {
          record.redirect = std::string(value);
        }
      } else if (iequals(name, "exp")) {
        // Only the explanation of a fail uses it, which a check does not show.
        if (seen_exp) error = ParseError::DuplicateModifier;
        if (!valid_domain_spec(value)) error = ParseError::BadModifier;
        seen_exp = true;
      } else if (!valid_macro_string(value) && !value.empty()) {
        error = ParseError::BadModifier;  // unknown modifiers are ignored, if well formed
      }
    } else {
      Mechanism m;
      error = parse_mechanism(term, m);
      if (error == ParseError::None) record.mechanisms.push_back(std::move(m));
    }
    if (error != ParseError::None) {
      result.error = error;
      result.term = std::string(term);
      return result;
    }
  }
  result.record = std::move(record);
  return result;
}

const char* describe(ParseError error) {
  switch (error) {
    case ParseError::None:
      return "no error";
    case ParseError::NotSpf:
      return "not an SPF record";
    case ParseError::UnknownMechanism:
      return "unknown mechanism";
    case ParseError::MissingDomain:
      return "missing domain";
    case ParseError::BadDomain:
      return "malformed domain";
    case ParseError::BadAddress:
      return "malformed address";
    case ParseError::BadCidr:
      return "malformed prefix length";
    case ParseError::DuplicateModifier:
      return "modifier given twice";
    case ParseError::BadModifier:
      return "malformed modifier";
  }
  return "unknown error";
}

}  // namespace mx::check::spf
