// Helpers shared by the config parser tests: the fragments most test configs start
// from, parsing a text as server.toml or client.toml, and the errors of one that must
// be refused.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/config/base64_key.h"
#include "mxegress/config/client_config.h"
#include "mxegress/config/server_config.h"

#ifndef MX_SOURCE_DIR
#error "MX_SOURCE_DIR must name the repository root"
#endif

namespace mx::config_test {

// The documented example configs (config/ in the repository).
inline const std::filesystem::path kConfigDir = std::filesystem::path(MX_SOURCE_DIR) / "config";

// The whole text of the file at PATH.
inline std::string read_file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

using Errors = std::vector<std::string>;

// [server] with a listener, a certificate and a key: the head of a server config.
inline const std::string kServerHead = R"(
[server]
listen = ["0.0.0.0:8443"]
cert = "server.crt"
key = "server.key"
)";

// The tenant "acme" with one key, leaving from the address the kernel picks.
inline const std::string kAcmeTenant = R"(
[[tenant]]
name = "acme"
source = "any"
keys = ["ly0fJStabs86yFzaCd0dkUOBiB+fpVJs5iMQ3tZXtO4="]
)";

// [client] with its key and one pinned [[server]]: a client config but a front end.
inline const std::string kClientHead = R"(
[client]
key = "client.key"

[[server]]
address = "egress.example.net:8443"
pin = "sha256/fuy1r0XMTwhvctRf0hqV34LEBCvRcFrpG2uv95oI0nI="
)";

inline ConfigResult<ServerConfig> parse_server(std::string_view text) {
  return parse_server_config(text, "server.toml", "/etc/mxegress");
}

inline ConfigResult<ClientConfig> parse_client(std::string_view text) {
  return parse_client_config(text, "client.toml", "/etc/mxegress");
}

// The errors of RESULT, which must not be ok.
template <class Config>
Errors errors_of(const ConfigResult<Config>& result) {
  EXPECT_FALSE(result.ok());
  return result.errors;
}

// The errors of TEXT parsed as server.toml / client.toml; it must be refused.
inline Errors server_errors(std::string_view text) { return errors_of(parse_server(text)); }
inline Errors client_errors(std::string_view text) { return errors_of(parse_client(text)); }

// TEXT with the first occurrence of FROM replaced by TO (a failure if there is none).
inline std::string edit_text(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

inline Key32 key32(std::string_view base64) {
  std::string why;
  return *decode_base64_key32(base64, why);
}

inline std::vector<Cidr> cidrs(std::initializer_list<std::string_view> texts) {
  std::vector<Cidr> out;
  for (auto text : texts) out.push_back(*Cidr::parse(text));
  return out;
}

}  // namespace mx::config_test
