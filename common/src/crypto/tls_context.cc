#include "mxegress/crypto/tls_context.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/tls1.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <utility>

#include "mxegress/crypto/private_key_mode.h"
#include "mxegress/crypto/tls_engine.h"

namespace mx {

void SslCtxDeleter::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};

constexpr std::string_view kPinPrefix = "sha256/";
constexpr size_t kPinBase64Length = 44;  // 32 bytes, padded

// What make_client_tls_context decided, kept on the SSL_CTX for the verify callback
// and for configure_client_connection. No pin means CA mode.
struct ClientContextState {
  std::vector<Sha256> pins;
  std::string server_name;
};

void free_client_state(void*, void* state, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<ClientContextState*>(state);
}

int client_state_index() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_client_state);
  return index;
}

const ClientContextState* client_state_of(const SSL_CTX* ctx) {
  return static_cast<const ClientContextState*>(SSL_CTX_get_ex_data(ctx, client_state_index()));
}

bool is_ip_literal(const std::string& name) {
  in6_addr address;
  return inet_pton(AF_INET, name.c_str(), &address) == 1 ||
         inet_pton(AF_INET6, name.c_str(), &address) == 1;
}

bool is_mxegress_alpn(const unsigned char* name, size_t length) {
  return std::string_view(reinterpret_cast<const char*>(name), length) == kAlpn;
}

