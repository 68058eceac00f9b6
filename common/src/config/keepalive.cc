#include "mxegress/config/keepalive.h"

#include "mxegress/config/decoders.h"
#include "mxegress/config/duration.h"

namespace mx {

void read_keepalive(TableReader& table, std::chrono::milliseconds& interval,
                    std::chrono::milliseconds& timeout) {
  const bool interval_ok = table.optional("keepalive_interval", interval, decode::duration) ||
                           !table.has("keepalive_interval");
  const bool timeout_ok = table.optional("keepalive_timeout", timeout, decode::duration) ||
                          !table.has("keepalive_timeout");
  if (interval_ok && interval >= kNatIdleTimeout) {
    table.error("keepalive_interval",
                "must be below 4m: cloud NAT (Azure) drops idle flows after 4 minutes; got " +
                    format_duration(interval));
  }
  if (interval_ok && timeout_ok && timeout >= interval) {
    table.error("keepalive_timeout", "must be shorter than keepalive_interval (" +
                                         format_duration(interval) + "); got " +
                                         format_duration(timeout));
  }
}

}  // namespace mx
