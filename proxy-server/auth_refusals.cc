#include "auth_refusals.h"

namespace mx {

std::optional<uint64_t> AuthRefusals::refuse(const std::string& address, frame::AuthStatus status,
                                             const std::string& detail,
                                             LogRateLimit::Clock::time_point now) {
  const auto index = static_cast<size_t>(status);
  if (index < kStatuses) counts_[index].fetch_add(1, std::memory_order_relaxed);
  return log_.admit(address + '\n' + detail, now);
}

uint64_t AuthRefusals::count(frame::AuthStatus status) const {
  const auto index = static_cast<size_t>(status);
  return index < kStatuses ? counts_[index].load(std::memory_order_relaxed) : 0;
}

}  // namespace mx
