#include "mxegress/relay/liveness.h"

namespace mx {

Liveness::Decision Liveness::check(uint64_t now_ms) {
  if (!awaiting_since_) {
    const uint64_t due = last_heard_ + static_cast<uint64_t>(settings_.interval.count());
    if (now_ms < due) return {Action::Wait, due};
    awaiting_since_ = now_ms;
    pinged_ = true;
    return {Action::Ping, now_ms + timeout()};
  }
  const uint64_t deadline = *awaiting_since_ + timeout();
  if (now_ms >= deadline) return {Action::Dead, deadline};
  if (!pinged_) {
    const uint64_t probe = *awaiting_since_ + probe_after();
    if (now_ms < probe) return {Action::Wait, probe};
    pinged_ = true;
    return {Action::Ping, deadline};
  }
  return {Action::Wait, deadline};
}

uint64_t Liveness::next_check_ms() const {
  if (!awaiting_since_) return last_heard_ + static_cast<uint64_t>(settings_.interval.count());
  if (!pinged_) return *awaiting_since_ + probe_after();
  return *awaiting_since_ + timeout();
}

}  // namespace mx
