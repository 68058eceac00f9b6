#include "mxegress/util/concurrency_limit.h"

#include <mutex>
#include <unordered_map>

namespace mx {

struct ConcurrencyLimit::Slot::State {
  mutable std::mutex mutex;
  Caps caps;
  size_t total = 0;
  std::unordered_map<std::string, size_t> per_key;  // only keys with something in flight
  Refused refused;

  void give_back(const std::string& key) {
    std::lock_guard lock(mutex);
    --total;
    auto it = per_key.find(key);
    if (--it->second == 0) per_key.erase(it);
  }
};

ConcurrencyLimit::Slot& ConcurrencyLimit::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    key_ = std::move(other.key_);
  }
  return *this;
}

ConcurrencyLimit::Slot::~Slot() { release(); }

void ConcurrencyLimit::Slot::release() {
  if (!state_) return;
  state_->give_back(key_);
  state_.reset();
}

ConcurrencyLimit::ConcurrencyLimit(Caps caps) : state_(std::make_shared<Slot::State>()) {
  state_->caps = caps;
}

ConcurrencyLimit::~ConcurrencyLimit() = default;

ConcurrencyLimit::Grant ConcurrencyLimit::acquire(const std::string& key) {
  std::lock_guard lock(state_->mutex);
  const Caps& caps = state_->caps;
  if (caps.total != 0 && state_->total >= caps.total) {
    ++state_->refused.total;
    return {Slot(), Refusal::Total};
  }
  auto it = state_->per_key.find(key);
  const size_t mine = it == state_->per_key.end() ? 0 : it->second;
  if (caps.per_key != 0 && mine >= caps.per_key) {
    ++state_->refused.per_key;
    return {Slot(), Refusal::PerKey};
  }
  ++state_->total;
  if (it == state_->per_key.end()) {
    state_->per_key.emplace(key, 1);
  } else {
    ++it->second;
  }
  return {Slot(state_, key), Refusal::None};
}

void ConcurrencyLimit::set_caps(Caps caps) {
  std::lock_guard lock(state_->mutex);
  state_->caps = caps;
}

ConcurrencyLimit::Caps ConcurrencyLimit::caps() const {
  std::lock_guard lock(state_->mutex);
  return state_->caps;
}

size_t ConcurrencyLimit::in_flight() const {
  std::lock_guard lock(state_->mutex);
  return state_->total;
}

size_t ConcurrencyLimit::in_flight(const std::string& key) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->per_key.find(key);
  return it == state_->per_key.end() ? 0 : it->second;
}

ConcurrencyLimit::Refused ConcurrencyLimit::refused() const {
  std::lock_guard lock(state_->mutex);
  return state_->refused;
}

}  // namespace mx
