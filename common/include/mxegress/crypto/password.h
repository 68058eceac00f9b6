// Password hashes for RFC 1929 users: argon2id through libsodium.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>

namespace mx {

inline constexpr size_t kMaxRfc1929PasswordLength = 255;

// "$argon2id$v=19$m=65536,t=2,p=1$..." (OPSLIMIT/MEMLIMIT_INTERACTIVE: 2 passes, 64 MiB).
// Throws std::bad_alloc if the 64 MiB cannot be allocated.
std::string hash_password(std::string_view password);

// Constant time. Costs one argon2id evaluation (tens of milliseconds and 64 MiB):
// do not call it on an event loop thread.
bool verify_password(const std::string& hash, std::string_view password);

// The `hash-password` subcommand: reads one line from in (trailing \r\n stripped),
// refuses an empty or over-long (> 255 bytes) password, writes the hash and a newline
// to out. Returns the exit code.
int run_hash_password(std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace mx
