#include "mxegress/config/client_config.h"

#include <sodium.h>

#include <map>

#include "mxegress/config/config_file.h"
#include "mxegress/config/decoders.h"
#include "mxegress/config/toml_reader.h"

namespace mx {
namespace {

using Server = ClientConfig::Server;
using Socks5User = ClientConfig::Socks5User;

std::optional<std::string> socks5_user_name(const toml::node& node, std::string& why) {
  auto name = decode::string(node, why);
  if (name && name->size() > 255) {
    why = "is longer than 255 bytes, the RFC 1929 limit";
    return std::nullopt;
  }
  return name;
}

std::optional<std::string> argon2id_hash(const toml::node& node, std::string& why) {
  auto hash = decode::string(node, why);
  if (!hash) return std::nullopt;
  if (!hash->starts_with("$argon2id$") || hash->size() >= crypto_pwhash_STRBYTES) {
    why = R"(expected an Argon2id hash (a string starting with "$argon2id$"))";
    return std::nullopt;
  }
  return hash;
}

ClientConfig::Client read_client(TableReader& table, const std::filesystem::path& base_dir) {
  ClientConfig::Client client;
  table.required("key", client.key_file, decode::file_path(base_dir));
  table.optional("log_level", client.log_level, decode::log_level);
  table.optional("handshake_timeout", client.handshake_timeout, decode::duration);
  table.optional("idle_timeout", client.idle_timeout, decode::duration);
  table.reject_unknown_keys();
  return client;
}

Server read_server(TableReader& table, const std::filesystem::path& base_dir) {
  Server server;
  table.required("address", server.address, decode::host_port);
  table.optional("pin", server.pin_sha256, decode::spki_pin);
  table.optional("ca", server.ca_file, decode::file_path(base_dir));
  table.optional("server_name", server.server_name, decode::string);
  table.reject_unknown_keys();

  if (table.has("pin") && table.has("ca")) {
    table.error("give either pin or ca, not both");
  } else if (!table.has("pin") && !table.has("ca")) {
    table.error(
        R"(pin or ca is required (pin = "sha256/..." for a self-signed server, ca = "FILE" for a CA-signed one))");
  }
  if (server.server_name.empty()) server.server_name = server.address.host;
  return server;
}

Socks5User read_socks5_user(TableReader& table) {
  Socks5User user;
  table.required("name", user.name, socks5_user_name);
  table.required("password_hash", user.password_hash, argon2id_hash);
  table.reject_unknown_keys();
  return user;
}

ClientConfig::Socks5 read_socks5(TableReader& table) {
  ClientConfig::Socks5 socks5;
  if (table.required("listen", socks5.listen, decode::ip_port)) {
    reject_repeats(table, "listen", socks5.listen);
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

ClientConfig read_client_config(TableReader& root, const std::filesystem::path& base_dir) {
  ClientConfig config;
  TableReader client = root.table("client");
  config.client = read_client(client, base_dir);
  for (TableReader& server : root.required_tables("server")) {
    config.servers.push_back(read_server(server, base_dir));
  }
  TableReader socks5 = root.table("socks5");
  config.socks5 = read_socks5(socks5);
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

}  // namespace mx
