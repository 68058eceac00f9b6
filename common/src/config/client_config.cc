#include "mxegress/config/client_config.h"

#include <sodium.h>

#include <map>

#include "mxegress/config/config_file.h"
#include "mxegress/config/decoders.h"
#include "mxegress/config/duration.h"
#include "mxegress/config/keepalive.h"
#include "mxegress/config/resolver_config.h"
#include "mxegress/config/toml_reader.h"

namespace mx {
namespace {

using Server = ClientConfig::Server;
using Socks5User = ClientConfig::Socks5User;
using FailureAction = ClientConfig::FailureAction;

// A decoder for an integer in [min, max].
auto integer_in(int64_t min, int64_t max) {
  return [min, max](const toml::node& node, std::string& why) -> std::optional<uint32_t> {
    const std::string range = std::to_string(min) + ".." + std::to_string(max);
    const auto* number = node.as_integer();
    if (number == nullptr) {
      why = "expected an integer " + range + ", got " + describe_type(node);
      return std::nullopt;
    }
    const int64_t value = number->get();
    if (value < min || value > max) {
      why = "expected an integer " + range + ", got " + std::to_string(value);
      return std::nullopt;
    }
    return static_cast<uint32_t>(value);
  };
}

std::optional<FailureAction> failure_action(const toml::node& node, std::string& why) {
  const std::string expected =
      R"(expected "reset" (abortive close) or "421" (SMTP 421 reply, then close), got )";
  if (const auto* text = node.as_string()) {
    if (text->get() == "reset") return FailureAction::Reset;
    if (text->get() == "421") return FailureAction::Reply421;
    why = expected + quote(text->get());
  } else if (const auto* number = node.as_integer(); number && number->get() == 421) {
    why = expected + R"(the integer 421 (write it as a string: "421"))";
  } else {
    why = expected + describe_type(node);
  }
  return std::nullopt;
}

// Every address listened on, across [socks5], [transparent] and [[forward]]:
// each may be used once. Port 0 (the kernel picks a free port) never clashes.
class Listeners {
 public:
  // `index` is the position in a list, or nullopt for a single address.
  void add(TableReader& table, std::string_view key, std::optional<size_t> index,
           const SocketAddress& address) {
    std::string path = table.path_of(key);
    if (index) path += "[" + std::to_string(*index) + "]";
    if (address.port() != 0) {
      for (const auto& [earlier, earlier_path] : seen_) {
        if (earlier != address) continue;
        const std::string why = "repeats " + earlier_path;
        if (index) {
          table.error(key, *index, why);
        } else {
          table.error(key, why);
        }
        break;
      }
    }
    seen_.emplace_back(address, std::move(path));
  }

  void add_all(TableReader& table, std::string_view key,
               const std::vector<SocketAddress>& addresses) {
    for (size_t i = 0; i < addresses.size(); ++i) add(table, key, i, addresses[i]);
  }

