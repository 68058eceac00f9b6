#include "server_snapshot.h"

namespace mx {

ServerSnapshot::ServerSnapshot(ServerConfig config)
    : config_(std::move(config)), providers_(config_.smtp.providers) {
  for (const Tenant& tenant : config_.tenants) {
    by_name_[tenant.name] = &tenant;
    for (const Key32& key : tenant.keys) by_key_[key] = &tenant;
    policies_[tenant.name] = std::make_unique<DestinationPolicy>(
        tenant.policy.ports, tenant.policy.deny, tenant.policy.allow);
  }
  for (const auto& user : config_.socks5.users) users_[user.name] = &user;
}

const ServerSnapshot::Tenant* ServerSnapshot::tenant_for_key(const Key32& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : it->second;
}

const ServerSnapshot::Tenant* ServerSnapshot::tenant(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const DestinationPolicy& ServerSnapshot::policy(const Tenant& tenant) const {
  return *policies_.at(tenant.name);
}

const ServerConfig::Socks5User* ServerSnapshot::socks5_user(const std::string& name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : it->second;
}

}  // namespace mx
