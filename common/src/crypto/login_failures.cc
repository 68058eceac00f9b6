#include "mxegress/crypto/login_failures.h"

#include <algorithm>

namespace mx {

bool LoginFailures::blocked(const Entry& entry, Clock::time_point now) const {
  return settings_.threshold > 0 && entry.failures >= settings_.threshold &&
         now < entry.blocked_until;
}

// Nothing left to remember: the failures counted are older than the window
// and no backoff runs.
bool LoginFailures::expired(const Entry& entry, Clock::time_point now) const {
  return !blocked(entry, now) && now - entry.first >= settings_.backoff;
}

bool LoginFailures::in_backoff(const std::string& address, Clock::time_point now) {
  auto it = entries_.find(address);
  if (it == entries_.end()) return false;
  if (blocked(it->second, now)) return true;
  if (expired(it->second, now)) entries_.erase(it);
  return false;
}

bool LoginFailures::failed(const std::string& address, Clock::time_point now) {
  if (settings_.threshold == 0) return false;
  auto it = entries_.find(address);
  if (it != entries_.end() && expired(it->second, now)) {
    entries_.erase(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    make_room(now);
    it = entries_.emplace(address, Entry{0, now, now}).first;
  }
  Entry& entry = it->second;
  if (blocked(entry, now)) return false;  // a check admitted before the backoff began
  ++entry.failures;
  if (entry.failures < settings_.threshold) return false;
  entry.blocked_until = now + settings_.backoff;
  return true;
}

void LoginFailures::make_room(Clock::time_point now) {
  if (entries_.size() < kMaxAddresses) return;
  std::erase_if(entries_, [&](const auto& kv) { return expired(kv.second, now); });
  if (entries_.size() < kMaxAddresses) return;
  auto oldest = std::min_element(
      entries_.begin(), entries_.end(),
      [](const auto& a, const auto& b) { return a.second.first < b.second.first; });
  entries_.erase(oldest);
}

}  // namespace mx
