// RFC 1929 logins against argon2id hashes. Verifying a hash costs tens of
// milliseconds and 64 MiB by design; a gateway logs in on every connection,
// so a successful (user, password) is remembered as a keyed BLAKE2b digest
// (random key per process) and later logins compare digests in constant time.
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/config/client_config.h"

namespace mx {

class PasswordCache {
 public:
  explicit PasswordCache(const std::vector<ClientConfig::Socks5User>& users);
  bool required() const { return !hashes_.empty(); }
  bool verify(const std::string& user, std::string_view password);

 private:
  using Digest = std::array<uint8_t, 32>;
  Digest digest(const std::string& user, std::string_view password) const;

  std::map<std::string, std::string> hashes_;  // user → argon2id hash
  std::map<std::string, Digest> verified_;     // user → digest of the password that verified
  std::array<uint8_t, 32> key_{};
};

}  // namespace mx
