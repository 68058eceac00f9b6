// One loaded server configuration with its lookup tables, immutable. A
// reload builds a new snapshot and swaps it in; sessions keep the one they
// started with, so a live session's rules never change under it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "destination_policy.h"
#include "mxegress/config/server_config.h"
#include "smtp/provider_map.h"

namespace mx {

class ServerSnapshot {
 public:
  using Tenant = ServerConfig::Tenant;

  explicit ServerSnapshot(ServerConfig config);

  const ServerConfig& config() const { return config_; }
  const Tenant* tenant_for_key(const Key32& key) const;
  const Tenant* tenant(const std::string& name) const;
  const DestinationPolicy& policy(const Tenant& tenant) const;
  const ServerConfig::Socks5User* socks5_user(const std::string& name) const;
  // The built-in rollup of big receivers with [smtp] providers added.
  const ProviderMap& providers() const { return providers_; }

 private:
  ServerConfig config_;
  std::map<Key32, const Tenant*> by_key_;
  std::map<std::string, const Tenant*> by_name_;
  std::map<std::string, std::unique_ptr<DestinationPolicy>> policies_;
  std::map<std::string, const ServerConfig::Socks5User*> users_;
  ProviderMap providers_;
};

}  // namespace mx
