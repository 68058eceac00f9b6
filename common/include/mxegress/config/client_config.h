// mxegress-client's configuration (config/client.toml; reference in
// docs/configuration.md).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/config/base64_key.h"
#include "mxegress/config/config_result.h"
#include "mxegress/config/log_level.h"
#include "mxegress/net/socket_address.h"

namespace mx {

struct ClientConfig {
  // [client]
  struct Client {
    std::filesystem::path key_file;  // Ed25519 private key
    LogLevel log_level = LogLevel::Info;
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds idle_timeout = std::chrono::minutes(10);
  };

  // [[server]]: how to reach and verify one mxegress-server.
  struct Server {
    HostPort address;
    // Exactly one of these two is set.
    std::optional<Key32> pin_sha256;               // SPKI SHA-256 of the server's key
    std::optional<std::filesystem::path> ca_file;  // CA bundle (PEM)
    // Name sent as SNI and, with ca_file, verified; defaults to address.host.
    std::string server_name;
  };

  // [[socks5.user]]: an RFC 1929 username and its password's Argon2id hash.
  struct Socks5User {
    std::string name;
    std::string password_hash;
  };

  // [socks5]
  struct Socks5 {
    std::vector<SocketAddress> listen;
    std::vector<Socks5User> users;  // empty: no authentication
  };

  Client client;
  std::vector<Server> servers;
  Socks5 socks5;
};

// `source_name` prefixes every error; relative file names resolve against base_dir.
ConfigResult<ClientConfig> parse_client_config(std::string_view toml_text,
                                               const std::string& source_name,
                                               const std::filesystem::path& base_dir);
ConfigResult<ClientConfig> load_client_config(const std::filesystem::path& path);

}  // namespace mx
