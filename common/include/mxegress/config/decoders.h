// Decoders for the value types the configuration files use, for TableReader.
// Each returns the value, or nullopt with `why` saying what is wrong in words
// an operator can act on.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "mxegress/config/base64_key.h"
#include "mxegress/config/log_level.h"
#include "mxegress/net/cidr.h"
#include "mxegress/net/socket_address.h"

namespace mx::decode {

// Any non-empty string.
std::optional<std::string> string(const toml::node& node, std::string& why);
std::optional<LogLevel> log_level(const toml::node& node, std::string& why);
std::optional<LogFormat> log_format(const toml::node& node, std::string& why);
// "500ms", "30s", "10m", "1h", "1d"; greater than zero.
std::optional<std::chrono::milliseconds> duration(const toml::node& node, std::string& why);
// The same, but "0s" is allowed: for the keys where 0 means off.
std::optional<std::chrono::milliseconds> duration_or_zero(const toml::node& node, std::string& why);
// tcp_keepalive: "0s" (off), or whole seconds from 1s to 32767s (TCP_KEEPIDLE's range).
std::optional<std::chrono::milliseconds> tcp_keepalive(const toml::node& node, std::string& why);
// tcp_user_timeout: "0s" (the kernel's default), or 1s to 24d (TCP_USER_TIMEOUT
// counts milliseconds in an int).
std::optional<std::chrono::milliseconds> tcp_user_timeout(const toml::node& node, std::string& why);
// "IP:port" for listeners: no names; port 0 lets the kernel choose.
std::optional<SocketAddress> ip_port(const toml::node& node, std::string& why);
// "host:port" where host may be a name; port 1..65535.
std::optional<HostPort> host_port(const toml::node& node, std::string& why);
std::optional<Cidr> cidr(const toml::node& node, std::string& why);
// An integer 1..65535.
std::optional<uint16_t> port(const toml::node& node, std::string& why);
// Base64 of 32 bytes.
std::optional<Key32> ed25519_public_key(const toml::node& node, std::string& why);
// "sha256/" + base64 of the 32-byte SHA-256 of the server's SubjectPublicKeyInfo.
std::optional<Key32> spki_pin(const toml::node& node, std::string& why);

// A decoder for file names: a non-empty string, made relative to `base_dir`
// unless absolute.
inline auto file_path(std::filesystem::path base_dir) {
  return [base_dir = std::move(base_dir)](
             const toml::node& node, std::string& why) -> std::optional<std::filesystem::path> {
    std::optional<std::string> name = string(node, why);
    if (!name) return std::nullopt;
    return base_dir / *name;  // operator/ keeps an absolute right-hand side as it is
  };
}

// An RFC 1929 username: 1 to 255 bytes (client and server SOCKS5 users).
std::optional<std::string> socks5_user_name(const toml::node& node, std::string& why);
// "$argon2id$...", as libsodium's crypto_pwhash_str makes it.
std::optional<std::string> argon2id_hash(const toml::node& node, std::string& why);

}  // namespace mx::decode
