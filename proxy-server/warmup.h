// The warm-up of new source addresses (docs/reputation.md): what a
// schedule ([[tenant.warmup]]) allows on a given day, and the check that
// makes source selection pass over an address out of its hour's sessions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mxegress/config/warmup_config.h"
#include "tenant_usage.h"

namespace mx {

// The day of the warm-up `now` falls on (UTC): 1 on `start`, 0 or less before.
int64_t warmup_day(const Warmup& warmup, WallTime now);

// The sessions an hour the schedule allows at `now`: 0 before `start` (the
// address is not in service), nullopt once the warm-up is over (the day of
// a [N, 0] step, or 7 days into the last step).
std::optional<uint32_t> warmup_per_hour(const Warmup& warmup, WallTime now);

// The entry `source` warms up in, or null.
const Warmup* warmup_of(const std::vector<Warmup>& warmups, const SocketAddress& source);

// Takes the warm-up token of a connection attempt leaving from `source` now
// (nothing when it does not warm up).
void take_warmup_token(const std::vector<Warmup>& warmups, TenantUsage& usage,
                       const SocketAddress& source, SteadyTime now, WallTime wall);

// One line for each source address warming up at `now`, for --check:
// `tenant "acme": 192.0.2.11 is not in service before 2026-12-01 (warm-up)`
// or `tenant "acme": 192.0.2.11 warms up: day 2, at most 20 sessions an hour`.
std::vector<std::string> describe_warmups(const ServerConfig& config, WallTime now);

// TenantUsage::pick_source's check for a tenant's warm-ups: Skip for an
// address not in service yet or without a token left this hour (it takes
// none), Use for any other. Remembers why it skipped, for the refusal.
class WarmupCheck {
 public:
  WarmupCheck(const std::vector<Warmup>& warmups, TenantUsage& usage, SteadyTime now, WallTime wall)
      : warmups_(warmups), usage_(usage), now_(now), wall_(wall) {}

  SourceVerdict operator()(const SocketAddress& source);
  // Empty when the tenant warms nothing up (no need to ask).
  SourceCheck as_source_check();
  // Why the skipped addresses were ("warmup of 192.0.2.11 (day 2): 20
  // sessions an hour reached"; several joined by "; "), empty if none.
  const std::string& refusal() const { return refusal_; }

 private:
  const std::vector<Warmup>& warmups_;
  TenantUsage& usage_;
  SteadyTime now_;
  WallTime wall_;
  std::string refusal_;
};

}  // namespace mx
