#include "mxegress/relay/session_credit.h"

namespace mx {

bool SendCredit::add(uint32_t increment) {
  if (available_ + increment > UINT32_MAX) return false;
  available_ += increment;
  return true;
}

bool ReceiveCredit::on_received(size_t n) {
  unreturned_ += n;
  return unreturned_ <= window_;
}

uint32_t ReceiveCredit::take_returnable(bool all) {
  if (paused_ || unreturned_ == 0) return 0;
  if (!all && unreturned_ < window_ / 2) return 0;
  const auto increment = static_cast<uint32_t>(unreturned_);
  unreturned_ = 0;
  return increment;
}

}  // namespace mx
