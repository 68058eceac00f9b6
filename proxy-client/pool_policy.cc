#include "pool_policy.h"

#include <algorithm>

namespace mx {

size_t tunnels_to_open(const WarmRule& rule, size_t ready, size_t opening, size_t waiting,
                       bool preferred) {
  const size_t per_tunnel = std::max<uint32_t>(rule.sessions_per_tunnel, 1);
  // An opening serves the waiting sessions first, and what room it has
  // left keeps the pool warm: so the two needs overlap, they do not add up.
  const size_t for_waiting = (waiting + per_tunnel - 1) / per_tunnel;
  const size_t for_pool = preferred && ready < rule.pool ? rule.pool - ready : 0;
  const size_t wanted = std::max(for_waiting, for_pool);
  const size_t needed = wanted > opening ? wanted - opening : 0;
  const size_t room = rule.max_opening > opening ? rule.max_opening - opening : 0;
  return std::min(needed, room);
}

bool close_empty_tunnel(const WarmRule& rule, size_t rank, std::chrono::milliseconds empty_for) {
  if (rank >= rule.pool_max) return true;
  return rank >= rule.pool && empty_for >= rule.pool_idle_timeout;
}

}  // namespace mx
