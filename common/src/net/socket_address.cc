#include "mxegress/net/socket_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace mx {
namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label_length = 0;
  for (char c : name) {
    if (c == '.') {
      if (label_length == 0) return false;
      label_length = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok || ++label_length > 63) return false;
  }
  return true;
}

}  // namespace

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

std::optional<SocketAddress> SocketAddress::parse_ip(std::string_view ip, uint16_t port) {
  // inet_pton reads a C string: an embedded NUL would cut the text short.
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN || ip.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string text(ip);
  uint8_t bytes[16];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    return ipv4(std::span<const uint8_t, 4>(bytes, 4), port);
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    return ipv6(std::span<const uint8_t, 16>(bytes, 16), port);
  }
  return std::nullopt;
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    const auto port = parse_port(text.substr(close + 2));
    if (!port) return std::nullopt;
    auto address = parse_ip(text.substr(1, close - 1), *port);
    if (!address || address->family() != AF_INET6) return std::nullopt;
    return address;
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto port = parse_port(text.substr(colon + 1));
  if (!port) return std::nullopt;
  auto address = parse_ip(text.substr(0, colon), *port);
  // An IPv6 literal needs its brackets: "::1:25" is ambiguous.
  if (!address || address->family() != AF_INET) return std::nullopt;
  return address;
}

SocketAddress SocketAddress::from_sockaddr(const sockaddr* sa) {
  SocketAddress address;
  if (sa->sa_family == AF_INET) {
    std::memcpy(&address.storage_, sa, sizeof(sockaddr_in));
  } else if (sa->sa_family == AF_INET6) {
    std::memcpy(&address.storage_, sa, sizeof(sockaddr_in6));
  }
  return address;
}

std::optional<SocketAddress> SocketAddress::from_target(const Target& target) {
  switch (target.kind) {
    case Target::Kind::IPv4:
      return ipv4(std::span<const uint8_t, 4>(target.ip.data(), 4), target.port);
    case Target::Kind::IPv6:
      return ipv6(std::span<const uint8_t, 16>(target.ip.data(), 16), target.port);
    case Target::Kind::Domain:
      break;
  }
  return std::nullopt;
}

SocketAddress SocketAddress::ipv4(std::span<const uint8_t, 4> ip, uint16_t port) {
  SocketAddress address;
  auto& sin = reinterpret_cast<sockaddr_in&>(address.storage_);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  std::memcpy(&sin.sin_addr, ip.data(), 4);
  return address;
}

SocketAddress SocketAddress::ipv6(std::span<const uint8_t, 16> ip, uint16_t port) {
  SocketAddress address;
  auto& sin6 = reinterpret_cast<sockaddr_in6&>(address.storage_);
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  std::memcpy(&sin6.sin6_addr, ip.data(), 16);
  return address;
}

socklen_t SocketAddress::len() const {
  switch (family()) {
    case AF_INET:
      return sizeof(sockaddr_in);
    case AF_INET6:
      return sizeof(sockaddr_in6);
  }
  return 0;
}

uint16_t SocketAddress::port() const {
  switch (family()) {
    case AF_INET:
      return ntohs(v4().sin_port);
    case AF_INET6:
      return ntohs(v6().sin6_port);
  }
  return 0;
}

std::span<const uint8_t> SocketAddress::ip_bytes() const {
  switch (family()) {
    case AF_INET:
      return {reinterpret_cast<const uint8_t*>(&v4().sin_addr), 4};
    case AF_INET6:
      return {reinterpret_cast<const uint8_t*>(&v6().sin6_addr), 16};
  }
  return {};
}

bool SocketAddress::is_ipv4_mapped() const {
  if (family() != AF_INET6) return false;
  return std::memcmp(ip_bytes().data(), kMappedPrefix, sizeof kMappedPrefix) == 0;
}

SocketAddress SocketAddress::unmapped() const {
  if (!is_ipv4_mapped()) return *this;
  return ipv4(ip_bytes().subspan<12, 4>(), port());
}

std::string SocketAddress::ip_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) inet_ntop(AF_INET, &v4().sin_addr, text, sizeof text);
  if (family() == AF_INET6) inet_ntop(AF_INET6, &v6().sin6_addr, text, sizeof text);
  return text;
}

std::string SocketAddress::to_string() const {
  // Built with append: GCC 12 at -O2/-O3 reports a false -Wrestrict for the
  // operator+ chain here.
  std::string out;
  const bool v6 = family() == AF_INET6;
  if (v6) out.append("[");
  out.append(ip_string());
  if (v6) out.append("]");
  out.append(":").append(std::to_string(port()));
  return out;
}

Target SocketAddress::to_target() const {
  const auto bytes = ip_bytes();
  if (family() == AF_INET6) {
    std::array<uint8_t, 16> ip{};
    std::copy(bytes.begin(), bytes.end(), ip.begin());
    return Target::ipv6(ip, port());
  }
  std::array<uint8_t, 4> ip{};
  std::copy(bytes.begin(), bytes.end(), ip.begin());
  return Target::ipv4(ip, port());
}

bool SocketAddress::operator==(const SocketAddress& other) const {
  if (family() != other.family() || port() != other.port()) return false;
  if (family() == AF_INET6 && v6().sin6_scope_id != other.v6().sin6_scope_id) return false;
  return std::ranges::equal(ip_bytes(), other.ip_bytes());
}

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    auto address = SocketAddress::parse(text);
    if (!address) return std::nullopt;
    return HostPort{address->ip_string(), address->port()};
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view host = text.substr(0, colon);
  const auto port = parse_port(text.substr(colon + 1));
  if (!port || !is_dns_name(host)) return std::nullopt;
  return HostPort{std::string(host), *port};
}

}  // namespace mx
