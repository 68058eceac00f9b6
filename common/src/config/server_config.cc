#include "mxegress/config/server_config.h"

#include <map>

#include "mxegress/config/config_file.h"
#include "mxegress/config/decoders.h"
#include "mxegress/config/toml_reader.h"

namespace mx {
namespace {

using Tenant = ServerConfig::Tenant;

bool is_tenant_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> tenant_name(const toml::node& node, std::string& why) {
  auto name = decode::string(node, why);
  if (name && !is_tenant_name(*name)) {
    why = quote(*name) + " is not a tenant name (1 to 64 of A-Z a-z 0-9 . _ -)";
    return std::nullopt;
  }
  return name;
}

ServerConfig::Server read_server(TableReader& table, const std::filesystem::path& base_dir) {
  ServerConfig::Server server;
  if (table.required("listen", server.listen, decode::ip_port)) {
    reject_repeats(table, "listen", server.listen);
  }
  table.required("cert", server.cert_file, decode::file_path(base_dir));
  table.required("key", server.key_file, decode::file_path(base_dir));
  table.optional("log_level", server.log_level, decode::log_level);
  table.optional("handshake_timeout", server.handshake_timeout, decode::duration);
  table.optional("connect_timeout", server.connect_timeout, decode::duration);
  table.optional("idle_timeout", server.idle_timeout, decode::duration);
  table.reject_unknown_keys();
  return server;
}

ServerConfig::Policy read_policy(TableReader& table) {
  ServerConfig::Policy policy;
  table.optional("ports", policy.ports, decode::port);
  table.optional("allow", policy.allow, decode::cidr);
  table.optional("deny", policy.deny, decode::cidr);
  table.reject_unknown_keys();
  return policy;
}

Tenant read_tenant(TableReader& table) {
  Tenant tenant;
  table.required("name", tenant.name, tenant_name);
  table.required("keys", tenant.keys, decode::ed25519_public_key);
  table.reject_unknown_keys();
  return tenant;
}

// Tenant names are unique, and a key belongs to one tenant only: the key is
// how the server tells tenants apart.
class TenantUniqueness {
 public:
  void check(TableReader& table, const Tenant& tenant) {
    if (!tenant.name.empty()) {
      const auto [earlier, inserted] = path_by_name_.emplace(tenant.name, table.path());
      if (!inserted) {
        table.error("name", quote(tenant.name) + " is already used by " + earlier->second);
      }
    }
    for (size_t i = 0; i < tenant.keys.size(); ++i) {
      const std::string path = table.path_of("keys") + "[" + std::to_string(i) + "]";
      const auto [earlier, inserted] = path_by_key_.emplace(tenant.keys[i], path);
      if (!inserted) table.error("keys", i, "key is already listed at " + earlier->second);
    }
  }

 private:
  std::map<std::string, std::string> path_by_name_;
  std::map<Key32, std::string> path_by_key_;
};

ServerConfig read_server_config(TableReader& root, const std::filesystem::path& base_dir) {
  ServerConfig config;
  TableReader server = root.table("server");
  config.server = read_server(server, base_dir);
  TableReader policy = root.table("policy");
  config.policy = read_policy(policy);
  TenantUniqueness uniqueness;
  for (TableReader& table : root.required_tables("tenant")) {
    Tenant tenant = read_tenant(table);
    uniqueness.check(table, tenant);
    config.tenants.push_back(std::move(tenant));
  }
  return config;
}

}  // namespace

ConfigResult<ServerConfig> parse_server_config(std::string_view toml_text,
                                               const std::string& source_name,
                                               const std::filesystem::path& base_dir) {
  return read_toml_config<ServerConfig>(toml_text, source_name, [&](TableReader& root) {
    return read_server_config(root, base_dir);
  });
}

ConfigResult<ServerConfig> load_server_config(const std::filesystem::path& path) {
  return load_config_file<ServerConfig>(path, parse_server_config);
}

}  // namespace mx
