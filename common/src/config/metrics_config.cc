#include "mxegress/config/metrics_config.h"

#include "mxegress/config/config_errors.h"
#include "mxegress/config/decoders.h"
#include "mxegress/config/toml_reader.h"

namespace mx {
namespace {

// An IP:port with a port a scraper can be told: not 0.
std::optional<SocketAddress> metrics_address(const toml::node& node, std::string& why) {
  auto address = decode::ip_port(node, why);
  if (address && address->port() == 0) {
    why = quote(address->to_string()) +
          ": port 0 is not allowed here (a scraper must know the port; e.g. 127.0.0.1:9125)";
    return std::nullopt;
  }
  return address;
}

}  // namespace

void read_metrics(TableReader& root, MetricsConfig& config) {
  if (!root.has("metrics")) return;
  TableReader table = root.table("metrics");
  SocketAddress listen;
  if (table.required("listen", listen, metrics_address)) config.listen = listen;
  table.reject_unknown_keys();
}

}  // namespace mx
