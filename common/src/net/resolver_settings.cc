#include "mxegress/net/resolver_settings.h"

#include <algorithm>

namespace mx {

std::string ares_servers_csv(const std::vector<SocketAddress>& servers) {
  std::string csv;
  for (const SocketAddress& server : servers) {
    if (!csv.empty()) csv += ',';
    csv += server.to_string();  // "1.2.3.4:53", "[2001:db8::53]:53"
  }
  return csv;
}

std::chrono::milliseconds ares_first_try_timeout(std::chrono::milliseconds timeout, uint32_t tries,
                                                 size_t server_count) {
  tries = std::clamp<uint32_t>(tries, 1, kMaxResolverTries);
  const int64_t rounds = (int64_t{1} << tries) - 1;  // 1 + 2 + 4 + ...
  const int64_t sends = rounds * static_cast<int64_t>(std::max<size_t>(server_count, 1));
  return std::chrono::milliseconds(std::max<int64_t>(1, timeout.count() / sends));
}

}  // namespace mx
