// Which destinations a tenant may reach: allowed ports, and the deny-list
// (built-in private/reserved ranges plus `deny`, minus `allow`) applied to
// every resolved address.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mxegress/net/destination_filter.h"
#include "mxegress/net/socket_address.h"

namespace mx {

class DestinationPolicy {
 public:
  DestinationPolicy(std::vector<uint16_t> ports, std::vector<Cidr> deny, std::vector<Cidr> allow)
      : ports_(ports.begin(), ports.end()), filter_(std::move(deny), std::move(allow)) {}

  bool port_allowed(uint16_t port) const { return ports_.count(port) != 0; }
  std::optional<std::string> denied_reason(const SocketAddress& address) const {
    return filter_.denied_reason(address);
  }

 private:
  std::set<uint16_t> ports_;
  DestinationFilter filter_;
};

}  // namespace mx
