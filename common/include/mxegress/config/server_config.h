// mxegress-server's configuration (config/server.toml; reference in
// docs/configuration.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/config/base64_key.h"
#include "mxegress/config/config_result.h"
#include "mxegress/config/log_level.h"
#include "mxegress/net/cidr.h"
#include "mxegress/net/socket_address.h"

namespace mx {

struct ServerConfig {
  // [server]
  struct Server {
    std::vector<SocketAddress> listen;
    std::filesystem::path cert_file;  // PEM certificate (chain)
    std::filesystem::path key_file;   // PEM private key
    LogLevel log_level = LogLevel::Info;
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(30);
    std::chrono::milliseconds idle_timeout = std::chrono::minutes(10);
  };

  // [policy]: applies to every tenant. Build the destination check with
  // DestinationFilter(policy.deny, policy.allow).
  struct Policy {
    std::vector<uint16_t> ports = {25};  // destination ports allowed
    std::vector<Cidr> allow;             // exempt from the built-in deny-list
    std::vector<Cidr> deny;              // always denied, whatever `allow` says
  };

  // [[tenant]]
  struct Tenant {
    std::string name;         // unique, [A-Za-z0-9._-]{1,64}
    std::vector<Key32> keys;  // Ed25519 public keys; each belongs to one tenant only
  };

  Server server;
  Policy policy;
  std::vector<Tenant> tenants;
};

// `source_name` prefixes every error; relative file names resolve against base_dir.
ConfigResult<ServerConfig> parse_server_config(std::string_view toml_text,
                                               const std::string& source_name,
                                               const std::filesystem::path& base_dir);
ConfigResult<ServerConfig> load_server_config(const std::filesystem::path& path);

}  // namespace mx
