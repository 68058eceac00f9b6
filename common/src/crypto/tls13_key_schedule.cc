#include "mxegress/crypto/tls13_key_schedule.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <array>
#include <cstring>
#include <memory>

namespace mx {
namespace {

struct KdfDeleter {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
};
struct KdfContextDeleter {
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};

const char* digest_name(Tls13Suite suite) {
  return suite == Tls13Suite::Aes256GcmSha384 ? "SHA384" : "SHA256";
}

}  // namespace

std::optional<Tls13Suite> tls13_suite_from_id(uint16_t id) {
  switch (id) {
    case 0x1301:
      return Tls13Suite::Aes128GcmSha256;
    case 0x1302:
      return Tls13Suite::Aes256GcmSha384;
    case 0x1303:
      return Tls13Suite::Chacha20Poly1305Sha256;
    default:
      return std::nullopt;
  }
}

size_t tls13_hash_length(Tls13Suite suite) {
  return suite == Tls13Suite::Aes256GcmSha384 ? 48 : 32;
}

size_t tls13_key_length(Tls13Suite suite) { return suite == Tls13Suite::Aes128GcmSha256 ? 16 : 32; }

SecretBytes hkdf_expand_label(Tls13Suite suite, ByteView secret, std::string_view label,
                              size_t length) {
  // struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; }
  constexpr std::string_view kPrefix = "tls13 ";
  std::array<uint8_t, 2 + 1 + 255 + 1> info{};
  if (kPrefix.size() + label.size() > 255) return {};
  size_t at = 0;
  info[at++] = static_cast<uint8_t>(length >> 8);
  info[at++] = static_cast<uint8_t>(length);
  info[at++] = static_cast<uint8_t>(kPrefix.size() + label.size());
  for (const std::string_view piece : {kPrefix, label}) {
    std::memcpy(info.data() + at, piece.data(), piece.size());
    at += piece.size();
  }
  info[at++] = 0;  // empty context

  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return {};
  std::unique_ptr<EVP_KDF_CTX, KdfContextDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return {};
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest_name(suite)),
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), at),
      OSSL_PARAM_construct_end(),
  };
  SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) return {};
  return out;
}

std::optional<Tls13TrafficKeys> tls13_traffic_keys(Tls13Suite suite, ByteView secret) {
  Tls13TrafficKeys keys{hkdf_expand_label(suite, secret, "key", tls13_key_length(suite)),
                        hkdf_expand_label(suite, secret, "iv", kTls13IvLength)};
  if (keys.key.empty() || keys.iv.empty()) return std::nullopt;
  return keys;
}

SecretBytes tls13_next_traffic_secret(Tls13Suite suite, ByteView secret) {
  return hkdf_expand_label(suite, secret, "traffic upd", tls13_hash_length(suite));
}

}  // namespace mx
