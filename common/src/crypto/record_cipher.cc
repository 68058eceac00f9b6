#include "mxegress/crypto/record_cipher.h"

#include <openssl/crypto.h>

#include <cstring>
#include <utility>

#ifdef MX_HAVE_IPSEC_MB
// The header aligns the key schedule (gcm_key_data) to 64 bytes only when
// told it is on Linux; the AVX512 code needs that alignment.
#ifndef LINUX
#define LINUX
#endif
#include <intel-ipsec-mb.h>
#endif

namespace mx {

#ifdef MX_HAVE_IPSEC_MB

namespace {

struct Library {
  IMB_MGR* manager = nullptr;
  IMB_ARCH arch = IMB_ARCH_NONE;
};

// One manager for the process: the direct GCM and ChaCha20-Poly1305 calls
// only read its function table (set once here), so threads may share it.
const Library& library() {
  static const Library lib = [] {
    Library l;
    l.manager = alloc_mb_mgr(0);
    if (l.manager == nullptr) return l;
    init_mb_mgr_auto(l.manager, &l.arch);
    if (imb_get_errno(l.manager) != 0) l.arch = IMB_ARCH_NONE;
    return l;
  }();
  return lib;
}

const char* arch_name(IMB_ARCH arch) {
  switch (arch) {
    case IMB_ARCH_NOAESNI:
      return "no-aesni";
    case IMB_ARCH_SSE:
      return "sse";
    case IMB_ARCH_AVX:
      return "avx";
    case IMB_ARCH_AVX2:
      return "avx2";
    case IMB_ARCH_AVX512:
      return "avx512";
    default:
      return "none";
  }
}

}  // namespace

struct RecordCipher::State {
  struct gcm_key_data gcm_key;  // 64-byte aligned by its declaration
  union {
    struct gcm_context_data gcm;
    struct chacha20_poly1305_context_data chacha;
  } context;
  uint8_t chacha_key[32];
  Tls13Suite suite;
  bool encrypting = false;

