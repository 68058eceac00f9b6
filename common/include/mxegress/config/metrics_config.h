// The optional [metrics] table of both configuration files (reference in
// docs/configuration.md, the metrics in docs/metrics.md): where the HTTP
// listener for /metrics, /healthz and /readyz listens. Absent: none.
#pragma once

#include <optional>

#include "mxegress/net/socket_address.h"

namespace mx {

class TableReader;

struct MetricsConfig {
  std::optional<SocketAddress> listen;  // "127.0.0.1:9125", "[::1]:9125"; never port 0

  bool operator==(const MetricsConfig&) const = default;
};

// Reads [metrics] from the root table `root` (absent: no listener).
void read_metrics(TableReader& root, MetricsConfig& config);

}  // namespace mx
