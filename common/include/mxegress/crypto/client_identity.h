// Ed25519 tenant identities (libsodium) and the tunnel AUTH signature, which is
// bound to one TLS session through exported keying material.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mx {

using PublicKey = std::array<uint8_t, 32>;

struct ClientIdentity {
  ~ClientIdentity();  // zeroes secret_key
  PublicKey public_key;
  std::array<uint8_t, 64> secret_key;  // libsodium layout: seed || public key
};

// Standard base64 with padding, 44 characters, as WireGuard spells its keys.
std::string encode_key(const PublicKey& key);
std::optional<PublicKey> decode_key(std::string_view text);

// Key file: one line "<base64 of the 32-byte seed>\n", mode 0600. Generating
// refuses to overwrite and creates a missing directory (create_key_directory). Loading refuses a
// file that group or others may access.
std::optional<ClientIdentity> generate_key_file(const std::filesystem::path& path,
                                                std::string& err);
std::optional<ClientIdentity> load_key_file(const std::filesystem::path& path, std::string& err);

inline constexpr std::string_view kAuthExporterLabel = "EXPORTER-mxegress-auth";
inline constexpr std::string_view kAuthContext = "mxegress/2 tunnel auth";  // domain separation

// Ed25519 over kAuthContext || 0x00 || exporter, where exporter is 32 bytes of
// TlsEngine::export_keying_material(kAuthExporterLabel) of this connection.
std::array<uint8_t, 64> sign_auth(const ClientIdentity& identity,
                                  std::span<const uint8_t, 32> exporter);
bool verify_auth(const PublicKey& key, std::span<const uint8_t, 32> exporter,
                 std::span<const uint8_t, 64> signature);

}  // namespace mx
