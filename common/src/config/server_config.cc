#include "mxegress/config/server_config.h"

#include <map>
#include <set>

#include "mxegress/config/config_file.h"
#include "mxegress/config/decoders.h"
#include "mxegress/config/keepalive.h"
#include "mxegress/config/server_decoders.h"
#include "mxegress/config/toml_reader.h"

namespace mx {
namespace {

using Tenant = ServerConfig::Tenant;
using Socks5User = ServerConfig::Socks5User;
using SourceSelection = ServerConfig::SourceSelection;

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

std::optional<SourceSelection> source_selection(const toml::node& node, std::string& why) {
  auto text = decode::string(node, why);
  if (!text) return std::nullopt;
  if (*text == "round-robin") return SourceSelection::RoundRobin;
  if (*text == "least-used") return SourceSelection::LeastUsed;
  why = R"(expected "round-robin" or "least-used", got )" + quote(*text);
  return std::nullopt;
}

std::optional<ServerConfig::OnSuspect> on_suspect(const toml::node& node, std::string& why) {
  auto text = decode::string(node, why);
  if (!text) return std::nullopt;
  if (*text == "report") return ServerConfig::OnSuspect::Report;
  if (*text == "avoid") return ServerConfig::OnSuspect::Avoid;
  why = R"(expected "report" or "avoid", got )" + quote(*text);
  return std::nullopt;
}

// Whether `key` holds a value `is(node)` is true of, found without reporting
// anything (a later read of the key reports its problems).
template <class Is>
bool key_is(TableReader& table, std::string_view key, Is is) {
  bool result = false;
  table.optional(key, result, [&](const toml::node& node, std::string&) -> std::optional<bool> {
    return is(node);
  });
  return result;
}

ServerConfig::Server read_server(TableReader& table, const std::filesystem::path& base_dir) {
  ServerConfig::Server server;
  if (table.required("listen", server.listen, decode::ip_port)) {
    reject_repeats(table, "listen", server.listen);
  }
  table.required("cert", server.cert_file, decode::file_path(base_dir));
  table.required("key", server.key_file, decode::file_path(base_dir));
  table.optional("log_level", server.log_level, decode::log_level);
  table.optional("log_format", server.log_format, decode::log_format);
  table.optional("handshake_timeout", server.handshake_timeout, decode::duration);
  table.optional("connect_timeout", server.connect_timeout, decode::duration);
  table.optional("idle_timeout", server.idle_timeout, decode::duration);
  table.optional("drain_timeout", server.drain_timeout, decode::duration);
  table.optional("threads", server.threads, decode::thread_count);
  read_keepalive(table, server.keepalive_interval, server.keepalive_timeout);
  table.optional("tcp_keepalive", server.tcp_keepalive, decode::tcp_keepalive);
  table.optional("tcp_user_timeout", server.tcp_user_timeout, decode::tcp_user_timeout);
  table.optional("max_unauthenticated", server.max_unauthenticated, decode::limit_count);
  table.optional("max_unauthenticated_per_address", server.max_unauthenticated_per_address,
                 decode::limit_count);
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

// `source` is required: a tenant without one would leave from whatever
// address the kernel picks, which an operator rarely means. "any" says so.
void read_tenant_source(TableReader& table, Tenant& tenant) {
  constexpr std::string_view kHow =
      R"(list the tenant's source addresses (source = ["192.0.2.10"]), or write source = "any" to let the kernel pick the address)";
  const toml::node* node = table.peek("source");
  if (node == nullptr) {
    table.error("source", "required key is missing for tenant " + quote(tenant.name) + ": " +
                              std::string(kHow));
  } else if (node->is_string()) {
    std::string word;
    if (table.optional("source", word, decode::string) && word != "any") {
      table.error("source", quote(word) + " is neither a list nor \"any\": " + std::string(kHow));
    }
  } else if (table.optional("source", tenant.source, decode::ip_address)) {
    reject_repeats(table, "source", tenant.source);
  }
}

// `defaults` is [policy]: each of ports, allow and deny the tenant leaves out
// is taken from it.
Tenant read_tenant(TableReader& table, const ServerConfig::Policy& defaults) {
  Tenant tenant;
  tenant.policy = defaults;
  table.required("name", tenant.name, tenant_name);
  table.required("keys", tenant.keys, decode::ed25519_public_key);
  table.optional("enabled", tenant.enabled, decode::boolean);
  read_tenant_source(table, tenant);
  table.optional("source_selection", tenant.source_selection, source_selection);
  table.optional("ports", tenant.policy.ports, decode::port);
  table.optional("allow", tenant.policy.allow, decode::cidr);
  table.optional("deny", tenant.policy.deny, decode::cidr);
  table.optional("max_connections", tenant.limits.max_connections, decode::limit_count);
  table.optional("connections_per_minute", tenant.limits.connections_per_minute,
                 decode::limit_count);
  table.optional("max_per_destination", tenant.limits.max_per_destination, decode::limit_count);
  table.optional("bytes_per_day", tenant.limits.bytes_per_day, decode::byte_size);
  table.optional("tunnel_from", tenant.tunnel_from, decode::cidr);
  table.optional("domain", tenant.domain, decode::domain_name);
  table.optional("on_suspect", tenant.on_suspect, on_suspect);
  tenant.warmup = read_warmups(table, tenant.source, tenant.name);
  table.reject_unknown_keys();
  return tenant;
}

std::optional<ServerConfig::Trail::OnError> on_trail_error(const toml::node& node,
                                                           std::string& why) {
  auto text = decode::string(node, why);
  if (!text) return std::nullopt;
  if (*text == "refuse") return ServerConfig::Trail::OnError::Refuse;
  if (*text == "continue") return ServerConfig::Trail::OnError::Continue;
  why = R"(expected "refuse" or "continue", got )" + quote(*text);
  return std::nullopt;
}

ServerConfig::Trail read_trail(TableReader& table, const std::filesystem::path& base_dir) {
  ServerConfig::Trail trail;
  table.optional("file", trail.file, decode::file_path(base_dir));
  table.optional("stdout", trail.to_stdout, decode::boolean);
  table.optional("on_trail_error", trail.on_error, on_trail_error);
  table.optional("backlog", trail.backlog, decode::byte_size);
  table.reject_unknown_keys();
  return trail;
}

constexpr std::string_view kWhyFrom =
    R"(the password travels in clear, so pin this user to the addresses of the gateways that use it (e.g. from = ["10.0.0.0/24"]))";

Socks5User read_socks5_user(TableReader& table, const std::set<std::string, std::less<>>& tenants) {
  Socks5User user;
  table.required("name", user.name, decode::socks5_user_name);
  table.required("password_hash", user.password_hash, decode::argon2id_hash);
  if (table.required("tenant", user.tenant, decode::string) && !tenants.contains(user.tenant)) {
    table.error("tenant", "no [[tenant]] is named " + quote(user.tenant));
  }
  if (!table.has("from")) {
    table.error("from", "required key is missing: " + std::string(kWhyFrom));
  } else if (table.optional("from", user.from, decode::cidr) && user.from.empty()) {
    table.error("from", "must list at least one CIDR: " + std::string(kWhyFrom));
  }
  table.reject_unknown_keys();
  return user;
}

// [socks5] on the server: optional, but when present it must listen somewhere
// and have users, since without users it would be an open proxy.
ServerConfig::Socks5 read_socks5(TableReader& root, const ServerConfig& config) {
  ServerConfig::Socks5 socks5;
  if (!root.has("socks5")) return socks5;
  const bool is_table =
      key_is(root, "socks5", [](const toml::node& node) { return node.is_table(); });
  TableReader table = root.table("socks5");  // reports a socks5 that is not a table
  if (!is_table) return socks5;

  if (table.required("listen", socks5.listen, decode::ip_port)) {
    reject_repeats(table, "listen", socks5.listen);
    for (size_t i = 0; i < socks5.listen.size(); ++i) {
      for (size_t j = 0; j < config.server.listen.size(); ++j) {
        if (socks5.listen[i].port() != 0 && socks5.listen[i] == config.server.listen[j]) {
          table.error("listen", i, "is also server.listen[" + std::to_string(j) + "]");
          break;
        }
      }
    }
  }

  table.optional("password_workers", socks5.password_workers, decode::worker_count);
  table.optional("max_password_checks", socks5.max_password_checks, decode::limit_count);
  table.optional("max_password_checks_per_address", socks5.max_password_checks_per_address,
                 decode::limit_count);
  table.optional("login_failures", socks5.login_failures, decode::limit_count);
  table.optional("login_backoff", socks5.login_backoff, decode::duration);

  std::set<std::string, std::less<>> tenants;
  for (const Tenant& tenant : config.tenants) tenants.insert(tenant.name);
  std::map<std::string, std::string> path_by_name;
  for (TableReader& user_table : table.optional_tables("user")) {
    Socks5User user = read_socks5_user(user_table, tenants);
    if (!user.name.empty()) {
      const auto [earlier, inserted] = path_by_name.emplace(user.name, user_table.path());
      if (!inserted) {
        user_table.error("name", quote(user.name) + " is already used by " + earlier->second);
      }
    }
    socks5.users.push_back(std::move(user));
  }
  const bool user_is_empty_list = key_is(table, "user", [](const toml::node& node) {
    return node.is_array() && node.as_array()->empty();
  });
  if (!table.has("user") || user_is_empty_list) {
    table.error("user",
                "at least one [[socks5.user]] section is required: a SOCKS5 listener on the "
                "server without users would be an open proxy (remove [socks5] for no listener)");
  }
  table.reject_unknown_keys();
  return socks5;
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

// The metrics listener may not take an address a tunnel or SOCKS5 listener has.
void reject_metrics_clash(TableReader& root, const ServerConfig& config) {
  if (!config.metrics.listen) return;
  const SocketAddress& metrics = *config.metrics.listen;
  auto clash = [&](const std::vector<SocketAddress>& listen, const std::string& key) {
    for (size_t i = 0; i < listen.size(); ++i) {
      if (listen[i] != metrics) continue;
      TableReader table = root.table("metrics");
      table.error("listen", "is also " + key + "[" + std::to_string(i) + "]");
      return true;
    }
    return false;
  };
  if (!clash(config.server.listen, "server.listen")) clash(config.socks5.listen, "socks5.listen");
}

ServerConfig read_server_config(TableReader& root, const std::filesystem::path& base_dir) {
  ServerConfig config;
  TableReader server = root.table("server");
  config.server = read_server(server, base_dir);
  TableReader policy = root.table("policy");
  config.policy = read_policy(policy);
  TenantUniqueness uniqueness;
  for (TableReader& table : root.required_tables("tenant")) {
    Tenant tenant = read_tenant(table, config.policy);
    uniqueness.check(table, tenant);
    config.tenants.push_back(std::move(tenant));
  }
  TableReader trail = root.table("trail");
  config.trail = read_trail(trail, base_dir);
  config.socks5 = read_socks5(root, config);
  read_resolver(root, config.resolver);
  read_metrics(root, config.metrics);
  read_fleet(root, config.fleet);
  read_smtp(root, config.smtp);
  reject_metrics_clash(root, config);
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

std::vector<SocketAddress> listen_addresses(const ServerConfig& config) {
  std::vector<SocketAddress> addresses = config.server.listen;
  addresses.insert(addresses.end(), config.socks5.listen.begin(), config.socks5.listen.end());
  if (config.metrics.listen) addresses.push_back(*config.metrics.listen);
  return addresses;
}

}  // namespace mx
