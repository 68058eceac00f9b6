// What this server knows of its fleet, without any I/O (docs/fleet.md):
// whether the shared limits on Redis are in force (Shared) or this server
// enforces each limit divided by the fleet size it last saw (Local, the
// fail-static mode); the tenants refused until some time by a fleet-wide
// rate; and the bytes counted here but not yet flushed to Redis.
//
// The caller feeds it what the Redis link reports and passes the time in,
// so tests drive both. Thread-safe: one per server, shared by its loop
// threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mxegress/config/server_config.h"

namespace mx {

enum class FleetMode {
  Shared,  // Redis answers: the fleet's limits are decided there
  Local,   // Redis does not: each limit / fleet size, counted here
};

// What happened to the mode, so the caller logs a change once.
enum class FleetChange { None, BecameShared, BecameLocal };

// Bytes of one tenant to add to its counter of one UTC day on Redis.
struct ByteFlush {
  std::string tenant;
  int64_t day = 0;  // days since 1970-01-01, UTC
  uint64_t bytes = 0;
};

class FleetState {
 public:
  using Steady = std::chrono::steady_clock::time_point;
  using Wall = std::chrono::system_clock::time_point;

  // Until Redis has answered once, the fleet size is 1 and the mode Local.
  FleetState() = default;

  // Redis answered; `fleet_size` is the number of live servers it counts
  // (0: the reply did not say; the last size is kept).
  FleetChange on_answer(uint32_t fleet_size);
  // A call failed or timed out, or the connection is gone.
  FleetChange on_failure();

  FleetMode mode() const;
  uint32_t fleet_size() const;

  // The limits this server enforces on its own now: in Local mode each one
  // divided by the fleet size, rounded up (a limit never becomes 0, which
  // would mean unlimited); in Shared mode none (Redis decides), except
  // bytes_per_day, checked with refuse_bytes.
  ServerConfig::Limits local_limits(const ServerConfig::Limits& limits) const;

  // The fleet refused `tenant` for its rate until `until`: later sessions
  // before then get `refusal` without asking Redis.
  void refuse_until(const std::string& tenant, std::string refusal, Steady until);
  std::optional<std::string> cached_refusal(const std::string& tenant, Steady now);

  // Bytes relayed for `tenant`, counted toward the next flush.
  void add_bytes(const std::string& tenant, uint64_t bytes, Wall wall);
  // The tenants whose bytes are due (each at most once per `interval`),
  // taken out of the pending counts.
  std::vector<ByteFlush> take_flushes(Steady now,
                                      std::chrono::milliseconds interval = std::chrono::seconds(1));
  // Redis counted the flush: the fleet's total of that day is `total`.
  void on_flushed(const ByteFlush& flush, uint64_t total);
  // The flush failed: its bytes are pending again.
  void on_flush_failed(const ByteFlush& flush);
  // In Shared mode: "bytes_per_day N reached" when the fleet's total of
  // today (as last read back, plus what is pending here) has reached it.
  std::optional<std::string> refuse_bytes(const std::string& tenant,
                                          const ServerConfig::Limits& limits, Wall wall) const;

  static int64_t utc_day(Wall wall);

 private:
  struct Bytes {
    int64_t day = -1;
    uint64_t pending = 0;      // counted here, not yet on Redis
    uint64_t in_flight = 0;    // sent, not yet answered
    uint64_t fleet_total = 0;  // the fleet's total of `day`, last read back
    Steady last_flush{};
    bool flushed_once = false;
  };
  struct Refusal {
    std::string text;
    Steady until;
  };

  Bytes& bytes_of(const std::string& tenant, int64_t day);

  mutable std::mutex mutex_;
  FleetMode mode_ = FleetMode::Local;
  uint32_t fleet_size_ = 1;
  std::map<std::string, Refusal> refused_;
  std::map<std::string, Bytes> bytes_;
};

}  // namespace mx
