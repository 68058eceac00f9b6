// A token bucket that refills continuously at `rate` tokens per period up
// to `rate` (the burst): connections_per_minute (a minute) and the warm-up
// of a source address (an hour). The rate is passed on each call, so a
// reload changes it at once; the tokens already there are kept, capped to
// the new rate.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace mx {

using SteadyTime = std::chrono::steady_clock::time_point;

class TokenBucket {
 public:
  explicit TokenBucket(std::chrono::seconds period) : period_(period) {}

  // Takes a token if one is left.
  bool take(uint32_t rate, SteadyTime now);
  // Whether a token is left, taking none.
  bool has_token(uint32_t rate, SteadyTime now);
  // Takes a token even when none is left: the bucket then owes it and
  // refills from below zero (a use seen after the check that allowed it).
  void spend(uint32_t rate, SteadyTime now);

 private:
  void refill(uint32_t rate, SteadyTime now);

  std::chrono::seconds period_;
  std::optional<double> tokens_;  // unset: not started (starts full)
  SteadyTime last_{};
};

}  // namespace mx
