#include "tenant_usage.h"

#include <algorithm>

namespace mx {

std::optional<std::string> TenantUsage::admit(const ServerConfig::Limits& limits, SteadyTime now,
                                              WallTime wall) {
  std::lock_guard lock(mutex_);
  if (limits.bytes_per_day != 0 && bytes_today_locked(wall) >= limits.bytes_per_day) {
    return "bytes_per_day " + std::to_string(limits.bytes_per_day) + " reached";
  }
  if (limits.max_connections != 0 && active_ >= limits.max_connections) {
    return "max_connections " + std::to_string(limits.max_connections) + " reached";
  }
  if (limits.connections_per_minute != 0 && !bucket_.take(limits.connections_per_minute, now)) {
    return "connections_per_minute " + std::to_string(limits.connections_per_minute) + " exceeded";
  }
  ++active_;
  return std::nullopt;
}

void TenantUsage::release() {
  std::lock_guard lock(mutex_);
  if (active_ > 0) --active_;
}

std::optional<std::string> TenantUsage::admit_destination(const ServerConfig::Limits& limits,
                                                          const std::string& ip) {
  std::lock_guard lock(mutex_);
  uint32_t& count = per_destination_[ip];
  if (limits.max_per_destination != 0 && count >= limits.max_per_destination) {
    if (count == 0) per_destination_.erase(ip);
    return "max_per_destination " + std::to_string(limits.max_per_destination) + " reached for " +
           ip;
  }
  ++count;
  return std::nullopt;
}

void TenantUsage::release_destination(const std::string& ip) {
  std::lock_guard lock(mutex_);
  auto it = per_destination_.find(ip);
  if (it == per_destination_.end()) return;
  if (--it->second == 0) per_destination_.erase(it);
}

std::optional<SocketAddress> TenantUsage::pick_source(const std::vector<SocketAddress>& sources,
                                                      ServerConfig::SourceSelection selection,
                                                      int family, const SourceCheck& check) {
  if (sources.empty()) return SocketAddress{};
  // Asked before the lock: the check may ask this usage itself.
  std::vector<const SocketAddress*> use;
  std::vector<const SocketAddress*> avoid;
  for (const auto& source : sources) {
    if (source.family() != family) continue;
    switch (check ? check(source) : SourceVerdict::Use) {
      case SourceVerdict::Use:
        use.push_back(&source);
        break;
      case SourceVerdict::Avoid:
        avoid.push_back(&source);
        break;
      case SourceVerdict::Skip:
        break;
    }
  }
  const std::vector<const SocketAddress*>& usable = use.empty() ? avoid : use;
  if (usable.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  const SocketAddress* chosen = nullptr;
  if (selection == ServerConfig::SourceSelection::LeastUsed) {
    uint32_t fewest = UINT32_MAX;
    for (const SocketAddress* source : usable) {
      const uint32_t in_use = per_source_[source->ip_string()];
      if (in_use < fewest) {
        fewest = in_use;
        chosen = source;
      }
    }
  } else {
    size_t& turn = family == AF_INET6 ? round_robin_v6_ : round_robin_v4_;
    chosen = usable[turn++ % usable.size()];
  }
  ++per_source_[chosen->ip_string()];
  return *chosen;
}

bool TenantUsage::warmup_token_left(const SocketAddress& source, uint32_t per_hour,
                                    SteadyTime now) {
  std::lock_guard lock(mutex_);
  return warmup_bucket(source).has_token(per_hour, now);
}

void TenantUsage::take_warmup_token(const SocketAddress& source, uint32_t per_hour,
                                    SteadyTime now) {
  std::lock_guard lock(mutex_);
  warmup_bucket(source).spend(per_hour, now);
}

TokenBucket& TenantUsage::warmup_bucket(const SocketAddress& source) {
  return warmup_buckets_.try_emplace(source.ip_string(), std::chrono::hours(1)).first->second;
}

void TenantUsage::release_source(const SocketAddress& source) {
  std::lock_guard lock(mutex_);
  auto it = per_source_.find(source.ip_string());
  if (it != per_source_.end() && it->second > 0) --it->second;
}

void TenantUsage::roll_day(WallTime wall) {
  const int64_t day =
      std::chrono::duration_cast<std::chrono::days>(wall.time_since_epoch()).count();
  if (day != day_) {
    day_ = day;
    bytes_ = 0;
  }
}

void TenantUsage::add_bytes(uint64_t bytes, WallTime wall) {
  std::lock_guard lock(mutex_);
  roll_day(wall);
  bytes_ += bytes;
}

uint64_t TenantUsage::bytes_today(WallTime wall) const {
  std::lock_guard lock(mutex_);
  return bytes_today_locked(wall);
}

uint32_t TenantUsage::active() const {
  std::lock_guard lock(mutex_);
  return active_;
}

uint64_t TenantUsage::bytes_today_locked(WallTime wall) const {
  const int64_t day =
      std::chrono::duration_cast<std::chrono::days>(wall.time_since_epoch()).count();
  return day == day_ ? bytes_ : 0;
}

UsageLease::~UsageLease() {
  if (destination_) usage_->release_destination(*destination_);
  if (source_ && source_->family() != 0) usage_->release_source(*source_);
  usage_->release();
  if (on_release_) on_release_();
}

std::shared_ptr<TenantUsage> UsageRegistry::for_tenant(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& usage = usage_[name];
  if (!usage) usage = std::make_shared<TenantUsage>();
  return usage;
}

void UsageRegistry::for_each(
    const std::function<void(const std::string&, const TenantUsage&)>& visit) const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, usage] : usage_) visit(name, *usage);
}

}  // namespace mx
