// The Redis keys of a fleet (docs/fleet.md "Keys"), all under its
// key_prefix, so several fleets can share one Redis. Tenant names are
// [A-Za-z0-9._-], so they never contain the ':' that separates parts.
#pragma once

#include <cstdint>
#include <string>

namespace mx {

class FleetKeys {
 public:
  explicit FleetKeys(std::string prefix) : prefix_(std::move(prefix)) {}

  // Sorted set: server id -> expiry of its heartbeat (ms, Redis's clock).
  std::string servers() const { return prefix_ + "servers"; }
  // The tenant's GCRA theoretical arrival time (ms).
  std::string rate(const std::string& tenant) const { return tenant_key(tenant) + ":rate"; }
  // Sorted set: session id -> lease expiry, one per live session of the tenant.
  std::string connections(const std::string& tenant) const { return tenant_key(tenant) + ":conns"; }
  // The same for the tenant's sessions to one destination IP.
  std::string destination(const std::string& tenant, const std::string& ip) const {
    return tenant_key(tenant) + ":dest:" + ip;
  }
  // The bytes of the tenant on one UTC day (days since 1970-01-01).
  std::string bytes(const std::string& tenant, int64_t day) const {
    return tenant_key(tenant) + ":bytes:" + std::to_string(day);
  }

 private:
  std::string tenant_key(const std::string& tenant) const { return prefix_ + "t:" + tenant; }

  std::string prefix_;
};

}  // namespace mx
