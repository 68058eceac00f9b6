// RFC 1929 logins against argon2id hashes. Verifying a hash costs tens of
// milliseconds and 64 MiB by design; a gateway logs in on every connection,
// so a successful (user, password) is remembered as a keyed BLAKE2b digest
// (random key per process) and later logins compare digests in constant time.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/loop/loop.h"

namespace mx {

class PasswordCache {
 public:
  // users: name → argon2id hash
  PasswordCache(Loop& loop, std::map<std::string, std::string> users);
  bool required() const { return !hashes_.empty(); }
  // Calls `done` with the verdict: at once for a remembered login, otherwise
  // from the loop after an argon2id check on the thread pool. Dropping the
  // returned token cancels the callback.
  std::shared_ptr<void> verify(const std::string& user, const std::string& password,
                               std::function<void(bool)> done);

 private:
  using Digest = std::array<uint8_t, 32>;
  Digest digest(const std::string& user, std::string_view password) const;

  Loop& loop_;
  std::map<std::string, std::string> hashes_;  // user → argon2id hash
  std::map<std::string, Digest> verified_;     // user → digest of the password that verified
  std::array<uint8_t, 32> key_{};
};

}  // namespace mx
