// The tenants of this server, looked up by the Ed25519 public key a tunnel
// authenticated with.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mxegress/config/server_config.h"

namespace mx {

class TenantDirectory {
 public:
  explicit TenantDirectory(const std::vector<ServerConfig::Tenant>& tenants) {
    for (const auto& tenant : tenants) {
      auto shared = std::make_shared<const ServerConfig::Tenant>(tenant);
      for (const auto& key : tenant.keys) by_key_[key] = shared;
    }
  }

  std::shared_ptr<const ServerConfig::Tenant> find(const std::array<uint8_t, 32>& key) const {
    auto it = by_key_.find(key);
    return it == by_key_.end() ? nullptr : it->second;
  }

 private:
  std::map<std::array<uint8_t, 32>, std::shared_ptr<const ServerConfig::Tenant>> by_key_;
};

}  // namespace mx
