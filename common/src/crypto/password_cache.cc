#include "mxegress/crypto/password_cache.h"

#include <sodium.h>

#include "mxegress/crypto/password.h"

namespace mx {

PasswordCache::PasswordCache(Loop& loop, std::map<std::string, std::string> users,
                             PasswordChecker& checker)
    : loop_(loop), checker_(checker), hashes_(std::move(users)) {
  if (sodium_init() < 0) std::abort();
  randombytes_buf(key_.data(), key_.size());
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

PasswordCache::Pending PasswordCache::verify(const std::string& user, const std::string& password,
                                             const std::string& address,
                                             std::function<void(LoginVerdict)> done) {
  if (checker_.in_backoff(address, user)) return {LoginVerdict::Backoff, nullptr};
  auto hash = hashes_.find(user);
  const Digest d = digest(user, password);
  if (hash != hashes_.end()) {
    auto seen = verified_.find(user);
    if (seen != verified_.end() && sodium_memcmp(seen->second.data(), d.data(), d.size()) == 0) {
      return {LoginVerdict::Ok, nullptr};
    }
  }
  // An unknown user costs the same check as a known one, so timing does not
  // tell which user names exist.
  const bool known = hash != hashes_.end();
  std::string stored = known ? hash->second : hashes_.begin()->second;
  PasswordChecker::Queued queued = checker_.check(
      loop_, address, user,
      [stored = std::move(stored), password, known] {
        return verify_password(stored, password) && known;
      },
      [this, user, d, done = std::move(done)](LoginVerdict verdict) {
        if (verdict == LoginVerdict::Ok) verified_[user] = d;
        done(verdict);
      });
  if (queued.refused != LoginVerdict::Ok) return {queued.refused, nullptr};
  return {std::nullopt, std::move(queued.token)};
}

}  // namespace mx
