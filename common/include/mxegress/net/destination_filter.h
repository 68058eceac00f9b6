// Decides whether a resolved destination may be dialed. Checked on the
// address actually connected to, so a DNS name cannot smuggle in a private
// target.
//
// Order: an explicit `deny` entry always wins; then an `allow` entry exempts
// the address from the built-in list; then the built-in list applies.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged as the IPv4 address
// they are. NAT64 addresses (64:ff9b::/96) are judged by their embedded IPv4
// address, since that is where the connection ends up.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mxegress/net/cidr.h"
#include "mxegress/net/socket_address.h"

namespace mx {

class DestinationFilter {
 public:
  explicit DestinationFilter(std::vector<Cidr> extra_deny = {}, std::vector<Cidr> allow = {});

  // nullopt when allowed; otherwise why not, e.g. "loopback (127.0.0.0/8)",
  // "private (10.0.0.0/8)", "denied by policy (198.51.100.0/24)".
  std::optional<std::string> denied_reason(const SocketAddress& address) const;

 private:
  std::vector<Cidr> extra_deny_;
  std::vector<Cidr> allow_;
};

}  // namespace mx
