#include "mxegress/crypto/password.h"

#include <sodium.h>

#include <cstdlib>
#include <istream>
#include <new>
#include <ostream>

namespace mx {

namespace {

void ensure_sodium() {
  static const bool ready = [] {
    if (sodium_init() < 0) std::abort();
    return true;
  }();
  (void)ready;
}

void wipe(std::string& secret) {
  sodium_memzero(secret.data(), secret.size());
  secret.clear();
}

}  // namespace

std::string hash_password(std::string_view password) {
  ensure_sodium();
  char hash[crypto_pwhash_argon2id_STRBYTES];
  if (crypto_pwhash_argon2id_str(hash, password.data(), password.size(),
                                 crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) != 0) {
    throw std::bad_alloc();  // the only failure libsodium reports here
  }
  return hash;
}

bool verify_password(const std::string& hash, std::string_view password) {
  ensure_sodium();
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

int run_hash_password(std::istream& in, std::ostream& out, std::ostream& err) {
  std::string password;
  if (!std::getline(in, password) && password.empty()) {
    err << "hash-password: no password on standard input\n";
    return 1;
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    err << "hash-password: refusing an empty password\n";
    return 1;
  }
  if (password.size() > kMaxRfc1929PasswordLength) {
    wipe(password);
    err << "hash-password: the password is longer than the 255 bytes SOCKS5 (RFC 1929) allows\n";
    return 1;
  }
  const std::string hash = hash_password(password);
  wipe(password);
  out << hash << '\n';
  return out.good() ? 0 : 1;
}

}  // namespace mx
