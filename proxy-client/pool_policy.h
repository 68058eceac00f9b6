// How many tunnels the client keeps warm per server, as pure rules
// (tests/unit/client/pool_policy_test.cc). A tunnel is "ready" while it can
// take a session now; "empty" while it carries none.
//
// - `pool` ready tunnels are kept for each server of the preferred
//   priority, opened ahead of demand, so a session costs one round trip.
// - Bursts open more; once empty, the ones beyond `pool` close after
//   `pool_idle_timeout`, and never more than `pool_max` stay empty.
// - Each tunnel being opened serves `sessions_per_tunnel` waiting sessions.
// - At most `max_opening` handshakes to one server run at once; the others
//   wait their turn. A server that faces the internet caps connections that
//   have not authenticated yet per source address (`max_unauthenticated_
//   per_address`, 32 by default): a burst of one-session tunnels must not
//   look like a slowloris and be refused. Handshakes take milliseconds, so
//   the queue drains quickly.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace mx {

struct WarmRule {
  uint32_t pool = 2;
  uint32_t pool_max = 32;
  uint32_t sessions_per_tunnel = 100;
  std::chrono::milliseconds pool_idle_timeout = std::chrono::minutes(5);
  uint32_t max_opening = 16;  // half the server's default per-address cap
};

// Tunnels to open now for a server: to keep `pool` ready, and enough for
// the sessions waiting on it.
size_t tunnels_to_open(const WarmRule& rule, size_t ready, size_t opening, size_t waiting,
                       bool preferred);

// Whether the `rank`-th empty tunnel of a server (counted in the order the
// pool keeps them, oldest first) closes now, having been empty `empty_for`.
bool close_empty_tunnel(const WarmRule& rule, size_t rank, std::chrono::milliseconds empty_for);

}  // namespace mx
