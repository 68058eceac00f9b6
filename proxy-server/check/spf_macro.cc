#include "check/spf_macro.h"

#include <sys/socket.h>

#include <cctype>
#include <vector>

namespace mx::check::spf {
namespace {

constexpr size_t kMaxDomain = 253;

// %{i}: dotted quad, or the 32 nibbles of an IPv6 address separated by dots.
std::string ip_macro(const SocketAddress& ip) {
  if (ip.family() == AF_INET) return ip.ip_string();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const uint8_t b : ip.ip_bytes()) {
    if (!out.empty()) out += '.';
    out += kHex[b >> 4];
    out += '.';
    out += kHex[b & 0x0f];
  }
  return out;
}

// §7.3: split at any of `delimiters`, reverse if asked, keep the rightmost
// `keep` parts (0: all), join with dots.
std::string transform(std::string_view value, size_t keep, bool reverse,
                      std::string_view delimiters) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delimiters.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (reverse) parts = std::vector<std::string_view>(parts.rbegin(), parts.rend());
  const size_t first = keep != 0 && keep < parts.size() ? parts.size() - keep : 0;
  std::string out;
  for (size_t i = first; i < parts.size(); ++i) {
    if (i > first) out += '.';
    out += parts[i];
  }
  return out;
}

// Upper-case macro letters: URL-escaped (§7.3), everything but unreserved.
std::string url_escape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    }
  }
  return out;
}

std::string truncate_left(std::string text) {
  while (text.size() > kMaxDomain) {
    const size_t dot = text.find('.');
    if (dot == std::string::npos) return text.substr(text.size() - kMaxDomain);
    text.erase(0, dot + 1);
  }
  return text;
}

}  // namespace

MacroResult expand_macros(std::string_view spec, const MacroContext& context) {
  MacroResult result;
  std::string& out = result.text;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] != '%') {
      out += spec[i];
      continue;
    }
    const char next = i + 1 < spec.size() ? spec[i + 1] : '\0';
    if (next == '%' || next == '_' || next == '-') {
      out += next == '%' ? "%" : next == '_' ? " " : "%20";
      ++i;
      continue;
    }
    const size_t close = spec.find('}', i);
    if (next != '{' || close == std::string_view::npos || close < i + 3) {
      result.error = MacroResult::Error::Syntax;
      return result;
    }
    const std::string_view body = spec.substr(i + 2, close - i - 2);
    i = close;
    const char letter = body.front();
    result.letter = letter;
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(letter)));
    size_t at = 1;
    size_t keep = 0;
    while (at < body.size() && std::isdigit(static_cast<unsigned char>(body[at])) != 0) {
      keep = keep * 10 + static_cast<size_t>(body[at] - '0');
      if (keep > 128) keep = 128;  // more parts than any value has: all of them
      ++at;
    }
    const bool digits = at > 1;
    bool reverse = false;
    if (at < body.size() && (body[at] == 'r' || body[at] == 'R')) {
      reverse = true;
      ++at;
    }
    std::string_view delimiters = body.substr(at);
    if ((digits && keep == 0) ||
        delimiters.find_first_not_of(".-+,/_=") != std::string_view::npos) {
      result.error = MacroResult::Error::Syntax;
      return result;
    }
    if (delimiters.empty()) delimiters = ".";
    std::string value;
    switch (lower) {
      case 's':
        value = std::string(context.sender_local) + "@" + std::string(context.sender_domain);
        break;
      case 'l':
        value = std::string(context.sender_local);
        break;
      case 'o':
        value = std::string(context.sender_domain);
        break;
      case 'd':
        value = std::string(context.domain);
        break;
      case 'i':
        value = ip_macro(context.ip);
        break;
      case 'v':
        value = context.ip.family() == AF_INET ? "in-addr" : "ip6";
        break;
      case 'h':
      case 'p':
        result.error = MacroResult::Error::Unsupported;
        return result;
      default:
        result.error = MacroResult::Error::Syntax;
        return result;
    }
    std::string expanded = transform(value, keep, reverse, delimiters);
    out += letter == lower ? expanded : url_escape(expanded);
  }
  result.letter = 0;
  out = truncate_left(std::move(out));
  return result;
}

}  // namespace mx::check::spf
