// The fleet's admission and bookkeeping on one loop thread (docs/fleet.md):
// asks Redis (one Admit call per session, at the point the destination IP
// is known), keeps this thread's live leases and renews them in one call
// every lease_time / 3, releases a session's leases when it ends, sends the
// heartbeat that gives the fleet size, and flushes the byte counts. What
// Redis answers, or fails to, feeds the server's shared FleetState.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "fleet/fleet_keys.h"
#include "fleet/fleet_state.h"
#include "fleet/redis_link.h"
#include "mxegress/config/fleet_config.h"
#include "mxegress/config/server_config.h"
#include "mxegress/loop/loop.h"
#include "mxegress/loop/timer.h"

namespace mx {

enum class FleetVerdict {
  Admitted,  // the fleet holds a lease for the session (or has no limit to check)
  Refused,   // over a fleet-wide limit: `refusal` names it
  Local,     // Redis did not answer: the local rules (limit / fleet size) decide
};

// The limit a refusal names.
enum class FleetLimit { None, Rate, MaxConnections, MaxPerDestination, BytesPerDay };

struct FleetAdmission {
  FleetVerdict verdict = FleetVerdict::Local;
  FleetLimit limit = FleetLimit::None;
  std::string refusal{};  // "max_connections 10 reached", as a local refusal reads
};

// hostname:pid, the server_id when [fleet] names none.
std::string default_fleet_server_id();

class FleetClient {
 public:
  using Steady = FleetState::Steady;
  using Clock = std::function<Steady()>;
  using Done = std::function<void(FleetAdmission)>;

  // `thread` tells this thread's session ids apart from the other threads'.
  FleetClient(Loop& loop, const FleetConfig& config, std::string server_id, unsigned thread,
              FleetState& state, std::unique_ptr<RedisLink> link,
              Clock clock = std::chrono::steady_clock::now);
  ~FleetClient();
  FleetClient(const FleetClient&) = delete;
  FleetClient& operator=(const FleetClient&) = delete;

  // A new id for a session's leases, unique in the fleet.
  std::string new_session_id();

  // Whether `tenant` must be refused at once, without Redis: by the
  // fleet's rate until its retry time, or its bytes of today.
  std::optional<std::string> refused_now(const std::string& tenant,
                                         const ServerConfig::Limits& limits, FleetState::Wall wall);

  // The fleet's admission of session `id` of `tenant` to `ip`. Calls `done`
  // once, at once (no limit to ask about, Local mode) or when Redis answers
  // or times out, unless cancel(ticket) comes first. Returns the ticket.
  uint64_t admit(const std::string& tenant, const ServerConfig::Limits& limits,
                 const std::string& ip, const std::string& id, Done done);
  void cancel(uint64_t ticket);
  // The session ended: its leases are given back.
  void release(const std::string& id);

  // Bytes the tenant relayed, flushed in batches.
  void add_bytes(const std::string& tenant, uint64_t bytes, FleetState::Wall wall);

  size_t live_leases() const { return leases_.size(); }
  const FleetState& state() const { return state_; }

 private:
  struct Lease {
    std::string connections_key;  // empty: no max_connections lease
    std::string destination_key;  // empty: no max_per_destination lease
  };

  void on_answer(uint64_t ticket, const std::string& tenant, const ServerConfig::Limits& limits,
                 const std::string& ip, const std::string& id, Lease lease, RedisAnswer answer);
  void on_failure();
  void heartbeat();
  void on_heartbeat(RedisAnswer answer);
  void renew();
  void flush();

  [[maybe_unused]] Loop& loop_;  // for MX_ASSERT_IN_LOOP (debug builds)
  FleetConfig config_;
  std::string server_id_;
  std::string id_prefix_;
  uint64_t next_session_ = 1;
  FleetState& state_;
  std::unique_ptr<RedisLink> link_;
  Clock clock_;
  FleetKeys keys_;
  std::map<std::string, Lease> leases_;  // by session id
  std::map<uint64_t, Done> waiting_;     // by ticket
  uint64_t next_ticket_ = 1;
  Timer heartbeat_timer_;
  Timer renew_timer_;
  Timer flush_timer_;
};

}  // namespace mx
