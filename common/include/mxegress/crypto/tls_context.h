// TLS contexts for the tunnel: TLS 1.3 only, ALPN mxegress/1, and on the client
// either an SPKI pin or CA verification of the server. No I/O happens here.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mx {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const;
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

inline constexpr std::string_view kAlpn = "mxegress/2";

using Sha256 = std::array<uint8_t, 32>;

// Server: TLS 1.3 only; a client that offers no ALPN or not mxegress/1 fails the
// handshake with no_application_protocol. cert may hold a chain (leaf first).
// Returns nullptr and sets err (file + OpenSSL reason) on failure, including a key
// that does not match the certificate.
SslCtxPtr make_server_tls_context(const std::filesystem::path& cert,
                                  const std::filesystem::path& key, std::string& err);

// Exactly one of pins (one or more) / ca_file. Several pins let a server's
// certificate be rotated without a flag day (docs/rotation.md). With ca_file,
// server_name is the host name the certificate must match (a TlsEngine may
// override it per connection).
// The defaults let callers use designated initializers: {.pins = {pin}}.
struct ServerVerification {
  std::vector<Sha256> pins = {};
  std::filesystem::path ca_file = {};
  std::string server_name = {};
};

// Client: TLS 1.3 only, offers ALPN mxegress/1 (TlsEngine fails the connection if
// the server did not select it). Pins: the leaf's SPKI SHA-256 must equal one of
// them (pin_matches), nothing else is checked. CA: chain verification plus host
// name check. A mismatch fails the handshake before the client sends any
// application data.
SslCtxPtr make_client_tls_context(const ServerVerification& verification, std::string& err);

// The pin check, and the only one: whether `presented` (a leaf's SPKI SHA-256)
// is one of `pins`. Each comparison takes constant time.
bool pin_matches(std::span<const Sha256> pins, const Sha256& presented);
// How many pins a context made by make_client_tls_context trusts (0: CA mode, or
// another context), for the mismatch message.
size_t client_pin_count(const SSL_CTX* ctx);

// Per-connection half of make_client_tls_context, used by TlsEngine: sets SNI (not for
// IP literals) and, for a CA-verifying context, the name or address the certificate
// must match: server_name, else the context's. Contexts not made by
// make_client_tls_context get SNI only.
bool configure_client_connection(SSL* ssl, std::string_view server_name, std::string& err);

// SHA-256 of the DER SubjectPublicKeyInfo (the HPKP pin). cert must not be null.
Sha256 spki_sha256(X509* cert);
std::string format_pin(const Sha256& pin);  // "sha256/<base64>"
std::optional<Sha256> parse_pin(std::string_view text);
std::optional<Sha256> pin_of_certificate_file(const std::filesystem::path& pem, std::string& err);

// The first error on the OpenSSL error queue as text ("" if none); clears the queue.
std::string take_openssl_error();

}  // namespace mx
