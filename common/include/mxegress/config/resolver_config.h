// The optional [resolver] table of both configuration files (reference in
// docs/configuration.md): the DNS servers, the timeout of a lookup and the
// tries of a query; on the server also the caps on lookups in flight.
#pragma once

#include <cstdint>

#include "mxegress/net/resolver_settings.h"

namespace mx {

class TableReader;

// The server's [resolver].
struct ServerResolverConfig {
  ResolverSettings settings;
  // Lookups in flight (under way in c-ares, cancelled ones included until
  // c-ares ends them): above either cap a CONNECT to a name is refused with
  // 0x01. 0 = unlimited.
  uint32_t max_lookups = 1024;            // every tenant together, the whole process
  uint32_t max_lookups_per_tenant = 256;  // one tenant

  bool operator==(const ServerResolverConfig&) const = default;
};

// Read [resolver] from the root table `root` (absent: the defaults). The
// client's has no caps: its keys would be unknown there.
void read_resolver(TableReader& root, ResolverSettings& settings);
void read_resolver(TableReader& root, ServerResolverConfig& config);

}  // namespace mx
