#include "mxegress/crypto/client_identity.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "mxegress/crypto/private_key_mode.h"

namespace mx {

namespace {

constexpr size_t kBase64KeyLength = 44;  // 32 bytes, padded
constexpr size_t kMaxKeyFileBytes = 256;
constexpr int kBase64Variant = sodium_base64_VARIANT_ORIGINAL;

static_assert(crypto_sign_SEEDBYTES == 32 && crypto_sign_PUBLICKEYBYTES == 32);
static_assert(crypto_sign_SECRETKEYBYTES == 64 && crypto_sign_BYTES == 64);

void ensure_sodium() {
  static const bool ready = [] {
    if (sodium_init() < 0) std::abort();  // no usable randomness: nothing here is safe
    return true;
  }();
  (void)ready;
}

// A buffer that held key material: zeroed however the function returns.
template <size_t N>
struct SecretBuffer {
  std::array<uint8_t, N> bytes{};
  SecretBuffer() = default;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  ~SecretBuffer() { sodium_memzero(bytes.data(), bytes.size()); }
  char* chars() { return reinterpret_cast<char*>(bytes.data()); }
};

struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

std::string errno_text() { return std::strerror(errno); }

// Exactly 32 bytes from canonical padded base64; libsodium rejects stray bits.
bool decode_32_bytes(std::string_view text, uint8_t* out) {
  if (text.size() != kBase64KeyLength) return false;
  size_t decoded_length = 0;
  const char* end = nullptr;
  return sodium_base642bin(out, 32, text.data(), text.size(), nullptr, &decoded_length, &end,
                           kBase64Variant) == 0 &&
         decoded_length == 32 && end == text.data() + text.size();
}

ClientIdentity identity_from_seed(const uint8_t* seed) {
  ClientIdentity identity;
  crypto_sign_seed_keypair(identity.public_key.data(), identity.secret_key.data(), seed);
  return identity;
}

bool write_all(int fd, const char* data, size_t length) {
  while (length > 0) {
    const ssize_t written = ::write(fd, data, length);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    length -= static_cast<size_t>(written);
  }
  return true;
}

// Reads at most kMaxKeyFileBytes + 1, so an oversized file is detected.
bool read_small_file(int fd, SecretBuffer<kMaxKeyFileBytes + 1>& buffer, size_t& length) {
  length = 0;
  while (length < buffer.bytes.size()) {
    const ssize_t got = ::read(fd, buffer.bytes.data() + length, buffer.bytes.size() - length);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return false;
    if (got == 0) break;
    length += static_cast<size_t>(got);
  }
  return true;
}

std::string_view without_trailing_whitespace(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

ClientIdentity::~ClientIdentity() { sodium_memzero(secret_key.data(), secret_key.size()); }

std::string encode_key(const PublicKey& key) {
  char text[kBase64KeyLength + 1];
  sodium_bin2base64(text, sizeof text, key.data(), key.size(), kBase64Variant);
  return std::string(text, kBase64KeyLength);
}

std::optional<PublicKey> decode_key(std::string_view text) {
  PublicKey key;
  if (!decode_32_bytes(text, key.data())) return std::nullopt;
  return key;
}

std::optional<ClientIdentity> generate_key_file(const std::filesystem::path& path,
                                                std::string& err) {
  ensure_sodium();
  SecretBuffer<crypto_sign_SEEDBYTES> seed;
  randombytes_buf(seed.bytes.data(), seed.bytes.size());
  SecretBuffer<kBase64KeyLength + 2> line;  // base64, then '\n' over the terminator
  sodium_bin2base64(line.chars(), kBase64KeyLength + 1, seed.bytes.data(), seed.bytes.size(),
                    kBase64Variant);
  line.bytes[kBase64KeyLength] = '\n';

  if (std::string dir_error = create_key_directory(path.parent_path()); !dir_error.empty()) {
    err = std::move(dir_error);
    return std::nullopt;
  }
  FileDescriptor file{::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
  if (file.fd < 0) {
    err = errno == EEXIST ? "refusing to overwrite existing key file " + path.string()
                          : "cannot create key file " + path.string() + ": " + errno_text();
    return std::nullopt;
  }
  if (!write_all(file.fd, line.chars(), kBase64KeyLength + 1) || ::fsync(file.fd) != 0) {
    err = "cannot write key file " + path.string() + ": " + errno_text();
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return std::nullopt;
  }
  return identity_from_seed(seed.bytes.data());
}

std::optional<ClientIdentity> load_key_file(const std::filesystem::path& path, std::string& err) {
  ensure_sodium();
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    err = "cannot open key file " + path.string() + ": " + errno_text();
    return std::nullopt;
  }
  struct stat status;
  if (::fstat(file.fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    err = "key file " + path.string() + " is not a regular file";
    return std::nullopt;
  }
  if (std::string mode_error = private_key_mode_error(path, status.st_mode); !mode_error.empty()) {
    err = std::move(mode_error);
    return std::nullopt;
  }
  SecretBuffer<kMaxKeyFileBytes + 1> content;
  size_t length = 0;
  if (!read_small_file(file.fd, content, length)) {
    err = "cannot read key file " + path.string() + ": " + errno_text();
    return std::nullopt;
  }
  SecretBuffer<crypto_sign_SEEDBYTES> seed;
  const std::string_view text = without_trailing_whitespace({content.chars(), length});
  if (length > kMaxKeyFileBytes || !decode_32_bytes(text, seed.bytes.data())) {
    err = "key file " + path.string() +
          " is malformed: expected one line holding the base64 of a 32-byte Ed25519 seed";
    return std::nullopt;
  }
  return identity_from_seed(seed.bytes.data());
}

namespace {

using AuthMessage = std::array<uint8_t, kAuthContext.size() + 1 + 32>;

AuthMessage auth_message(std::span<const uint8_t, 32> exporter) {
  AuthMessage message{};
  auto next = std::copy(kAuthContext.begin(), kAuthContext.end(), message.begin());
  *next++ = 0x00;
  std::copy(exporter.begin(), exporter.end(), next);
  return message;
}

}  // namespace

std::array<uint8_t, 64> sign_auth(const ClientIdentity& identity,
                                  std::span<const uint8_t, 32> exporter) {
  ensure_sodium();
  const AuthMessage message = auth_message(exporter);
  std::array<uint8_t, 64> signature;
  crypto_sign_detached(signature.data(), nullptr, message.data(), message.size(),
                       identity.secret_key.data());
  return signature;
}

bool verify_auth(const PublicKey& key, std::span<const uint8_t, 32> exporter,
                 std::span<const uint8_t, 64> signature) {
  ensure_sodium();
  const AuthMessage message = auth_message(exporter);
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     key.data()) == 0;
}

}  // namespace mx
