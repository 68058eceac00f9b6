// An IPv4 or IPv6 network prefix: "10.0.0.0/8", "2001:db8::/32".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mxegress/net/socket_address.h"

namespace mx {

class Cidr {
 public:
  // "10.0.0.0/8", "2001:db8::/32"; a bare address is a single host
  // ("192.0.2.1" = /32, "::1" = /128). Host bits set ("10.0.0.1/8") is an
  // error. An IPv6 prefix inside ::ffff:0:0/96 is stored as the IPv4 prefix
  // it names, because IPv4-mapped addresses are judged as IPv4.
  static std::optional<Cidr> parse(std::string_view text);

  // IPv4 prefixes also match IPv4-mapped IPv6 addresses (::ffff:a.b.c.d);
  // IPv6 prefixes match only IPv6 addresses that are not IPv4-mapped.
  bool contains(const SocketAddress& address) const;

  int family() const { return family_; }
  int prefix_length() const { return prefix_length_; }
  std::string to_string() const;  // "10.0.0.0/8", "::1/128"

  bool operator==(const Cidr&) const = default;

 private:
  Cidr(int family, const std::array<uint8_t, 16>& bytes, int prefix_length);

  int family_ = 0;
  std::array<uint8_t, 16> bytes_{};  // 4 used for IPv4
  int prefix_length_ = 0;
};

}  // namespace mx
