// The AEAD of one direction of a TLS 1.3 connection, over Intel's
// intel-ipsec-mb library (AES-GCM with VAES/AVX512 where the CPU has it,
// AVX2/AVX/SSE otherwise; ChaCha20-Poly1305). It encrypts and decrypts in
// pieces from one buffer into another, so a record is sealed straight from
// the bytes a socket read delivered and opened straight into the plaintext
// buffer: no copy on either side (OpenSSL's record layer copies each byte
// twice per direction). docs/performance.md has the figures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "mxegress/crypto/tls13_key_schedule.h"
#include "mxegress/util/bytes.h"

namespace mx {

class RecordCipher {
 public:
  static constexpr size_t kTagLength = 16;
  static constexpr size_t kNonceLength = 12;

  // Whether this build and CPU can run it (x86-64 with AES-NI; the library
  // is built for amd64 only). When not, TLS records stay with OpenSSL.
  static bool available();
  // e.g. "intel-ipsec-mb-1.3.0-avx512" (one word, for log lines); empty
  // when not available, and then why_unavailable() says why.
  static std::string implementation();
  static std::string why_unavailable();

  // key: tls13_key_length(suite) bytes. Check ok() before use.
  RecordCipher(Tls13Suite suite, ByteView key);
  ~RecordCipher();
  RecordCipher(RecordCipher&&) noexcept;
  RecordCipher& operator=(RecordCipher&&) noexcept;

  bool ok() const { return state_ != nullptr; }

  // One record: begin(), then update() over its bytes in order (any split,
  // in and out may be the same buffer or disjoint), then seal() or open().
  void begin(std::span<const uint8_t, kNonceLength> nonce, ByteView aad, bool encrypt);
  void update(uint8_t* out, const uint8_t* in, size_t length);
  // Encrypting: writes the tag.
  void seal(std::span<uint8_t, kTagLength> tag);
  // Decrypting: true when the received tag is right (compared in constant time).
  bool open(std::span<const uint8_t, kTagLength> received_tag);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mx
