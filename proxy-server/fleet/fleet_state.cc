#include "fleet/fleet_state.h"

namespace mx {
namespace {

uint64_t divided(uint64_t limit, uint32_t parts) {
  if (limit == 0 || parts <= 1) return limit;
  return (limit + parts - 1) / parts;
}

}  // namespace

FleetChange FleetState::on_answer(uint32_t fleet_size) {
  std::lock_guard lock(mutex_);
  if (fleet_size != 0) fleet_size_ = fleet_size;
  if (mode_ == FleetMode::Shared) return FleetChange::None;
  mode_ = FleetMode::Shared;
  return FleetChange::BecameShared;
}

FleetChange FleetState::on_failure() {
  std::lock_guard lock(mutex_);
  if (mode_ == FleetMode::Local) return FleetChange::None;
  mode_ = FleetMode::Local;
  // What the fleet refused for its rate was decided with its shared count;
  // from now on the local count decides.
  refused_.clear();
  return FleetChange::BecameLocal;
}

FleetMode FleetState::mode() const {
  std::lock_guard lock(mutex_);
  return mode_;
}

uint32_t FleetState::fleet_size() const {
  std::lock_guard lock(mutex_);
  return fleet_size_;
}

ServerConfig::Limits FleetState::local_limits(const ServerConfig::Limits& limits) const {
  std::lock_guard lock(mutex_);
  ServerConfig::Limits local;
  if (mode_ == FleetMode::Shared) return local;
  local.max_connections = static_cast<uint32_t>(divided(limits.max_connections, fleet_size_));
  local.connections_per_minute =
      static_cast<uint32_t>(divided(limits.connections_per_minute, fleet_size_));
  local.max_per_destination =
      static_cast<uint32_t>(divided(limits.max_per_destination, fleet_size_));
  local.bytes_per_day = divided(limits.bytes_per_day, fleet_size_);
  return local;
}

void FleetState::refuse_until(const std::string& tenant, std::string refusal, Steady until) {
  std::lock_guard lock(mutex_);
  refused_[tenant] = Refusal{std::move(refusal), until};
}

std::optional<std::string> FleetState::cached_refusal(const std::string& tenant, Steady now) {
  std::lock_guard lock(mutex_);
  auto it = refused_.find(tenant);
  if (it == refused_.end()) return std::nullopt;
  if (now >= it->second.until) {
    refused_.erase(it);
    return std::nullopt;
  }
  return it->second.text;
}

int64_t FleetState::utc_day(Wall wall) {
  using namespace std::chrono;
  return floor<days>(wall.time_since_epoch()).count();
}

FleetState::Bytes& FleetState::bytes_of(const std::string& tenant, int64_t day) {
  Bytes& bytes = bytes_[tenant];
  if (bytes.day != day) {
    // A new UTC day: what is pending of the old one is dropped, as the
    // local count drops it at midnight.
    bytes.day = day;
    bytes.pending = 0;
    bytes.in_flight = 0;
    bytes.fleet_total = 0;
  }
  return bytes;
}

void FleetState::add_bytes(const std::string& tenant, uint64_t bytes, Wall wall) {
  std::lock_guard lock(mutex_);
  bytes_of(tenant, utc_day(wall)).pending += bytes;
}

std::vector<ByteFlush> FleetState::take_flushes(Steady now, std::chrono::milliseconds interval) {
  std::lock_guard lock(mutex_);
  std::vector<ByteFlush> due;
  for (auto& [tenant, bytes] : bytes_) {
    if (bytes.pending == 0 || bytes.in_flight != 0) continue;
    if (bytes.flushed_once && now - bytes.last_flush < interval) continue;
    due.push_back(ByteFlush{tenant, bytes.day, bytes.pending});
    bytes.in_flight = bytes.pending;
    bytes.pending = 0;
    bytes.last_flush = now;
    bytes.flushed_once = true;
  }
  return due;
}

void FleetState::on_flushed(const ByteFlush& flush, uint64_t total) {
  std::lock_guard lock(mutex_);
  auto it = bytes_.find(flush.tenant);
  if (it == bytes_.end() || it->second.day != flush.day) return;
  it->second.in_flight = 0;
  it->second.fleet_total = total;
}

void FleetState::on_flush_failed(const ByteFlush& flush) {
  std::lock_guard lock(mutex_);
  auto it = bytes_.find(flush.tenant);
  if (it == bytes_.end() || it->second.day != flush.day) return;
  it->second.in_flight = 0;
  it->second.pending += flush.bytes;
}

std::optional<std::string> FleetState::refuse_bytes(const std::string& tenant,
                                                    const ServerConfig::Limits& limits,
                                                    Wall wall) const {
  if (limits.bytes_per_day == 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = bytes_.find(tenant);
  if (it == bytes_.end() || it->second.day != utc_day(wall)) return std::nullopt;
  const Bytes& bytes = it->second;
  if (bytes.fleet_total + bytes.pending + bytes.in_flight < limits.bytes_per_day) {
    return std::nullopt;
  }
  return "bytes_per_day " + std::to_string(limits.bytes_per_day) + " reached";
}

}  // namespace mx
