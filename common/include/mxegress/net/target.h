// A destination as a client asked for it: an IPv4 or IPv6 literal, or a
// domain name still to be resolved, plus a port. SOCKS5 requests and the
// tunnel's CONNECT frame both carry one, in the same encoding (RFC 1928 §5).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace mx {

struct Target {
  enum class Kind : uint8_t { IPv4 = 0x01, Domain = 0x03, IPv6 = 0x04 };
  Kind kind = Kind::IPv4;
  // For IPv4/IPv6: the address bytes (4 or 16 used). For Domain: unused.
  std::array<uint8_t, 16> ip{};
  // For Domain: the name (1..255 bytes). For IPv4/IPv6: empty.
  std::string domain;
  uint16_t port = 0;

  // "192.0.2.1:25", "[2001:db8::1]:25", "mx.example.org:25"
  std::string to_string() const;
  // The host part alone, without brackets: "2001:db8::1", "mx.example.org".
  std::string host() const;

  static Target ipv4(std::array<uint8_t, 4> a, uint16_t port);
  static Target ipv6(const std::array<uint8_t, 16>& a, uint16_t port);
  static Target domain_name(std::string name, uint16_t port);

  bool operator==(const Target&) const = default;
};

}  // namespace mx