SslCtxPtr new_tls13_context(const SSL_METHOD* method, std::string& err) {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) {
    err = "cannot create TLS context: " + take_openssl_error();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  // AES-128-GCM first: about 15% faster than AES-256-GCM here (openssl speed,
  // 16 KiB blocks), and bulk relaying is bound by the crypto (docs/performance.md).
  SSL_CTX_set_ciphersuites(ctx.get(),
                           "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                           "TLS_CHACHA20_POLY1305_SHA256");
  // Hands each connection's traffic secrets to its TlsEngine, for the record
  // layer that takes over after the handshake (tls13_record_layer.h).
  SSL_CTX_set_keylog_callback(ctx.get(), &TlsEngine::capture_traffic_secret);
  return ctx;
}

// A client that offers no ALPN at all never reaches the select callback, so it is
// refused here.
int require_alpn_offer(SSL* ssl, int* alert, void*) {
  const unsigned char* offer = nullptr;
  size_t offer_length = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &offer,
                                &offer_length) != 1) {
    *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
    ERR_raise(ERR_LIB_SSL, SSL_R_NO_APPLICATION_PROTOCOL);  // else the log says "callback failed"
    return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

// offered: the client's list of length-prefixed protocol names.
int select_mxegress_alpn(SSL*, const unsigned char** selected, unsigned char* selected_length,
                         const unsigned char* offered, unsigned int offered_length, void*) {
  for (unsigned int at = 0; at < offered_length;) {
    const unsigned int length = offered[at];
    if (at + 1 + length > offered_length) break;
    if (is_mxegress_alpn(offered + at + 1, length)) {
      *selected = offered + at + 1;
      *selected_length = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    at += 1 + length;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
}

// Replaces chain building entirely: the pins are the trust anchors, so issuer,
// expiry and names of a pinned certificate do not matter. TLS 1.3
// CertificateVerify still proves the server holds the pinned key.
int verify_pinned_certificate(X509_STORE_CTX* store, void* state_arg) {
  const auto* state = static_cast<const ClientContextState*>(state_arg);
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  if (leaf != nullptr && pin_matches(state->pins, spki_sha256(leaf))) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

bool offer_mxegress_alpn(SSL_CTX* ctx) {
  std::string wire;
  wire.push_back(static_cast<char>(kAlpn.size()));
  wire.append(kAlpn);
  return SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                 static_cast<unsigned int>(wire.size())) == 0;
}

bool set_host_check(SSL* ssl, const std::string& name) {
  if (is_ip_literal(name)) {
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, name.c_str()) == 1;
}

}  // namespace

std::string take_openssl_error() {
  std::string text;
  if (const unsigned long code = ERR_get_error(); code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

SslCtxPtr make_server_tls_context(const std::filesystem::path& cert,
                                  const std::filesystem::path& key, std::string& err) {
  SslCtxPtr ctx = new_tls13_context(TLS_server_method(), err);
  if (!ctx) return nullptr;
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1) {
    err = "cannot load certificate " + cert.string() + ": " + take_openssl_error();
    return nullptr;
  }
  if (err = private_key_file_error(key); !err.empty()) return nullptr;
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
    err = "cannot load private key " + key.string() + " (for certificate " + cert.string() +
          "): " + take_openssl_error();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    err = "private key " + key.string() + " does not match certificate " + cert.string() + ": " +
          take_openssl_error();
    return nullptr;
  }
  SSL_CTX_set_client_hello_cb(ctx.get(), require_alpn_offer, nullptr);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_mxegress_alpn, nullptr);
  // Clients keep tunnels open in a warm pool and reuse them rather than resuming
  // sessions, so tickets would only cost a message per handshake. Resumption can be
  // turned on later without a protocol change.
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  return ctx;
}

SslCtxPtr make_client_tls_context(const ServerVerification& verification, std::string& err) {
  const bool has_ca = !verification.ca_file.empty();
  if (verification.pins.empty() != has_ca) {
    err = "server verification needs exactly one of pins or a CA file";
    return nullptr;
  }
  if (has_ca && verification.server_name.empty()) {
    err = "CA verification needs the server name to check the certificate against";
    return nullptr;
  }
  SslCtxPtr ctx = new_tls13_context(TLS_client_method(), err);
  if (!ctx) return nullptr;
  auto* state = new ClientContextState{verification.pins, verification.server_name};
  if (SSL_CTX_set_ex_data(ctx.get(), client_state_index(), state) != 1) {
    delete state;
    err = "cannot attach verification state: " + take_openssl_error();
    return nullptr;
  }
  if (!offer_mxegress_alpn(ctx.get())) {
    err = "cannot set ALPN: " + take_openssl_error();
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (!state->pins.empty()) {
    SSL_CTX_set_cert_verify_callback(ctx.get(), verify_pinned_certificate, state);
  } else if (SSL_CTX_load_verify_locations(ctx.get(), verification.ca_file.c_str(), nullptr) != 1) {
    err = "cannot load CA file " + verification.ca_file.string() + ": " + take_openssl_error();
    return nullptr;
  }
  return ctx;
}

bool configure_client_connection(SSL* ssl, std::string_view server_name, std::string& err) {
  const ClientContextState* state = client_state_of(SSL_get_SSL_CTX(ssl));
  std::string name(server_name);
  if (name.empty() && state != nullptr) name = state->server_name;
  if (!name.empty() && !is_ip_literal(name) && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    err = "invalid server name '" + name + "': " + take_openssl_error();
    return false;
  }
  const bool verifies_with_ca = state != nullptr && state->pins.empty();
  if (!verifies_with_ca) return true;
  if (name.empty()) {
    err = "CA verification needs a server name";
    return false;
  }
  if (!set_host_check(ssl, name)) {
    err = "cannot set the expected server name '" + name + "': " + take_openssl_error();
    return false;
  }
  return true;
}

bool pin_matches(std::span<const Sha256> pins, const Sha256& presented) {
  bool found = false;
  for (const Sha256& pin : pins) {
    found |= CRYPTO_memcmp(pin.data(), presented.data(), pin.size()) == 0;
  }
  return found;
}

size_t client_pin_count(const SSL_CTX* ctx) {
  const ClientContextState* state = client_state_of(ctx);
  return state != nullptr ? state->pins.size() : 0;
}

Sha256 spki_sha256(X509* cert) {
  Sha256 digest{};
  unsigned char* der = nullptr;
  const int der_length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (der_length > 0) {
    EVP_Digest(der, static_cast<size_t>(der_length), digest.data(), nullptr, EVP_sha256(), nullptr);
  }
  OPENSSL_free(der);
  return digest;
}

std::string format_pin(const Sha256& pin) {
  unsigned char base64[kPinBase64Length + 1];
  EVP_EncodeBlock(base64, pin.data(), static_cast<int>(pin.size()));
  return std::string(kPinPrefix) + reinterpret_cast<const char*>(base64);
}

std::optional<Sha256> parse_pin(std::string_view text) {
  if (!text.starts_with(kPinPrefix)) return std::nullopt;
  const std::string_view base64 = text.substr(kPinPrefix.size());
  if (base64.size() != kPinBase64Length) return std::nullopt;
  unsigned char decoded[kPinBase64Length];  // EVP_DecodeBlock counts the padding as bytes
  if (EVP_DecodeBlock(decoded, reinterpret_cast<const unsigned char*>(base64.data()),
                      static_cast<int>(base64.size())) < static_cast<int>(Sha256{}.size())) {
    return std::nullopt;
  }
  Sha256 pin;
  std::copy_n(decoded, pin.size(), pin.begin());
  // Only the canonical spelling is a pin: this rejects stray bits and misplaced '='.
  if (format_pin(pin) != text) return std::nullopt;
  return pin;
}

std::optional<Sha256> pin_of_certificate_file(const std::filesystem::path& pem, std::string& err) {
  std::unique_ptr<BIO, BioDeleter> file(BIO_new_file(pem.c_str(), "r"));
  if (!file) {
    err = "cannot open certificate " + pem.string() + ": " + take_openssl_error();
    return std::nullopt;
  }
  std::unique_ptr<X509, X509Deleter> cert(PEM_read_bio_X509(file.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    err = "cannot read a PEM certificate from " + pem.string() + ": " + take_openssl_error();
    return std::nullopt;
  }
  return spki_sha256(cert.get());
}

}  // namespace mx
