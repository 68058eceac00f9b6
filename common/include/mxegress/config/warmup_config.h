// [[tenant.warmup]]: the schedule a new source address of a tenant follows
// before it sends at full volume (docs/reputation.md). Enforced by the
// server (proxy-server/warmup.h); this is only what the file says.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mxegress/net/socket_address.h"

namespace mx {

class TableReader;

struct Warmup {
  // From `from_day` on (day 1 is `start`), at most `per_hour` sessions an
  // hour leave from each address; 0 ends the warm-up on that day.
  struct Step {
    uint32_t from_day = 1;
    uint32_t per_hour = 0;
    bool operator==(const Step&) const = default;
  };

  std::vector<SocketAddress> source;  // some of the tenant's `source` addresses
  int64_t start_day = 0;              // day 1, as days since 1970-01-01 (UTC)
  std::vector<Step> schedule;         // days strictly increasing; 0 per hour only last

  bool operator==(const Warmup&) const = default;
};

// Reads the [[tenant.warmup]] tables of the tenant `tenant_table`, whose
// source addresses are `tenant_source`, reporting every problem in it.
std::vector<Warmup> read_warmups(TableReader& tenant_table,
                                 const std::vector<SocketAddress>& tenant_source,
                                 const std::string& tenant_name);

}  // namespace mx
