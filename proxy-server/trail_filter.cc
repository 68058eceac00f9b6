#include "trail_filter.h"

#include <algorithm>
#include <limits>

#include "json_line.h"

namespace mx {
namespace {

int64_t epoch_ms(WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

bool same_ip(const SocketAddress& a, const SocketAddress& b) {
  const SocketAddress x = a.unmapped();
  const SocketAddress y = b.unmapped();
  return x.family() == y.family() && std::ranges::equal(x.ip_bytes(), y.ip_bytes());
}

std::string normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A host and an optional port: "192.0.2.1", "192.0.2.1:25", "2001:db8::1",
// "[2001:db8::1]", "[2001:db8::1]:25", "mx.example.org", "mx.example.org:25".
// The host keeps its IPv6 brackets off. nullopt when malformed.
struct HostAndPort {
  std::string host;
  std::optional<uint16_t> port;
};

std::optional<HostAndPort> split_host_port(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    HostAndPort out{std::string(text.substr(1, close - 1)), std::nullopt};
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || !(out.port = parse_port(rest.substr(1)))) return std::nullopt;
    }
    return out;
  }
  // More than one colon and no brackets: a bare IPv6 literal, no port.
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || text.find(':') != colon) {
    return HostAndPort{std::string(text), std::nullopt};
  }
  const auto port = parse_port(text.substr(colon + 1));
  if (!port) return std::nullopt;
  return HostAndPort{std::string(text.substr(0, colon)), port};
}

bool address_matches(const std::optional<std::string>& field, const SocketAddress& ip,
                     const std::optional<uint16_t>& port) {
  if (!field) return false;
  const auto address = SocketAddress::parse(*field);
  if (!address || !same_ip(*address, ip)) return false;
  return !port || address->port() == *port;
}

bool dest_matches(const DestFilter& filter, const TrailRecord& record) {
  if (filter.ip && address_matches(record.connected, *filter.ip, filter.port)) return true;
  const auto target = split_host_port(record.target);
  if (!target) return false;
  if (filter.port && target->port != filter.port) return false;
  const auto target_ip = SocketAddress::parse_ip(target->host, 0);
  if (filter.ip) return target_ip && same_ip(*target_ip, *filter.ip);
  return !target_ip && normalize_name(target->host) == filter.name;
}

}  // namespace

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

std::optional<AddressFilter> parse_address_filter(std::string_view text) {
  const auto split = split_host_port(text);
  if (!split) return std::nullopt;
  const auto ip = SocketAddress::parse_ip(split->host, 0);
  if (!ip) return std::nullopt;
  return AddressFilter{*ip, split->port};
}

std::optional<DestFilter> parse_dest_filter(std::string_view text) {
  const auto split = split_host_port(text);
  if (!split || split->host.empty()) return std::nullopt;
  DestFilter filter;
  filter.port = split->port;
  if (auto ip = SocketAddress::parse_ip(split->host, 0)) {
    filter.ip = *ip;
    return filter;
  }
  if (text.front() == '[') return std::nullopt;  // brackets hold IPv6 literals only
  for (const char c : split->host) {
    if (c == ':' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return std::nullopt;
  }
  filter.name = normalize_name(split->host);
  return filter.name.empty() ? std::nullopt : std::optional<DestFilter>(filter);
}

// TIME for the filters: RFC 3339, or a date alone meaning its midnight UTC.
std::optional<int64_t> parse_time_arg(std::string_view text) {
  if (auto time = parse_rfc3339(text)) return epoch_ms(*time);
  if (text.size() == 10) {
    if (auto time = parse_rfc3339(std::string(text) + "T00:00:00Z")) return epoch_ms(*time);
  }
  return std::nullopt;
}

std::optional<BannerFilter> parse_banner_filter(std::string_view text) {
  if (text.size() != 3 || text[0] < '2' || text[0] > '5') return std::nullopt;
  if (text.substr(1) == "xx") return BannerFilter{0, text[0] - '0'};
  if (text[1] < '0' || text[1] > '9' || text[2] < '0' || text[2] > '9') return std::nullopt;
  return BannerFilter{(text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0'), 0};
}

bool matches(const TrailFilter& q, const TrailRecord& r) {
  if (q.tenant && r.tenant != *q.tenant) return false;
  if (q.provider && (!r.smtp || r.smtp->provider != *q.provider)) return false;
  if (q.banner) {
    if (!r.smtp) return false;
    if (q.banner->code != 0 ? r.smtp->banner != q.banner->code
                            : r.smtp->banner / 100 != q.banner->kind) {
      return false;
    }
  }
  if (q.source && !address_matches(r.source, q.source->ip, q.source->port)) return false;
  if (q.dest && !dest_matches(*q.dest, r)) return false;
  const int64_t start = epoch_ms(r.time);
  const int64_t end = saturating_add(start, r.duration_ms);
  if (q.from_ms && end < *q.from_ms) return false;
  if (q.to_ms && start > *q.to_ms) return false;
  return true;
}

}  // namespace mx
