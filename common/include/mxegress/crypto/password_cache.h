// RFC 1929 logins against argon2id hashes. Verifying a hash costs tens of
// milliseconds and 64 MiB by design; a gateway logs in on every connection,
// so a successful (user, password) is remembered as a keyed BLAKE2b digest
// (random key per process) and later logins compare digests in constant time.
// The checks themselves, their caps and the backoff of an address that
// keeps failing are the PasswordChecker's, which every cache of the process
// shares. One cache belongs to one loop thread.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/crypto/password_checker.h"
#include "mxegress/loop/loop.h"

namespace mx {

class PasswordCache {
 public:
  // users: name → argon2id hash
  // `checker` outlives the cache and every token it returns.
  PasswordCache(Loop& loop, std::map<std::string, std::string> users, PasswordChecker& checker);
  bool required() const { return !hashes_.empty(); }

  // The verdict now (`now`: Ok for a remembered login; Backoff or Busy,
  // unchecked), or later: `done` gets Ok or BadPassword on the loop after
  // an argon2id check on the checker's threads. Dropping the token cancels
  // both the check (when not yet started) and the callback.
  struct Pending {
    std::optional<LoginVerdict> now;
    std::shared_ptr<void> token;
  };
  // `address`: the client's IP, for the caps and the backoff.
  Pending verify(const std::string& user, const std::string& password, const std::string& address,
                 std::function<void(LoginVerdict)> done);

 private:
  using Digest = std::array<uint8_t, 32>;
  Digest digest(const std::string& user, std::string_view password) const;

  Loop& loop_;
  PasswordChecker& checker_;
  std::map<std::string, std::string> hashes_;  // user → argon2id hash
  std::map<std::string, Digest> verified_;     // user → digest of the password that verified
  std::array<uint8_t, 32> key_{};
};

}  // namespace mx