 private:
  std::vector<std::pair<SocketAddress, std::string>> seen_;
};

// Hands back the node itself, for a key whose type decides how to read it.
std::optional<const toml::node*> any_node(const toml::node& node, std::string&) { return &node; }

// One "IP:port" string or a non-empty array of them.
// Each is registered with `listeners`.
bool read_listen_list(TableReader& table, std::string_view key, std::vector<SocketAddress>& out,
                      Listeners& listeners) {
  const toml::node* node = nullptr;
  if (!table.required(key, node, any_node)) return false;
  std::string why;
  if (const toml::array* array = node->as_array()) {
    if (array->empty()) {
      table.error(key, "must list at least one entry");
      return false;
    }
    std::vector<SocketAddress> addresses;
    for (size_t i = 0; i < array->size(); ++i) {
      if (auto address = decode::ip_port(*array->get(i), why)) {
        addresses.push_back(*address);
      } else {
        table.error(key, i, why);
      }
    }
    if (addresses.size() != array->size()) return false;
    listeners.add_all(table, key, addresses);
    out = std::move(addresses);
    return true;
  }
  if (!node->is_string()) {
    table.error(key, "expected IP:port or an array of them, got " + describe_type(*node));
    return false;
  }
  auto address = decode::ip_port(*node, why);
  if (!address) {
    table.error(key, why);
    return false;
  }
  listeners.add(table, key, std::nullopt, *address);
  out = {*address};
  return true;
}

ClientConfig::Client read_client(TableReader& table, const std::filesystem::path& base_dir) {
  ClientConfig::Client client;
  table.required("key", client.key_file, decode::file_path(base_dir));
  table.optional("log_level", client.log_level, decode::log_level);
  table.optional("log_format", client.log_format, decode::log_format);
  table.optional("handshake_timeout", client.handshake_timeout, decode::duration);
  table.optional("idle_timeout", client.idle_timeout, decode::duration);
  table.optional("drain_timeout", client.drain_timeout, decode::duration);
  read_keepalive(table, client.keepalive_interval, client.keepalive_timeout);
  table.optional("pool_idle_timeout", client.pool_idle_timeout, decode::duration);
  table.optional("retry_interval", client.retry_interval, decode::duration);
  table.optional("tcp_keepalive", client.tcp_keepalive, decode::tcp_keepalive);
  table.optional("tcp_user_timeout", client.tcp_user_timeout, decode::tcp_user_timeout);
  table.reject_unknown_keys();
  return client;
}

// `pin = "sha256/..."` is a list of one; `pins = [...]` lists the pins a
// certificate rotation needs (the old and the new). Not both.
void read_pins(TableReader& table, std::vector<Key32>& pins) {
  Key32 pin{};
  if (table.optional("pin", pin, decode::spki_pin)) pins = {pin};
  std::vector<Key32> listed;
  if (table.has("pins") && table.required("pins", listed, decode::spki_pin)) {
    reject_repeats(table, "pins", listed);
    pins = std::move(listed);
  }
  if (table.has("pin") && table.has("pins")) table.error("give either pin or pins, not both");
}

Server read_server(TableReader& table, const std::filesystem::path& base_dir) {
  Server server;
  table.required("address", server.address, decode::host_port);
  read_pins(table, server.pins);
  table.optional("ca", server.ca_file, decode::file_path(base_dir));
  table.optional("server_name", server.server_name, decode::string);
  table.optional("priority", server.priority, integer_in(0, 65535));
  table.optional("weight", server.weight, integer_in(1, 65535));
  const bool pool_ok =
      table.optional("pool", server.pool, integer_in(0, 1024)) || !table.has("pool");
  const bool pool_max_ok =
      table.optional("pool_max", server.pool_max, integer_in(0, 4096)) || !table.has("pool_max");
  table.optional("sessions_per_tunnel", server.sessions_per_tunnel, integer_in(1, 4096));
  table.reject_unknown_keys();

  if (pool_ok && pool_max_ok && server.pool_max < server.pool) {
    const std::string pool = std::to_string(server.pool);
    if (table.has("pool_max")) {
      table.error("pool_max",
                  "must be at least pool (" + pool + "); got " + std::to_string(server.pool_max));
    } else {
      table.error("pool_max", "is " + std::to_string(server.pool_max) +
                                  " by default, below pool (" + pool +
                                  "); set pool_max to at least " + pool);
    }
  }

  const bool pinned = table.has("pin") || table.has("pins");
  if (pinned && table.has("ca")) {
    table.error(std::string("give either ") + (table.has("pin") ? "pin" : "pins") +
                " or ca, not both");
  } else if (!pinned && !table.has("ca")) {
    table.error(
        R"(pin, pins or ca is required (pin = "sha256/..." for a self-signed server, ca = "FILE" for a CA-signed one))");
  }
  if (server.server_name.empty()) server.server_name = server.address.host;
  return server;
}

Socks5User read_socks5_user(TableReader& table) {
  Socks5User user;
  table.required("name", user.name, decode::socks5_user_name);
  table.required("password_hash", user.password_hash, decode::argon2id_hash);
  table.reject_unknown_keys();
  return user;
}

ClientConfig::Socks5 read_socks5(TableReader& table, Listeners& listeners) {
  ClientConfig::Socks5 socks5;
  if (table.required("listen", socks5.listen, decode::ip_port)) {
    listeners.add_all(table, "listen", socks5.listen);
  }
  std::map<std::string, std::string> path_by_name;
  for (TableReader& user_table : table.optional_tables("user")) {
    Socks5User user = read_socks5_user(user_table);
    if (user.name.empty()) continue;
    const auto [earlier, inserted] = path_by_name.emplace(user.name, user_table.path());
    if (!inserted)
      user_table.error("name", quote(user.name) + " is already used by " + earlier->second);
    socks5.users.push_back(std::move(user));
  }
  table.reject_unknown_keys();
  return socks5;
}

ClientConfig::Transparent read_transparent(TableReader& table, Listeners& listeners) {
  ClientConfig::Transparent transparent;
  read_listen_list(table, "listen", transparent.listen, listeners);
  table.optional("on_failure", transparent.on_failure, failure_action);
  table.reject_unknown_keys();
  return transparent;
}

ClientConfig::Forward read_forward(TableReader& table, Listeners& listeners) {
  ClientConfig::Forward forward;
  if (table.required("listen", forward.listen, decode::ip_port)) {
    listeners.add(table, "listen", std::nullopt, forward.listen);
  }
  table.required("target", forward.target, decode::host_port);
  table.optional("on_failure", forward.on_failure, failure_action);
  table.reject_unknown_keys();
  return forward;
}

ClientConfig read_client_config(TableReader& root, const std::filesystem::path& base_dir) {
  ClientConfig config;
  TableReader client = root.table("client");
  config.client = read_client(client, base_dir);
  for (TableReader& server : root.required_tables("server")) {
    config.servers.push_back(read_server(server, base_dir));
  }

  // The front ends: any of them, at least one.
  if (!root.has("socks5") && !root.has("transparent") && !root.has("forward")) {
    root.error(
        "at least one of [socks5], [transparent] or [[forward]] is required: nothing would "
        "accept connections");
  }
  Listeners listeners;
  if (root.has("socks5")) {
    TableReader socks5 = root.table("socks5");
    config.socks5 = read_socks5(socks5, listeners);
  }
  if (root.has("transparent")) {
    TableReader transparent = root.table("transparent");
    config.transparent = read_transparent(transparent, listeners);
  }
  if (root.has("forward")) {
    for (TableReader& forward : root.required_tables("forward")) {
      config.forwards.push_back(read_forward(forward, listeners));
    }
  }
  read_resolver(root, config.resolver);
  read_metrics(root, config.metrics);
  if (config.metrics.listen) {
    TableReader metrics = root.table("metrics");
    listeners.add(metrics, "listen", std::nullopt, *config.metrics.listen);
  }
  return config;
}

}  // namespace

ConfigResult<ClientConfig> parse_client_config(std::string_view toml_text,
                                               const std::string& source_name,
                                               const std::filesystem::path& base_dir) {
  return read_toml_config<ClientConfig>(toml_text, source_name, [&](TableReader& root) {
    return read_client_config(root, base_dir);
  });
}

ConfigResult<ClientConfig> load_client_config(const std::filesystem::path& path) {
  return load_config_file<ClientConfig>(path, parse_client_config);
}

std::vector<SocketAddress> listen_addresses(const ClientConfig& config) {
  std::vector<SocketAddress> addresses = config.socks5.listen;
  if (config.transparent) {
    addresses.insert(addresses.end(), config.transparent->listen.begin(),
                     config.transparent->listen.end());
  }
  for (const auto& forward : config.forwards) addresses.push_back(forward.listen);
  if (config.metrics.listen) addresses.push_back(*config.metrics.listen);
  return addresses;
}

}  // namespace mx
