// Tunnels refused at AUTH (unknown key, bad signature, a disabled tenant, a
// tunnel from an address the tenant may not use, a malformed request):
// counted by reason for the metrics, and logged at warn once per peer
// address and reason every 10 s, so a gateway retrying with a stale key
// leaves one line, not one per attempt, while each new party and each new
// reason is logged at once. The pre-auth caps (StartupGate) bound how fast
// such attempts can come. Thread-safe: one for the whole server.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "mxegress/codec/frame.h"
#include "mxegress/util/log_rate_limit.h"

namespace mx {

class AuthRefusals {
 public:
  // Counts a refusal; the number of lines left out since the last one for
  // this address and reason when this one is to be logged, else nullopt.
  std::optional<uint64_t> refuse(const std::string& address, frame::AuthStatus status,
                                 const std::string& detail,
                                 LogRateLimit::Clock::time_point now = LogRateLimit::Clock::now());
  // Refusals since start with this status (0 for Ok).
  uint64_t count(frame::AuthStatus status) const;

 private:
  static constexpr size_t kStatuses = 6;  // frame::AuthStatus Ok ... Malformed
  std::array<std::atomic<uint64_t>, kStatuses> counts_{};
  KeyedLogRateLimit log_;
};

}  // namespace mx
