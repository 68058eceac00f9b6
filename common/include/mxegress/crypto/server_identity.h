// `mxegress-server init DIR`: the server's key and self-signed certificate, whose
// SPKI pin clients put in their configuration.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace mx {

inline constexpr const char* kServerKeyFile = "server.key";
inline constexpr const char* kServerCertFile = "server.crt";

// Writes DIR/server.key (ECDSA P-256, PKCS#8 PEM, mode 0600) and DIR/server.crt
// (self-signed, valid 10 years, subject CN and one SAN = common_name: an IP SAN for an
// IP literal, else a DNS SAN). Creates DIR if missing (create_key_directory). Refuses to overwrite
// either file. Returns the pin ("sha256/<base64>"), or nullopt with err set.
std::optional<std::string> write_server_identity(const std::filesystem::path& dir,
                                                 const std::string& common_name, std::string& err);

}  // namespace mx
