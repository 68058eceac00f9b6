// `keepalive_interval` and `keepalive_timeout`, read the same way for
// [client] and [server]: both ends keep the same liveness rule on a tunnel
// (docs/PROTOCOL.md, "Liveness").
#pragma once

#include <chrono>

#include "mxegress/config/toml_reader.h"

namespace mx {

// Cloud NAT (Azure) drops flows idle for 4 minutes: PINGs must come sooner.
inline constexpr std::chrono::minutes kNatIdleTimeout(4);

// Reads both keys of `table` when present; the interval must be below
// kNatIdleTimeout and the timeout shorter than the interval.
void read_keepalive(TableReader& table, std::chrono::milliseconds& interval,
                    std::chrono::milliseconds& timeout);

}  // namespace mx
