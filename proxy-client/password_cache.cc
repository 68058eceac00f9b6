#include "password_cache.h"

#include <sodium.h>

#include "mxegress/crypto/password.h"

namespace mx {

PasswordCache::PasswordCache(const std::vector<ClientConfig::Socks5User>& users) {
  if (sodium_init() < 0) std::abort();
  randombytes_buf(key_.data(), key_.size());
  for (const auto& user : users) hashes_[user.name] = user.password_hash;
}

PasswordCache::Digest PasswordCache::digest(const std::string& user,
                                            std::string_view password) const {
  Digest out{};
  crypto_generichash_state state;
  crypto_generichash_init(&state, key_.data(), key_.size(), out.size());
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(user.data()), user.size() + 1);
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(password.data()),
                            password.size());
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

bool PasswordCache::verify(const std::string& user, std::string_view password) {
  auto hash = hashes_.find(user);
  if (hash == hashes_.end()) {
    // Spend the same effort as for a known user, so timing does not tell
    // which user names exist.
    verify_password(hashes_.begin()->second, password);
    return false;
  }
  const Digest d = digest(user, password);
  auto seen = verified_.find(user);
  if (seen != verified_.end() && sodium_memcmp(seen->second.data(), d.data(), d.size()) == 0) {
    return true;
  }
  if (!verify_password(hash->second, password)) return false;
  verified_[user] = d;
  return true;
}

}  // namespace mx
