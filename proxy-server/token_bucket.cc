#include "token_bucket.h"

#include <algorithm>

namespace mx {

void TokenBucket::refill(uint32_t rate, SteadyTime now) {
  const double capacity = rate;
  if (!tokens_) {
    tokens_ = capacity;
  } else {
    const double periods = std::chrono::duration<double>(now - last_) / period_;
    tokens_ = std::min(capacity, *tokens_ + periods * capacity);
  }
  last_ = now;
}

bool TokenBucket::has_token(uint32_t rate, SteadyTime now) {
  refill(rate, now);
  return *tokens_ >= 1.0;
}

void TokenBucket::spend(uint32_t rate, SteadyTime now) {
  refill(rate, now);
  *tokens_ -= 1.0;
}

bool TokenBucket::take(uint32_t rate, SteadyTime now) {
  if (!has_token(rate, now)) return false;
  *tokens_ -= 1.0;
  return true;
}

}  // namespace mx