  ~State() { OPENSSL_cleanse(this, sizeof *this); }
};

bool RecordCipher::available() {
  // Without AES-NI the library falls back to table-driven AES, which is no
  // faster than OpenSSL's and not constant-time: leave the records to OpenSSL.
  return library().arch >= IMB_ARCH_SSE;
}

std::string RecordCipher::implementation() {
  if (!available()) return {};
  return std::string("intel-ipsec-mb-") + imb_get_version_str() + "-" + arch_name(library().arch);
}

std::string RecordCipher::why_unavailable() {
  if (available()) return {};
  if (library().manager == nullptr) return "intel-ipsec-mb could not allocate its manager";
  return std::string("this CPU has no AES-NI (intel-ipsec-mb: ") + arch_name(library().arch) + ")";
}

RecordCipher::RecordCipher(Tls13Suite suite, ByteView key) {
  if (!available() || key.size() != tls13_key_length(suite)) return;
  IMB_MGR* m = library().manager;
  auto state = std::make_unique<State>();
  state->suite = suite;
  switch (suite) {
    case Tls13Suite::Aes128GcmSha256:
      IMB_AES128_GCM_PRE(m, key.data(), &state->gcm_key);
      break;
    case Tls13Suite::Aes256GcmSha384:
      IMB_AES256_GCM_PRE(m, key.data(), &state->gcm_key);
      break;
    case Tls13Suite::Chacha20Poly1305Sha256:
      std::memcpy(state->chacha_key, key.data(), sizeof state->chacha_key);
      break;
  }
  state_ = std::move(state);
}

RecordCipher::~RecordCipher() = default;
RecordCipher::RecordCipher(RecordCipher&&) noexcept = default;
RecordCipher& RecordCipher::operator=(RecordCipher&&) noexcept = default;

void RecordCipher::begin(std::span<const uint8_t, kNonceLength> nonce, ByteView aad, bool encrypt) {
  IMB_MGR* m = library().manager;
  State& s = *state_;
  s.encrypting = encrypt;
  switch (s.suite) {
    case Tls13Suite::Aes128GcmSha256:
      IMB_AES128_GCM_INIT(m, &s.gcm_key, &s.context.gcm, nonce.data(), aad.data(), aad.size());
      break;
    case Tls13Suite::Aes256GcmSha384:
      IMB_AES256_GCM_INIT(m, &s.gcm_key, &s.context.gcm, nonce.data(), aad.data(), aad.size());
      break;
    case Tls13Suite::Chacha20Poly1305Sha256:
      IMB_CHACHA20_POLY1305_INIT(m, s.chacha_key, &s.context.chacha, nonce.data(), aad.data(),
                                 aad.size());
      break;
  }
}

void RecordCipher::update(uint8_t* out, const uint8_t* in, size_t length) {
  if (length == 0) return;
  IMB_MGR* m = library().manager;
  State& s = *state_;
  switch (s.suite) {
    case Tls13Suite::Aes128GcmSha256:
      if (s.encrypting) {
        IMB_AES128_GCM_ENC_UPDATE(m, &s.gcm_key, &s.context.gcm, out, in, length);
      } else {
        IMB_AES128_GCM_DEC_UPDATE(m, &s.gcm_key, &s.context.gcm, out, in, length);
      }
      break;
    case Tls13Suite::Aes256GcmSha384:
      if (s.encrypting) {
        IMB_AES256_GCM_ENC_UPDATE(m, &s.gcm_key, &s.context.gcm, out, in, length);
      } else {
        IMB_AES256_GCM_DEC_UPDATE(m, &s.gcm_key, &s.context.gcm, out, in, length);
      }
      break;
    case Tls13Suite::Chacha20Poly1305Sha256:
      if (s.encrypting) {
        IMB_CHACHA20_POLY1305_ENC_UPDATE(m, s.chacha_key, &s.context.chacha, out, in, length);
      } else {
        IMB_CHACHA20_POLY1305_DEC_UPDATE(m, s.chacha_key, &s.context.chacha, out, in, length);
      }
      break;
  }
}

void RecordCipher::seal(std::span<uint8_t, kTagLength> tag) {
  IMB_MGR* m = library().manager;
  State& s = *state_;
  switch (s.suite) {
    case Tls13Suite::Aes128GcmSha256:
      IMB_AES128_GCM_ENC_FINALIZE(m, &s.gcm_key, &s.context.gcm, tag.data(), tag.size());
      break;
    case Tls13Suite::Aes256GcmSha384:
      IMB_AES256_GCM_ENC_FINALIZE(m, &s.gcm_key, &s.context.gcm, tag.data(), tag.size());
      break;
    case Tls13Suite::Chacha20Poly1305Sha256:
      IMB_CHACHA20_POLY1305_ENC_FINALIZE(m, &s.context.chacha, tag.data(), tag.size());
      break;
  }
}

bool RecordCipher::open(std::span<const uint8_t, kTagLength> received_tag) {
  IMB_MGR* m = library().manager;
  State& s = *state_;
  uint8_t computed[kTagLength];
  switch (s.suite) {
    case Tls13Suite::Aes128GcmSha256:
      IMB_AES128_GCM_DEC_FINALIZE(m, &s.gcm_key, &s.context.gcm, computed, sizeof computed);
      break;
    case Tls13Suite::Aes256GcmSha384:
      IMB_AES256_GCM_DEC_FINALIZE(m, &s.gcm_key, &s.context.gcm, computed, sizeof computed);
      break;
    case Tls13Suite::Chacha20Poly1305Sha256:
      IMB_CHACHA20_POLY1305_DEC_FINALIZE(m, &s.context.chacha, computed, sizeof computed);
      break;
  }
  return CRYPTO_memcmp(computed, received_tag.data(), kTagLength) == 0;
}

#else  // no intel-ipsec-mb in this build: records stay with OpenSSL

struct RecordCipher::State {};

bool RecordCipher::available() { return false; }
std::string RecordCipher::implementation() { return {}; }
std::string RecordCipher::why_unavailable() { return "built without intel-ipsec-mb"; }
RecordCipher::RecordCipher(Tls13Suite, ByteView) {}
RecordCipher::~RecordCipher() = default;
RecordCipher::RecordCipher(RecordCipher&&) noexcept = default;
RecordCipher& RecordCipher::operator=(RecordCipher&&) noexcept = default;
void RecordCipher::begin(std::span<const uint8_t, kNonceLength>, ByteView, bool) {}
void RecordCipher::update(uint8_t*, const uint8_t*, size_t) {}
void RecordCipher::seal(std::span<uint8_t, kTagLength>) {}
bool RecordCipher::open(std::span<const uint8_t, kTagLength>) { return false; }

#endif

}  // namespace mx
