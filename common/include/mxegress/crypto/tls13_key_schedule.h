// The part of the TLS 1.3 key schedule that runs after the handshake
// (RFC 8446 section 7.1-7.3): the record keys of a traffic secret, and the
// next secret of a KeyUpdate. Pure functions over OpenSSL's HKDF.
#pragma once

#include <openssl/crypto.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <string_view>
#include <vector>

#include "mxegress/util/bytes.h"

namespace mx {

// Storage for key material: wiped (OPENSSL_cleanse) whenever it is freed,
// also when a vector grows or is moved from.
template <typename T>
struct CleansingAllocator {
  using value_type = T;
  CleansingAllocator() = default;
  template <typename U>
  CleansingAllocator(const CleansingAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, size_t n) {
    OPENSSL_cleanse(p, n * sizeof(T));
    ::operator delete(p);
  }
  template <typename U>
  bool operator==(const CleansingAllocator<U>&) const {
    return true;
  }
};
using SecretBytes = std::vector<uint8_t, CleansingAllocator<uint8_t>>;

// The TLS 1.3 cipher suites by their IANA code (RFC 8446 appendix B.4).
enum class Tls13Suite : uint16_t {
  Aes128GcmSha256 = 0x1301,
  Aes256GcmSha384 = 0x1302,
  Chacha20Poly1305Sha256 = 0x1303,
};
std::optional<Tls13Suite> tls13_suite_from_id(uint16_t id);
size_t tls13_hash_length(Tls13Suite suite);  // 32 or 48
size_t tls13_key_length(Tls13Suite suite);   // 16 or 32
inline constexpr size_t kTls13IvLength = 12;

// HKDF-Expand-Label(secret, label, "", length) with the suite's hash; label
// without the "tls13 " prefix. Empty on an OpenSSL failure.
SecretBytes hkdf_expand_label(Tls13Suite suite, ByteView secret, std::string_view label,
                              size_t length);

struct Tls13TrafficKeys {
  SecretBytes key;  // the AEAD key
  SecretBytes iv;   // the 12-byte IV the record sequence number is XORed into
};
// [sender]_write_key and [sender]_write_iv of one traffic secret (7.3).
std::optional<Tls13TrafficKeys> tls13_traffic_keys(Tls13Suite suite, ByteView secret);
// application_traffic_secret_N+1 from _N (7.2): what a KeyUpdate moves to.
SecretBytes tls13_next_traffic_secret(Tls13Suite suite, ByteView secret);

}  // namespace mx
