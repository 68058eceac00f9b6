// What the server counts for one tenant, for /metrics (docs/metrics.md):
// sessions started and ended by result, bytes each way, the dial latency,
// and refusals by limit. Lock-free: every loop thread adds to the same
// atomics, and each label value is an index into a fixed array, so a
// session costs a few relaxed increments and no allocation. A tenant's
// TenantMetrics lives in its TenantUsage (UsageRegistry), so it outlives
// reloads like the limits' counters.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "mxegress/metrics/duration_histogram.h"
#include "mxegress/metrics/session_result.h"

namespace mx {

// The limits a session can be refused by.
enum class TenantLimit : uint8_t {
  MaxConnections,
  ConnectionsPerMinute,
  MaxPerDestination,
  BytesPerDay,
  MaxLookups,
  MaxLookupsPerTenant,
  Trail,   // the trail file cannot be written (on_trail_error = "refuse")
  Warmup,  // every source address of the family is out of its warm-up's sessions
};
inline constexpr size_t kTenantLimits = 8;
std::string_view tenant_limit_label(TenantLimit limit);  // the configuration key's name
// The limit a refusal's text names ("max_connections 10 reached",
// "lookup refused: max_lookups_per_tenant 256 reached"), if any.
std::optional<TenantLimit> tenant_limit_of(std::string_view refusal);

struct TenantMetrics {
  std::atomic<uint64_t> sessions_started{0};
  std::array<std::atomic<uint64_t>, kSessionResults> sessions_ended{};
  std::atomic<uint64_t> bytes_to_destination{0};    // what the client sent, early data included
  std::atomic<uint64_t> bytes_from_destination{0};  // what the destination sent
  DurationHistogram connect_seconds;                // successful dials
  std::array<std::atomic<uint64_t>, kTenantLimits> limit_refusals{};

  void ended(SessionResult result) {
    sessions_ended[static_cast<size_t>(result)].fetch_add(1, std::memory_order_relaxed);
  }
  void refused_by(TenantLimit limit) {
    limit_refusals[static_cast<size_t>(limit)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace mx
