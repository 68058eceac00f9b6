// An IPv4 or IPv6 socket address, and the text forms the configuration uses
// for addresses: "192.0.2.1:25", "[2001:db8::1]:25" and, where host names are
// allowed, "egress.example.net:8443".
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mxegress/net/target.h"

namespace mx {

class SocketAddress {
 public:
  // An unspecified address (family AF_UNSPEC, len 0): a placeholder only.
  SocketAddress() = default;

  // "1.2.3.4:25" or "[2001:db8::1]:25". No names, no scope ids; port 0..65535.
  static std::optional<SocketAddress> parse(std::string_view text);
  // An IP literal without brackets: "1.2.3.4", "2001:db8::1".
  static std::optional<SocketAddress> parse_ip(std::string_view ip, uint16_t port);
  // AF_INET or AF_INET6 only; any other family gives an unspecified address.
  static SocketAddress from_sockaddr(const sockaddr* sa);
  // IPv4 and IPv6 targets; nullopt for a domain name.
  static std::optional<SocketAddress> from_target(const Target& target);
  static SocketAddress ipv4(std::span<const uint8_t, 4> ip, uint16_t port);
  static SocketAddress ipv6(std::span<const uint8_t, 16> ip, uint16_t port);

  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t len() const;
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  // The address bytes: 4 for IPv4, 16 for IPv6, none when unspecified.
  std::span<const uint8_t> ip_bytes() const;

  // ::ffff:a.b.c.d, an IPv4 address written as IPv6.
  bool is_ipv4_mapped() const;
  // The IPv4 address inside an IPv4-mapped one; any other address unchanged.
  SocketAddress unmapped() const;

  std::string ip_string() const;  // "2001:db8::1"
  std::string to_string() const;  // "[2001:db8::1]:25", "1.2.3.4:25"
  Target to_target() const;

  bool operator==(const SocketAddress& other) const;

 private:
  const sockaddr_in& v4() const { return reinterpret_cast<const sockaddr_in&>(storage_); }
  const sockaddr_in6& v6() const { return reinterpret_cast<const sockaddr_in6&>(storage_); }

  sockaddr_storage storage_{};
};

// A host (name or IP literal, IPv6 without its brackets) and a port.
struct HostPort {
  std::string host;
  uint16_t port = 0;

  std::string to_string() const;  // brackets restored around IPv6 literals
  bool operator==(const HostPort&) const = default;
};

// "egress.example.net:8443", "[::1]:8443", "10.0.0.1:25". A name must be a
// plausible DNS name (letters, digits, '-', '_', '.'); port 0..65535.
std::optional<HostPort> parse_host_port(std::string_view text);

// Parses a decimal port 0..65535 (digits only).
std::optional<uint16_t> parse_port(std::string_view text);

}  // namespace mx
