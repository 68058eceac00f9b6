// Failed RFC 1929 logins per source address, and the backoff they earn:
// `threshold` failures from one address within `backoff` of the first one,
// and logins from that address are refused without a password check until
// `backoff` has passed since the last of them. Attempts refused meanwhile do
// not extend the backoff (the address is let in to try again on time, and a
// flood costs a map lookup each). A success does not clear the count: a
// good user's cached logins must not reset an attacker's on the same address.
//
// Pure: no clock of its own (the caller passes `now`), no I/O, no locks
// (PasswordChecker holds it under its mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace mx {

class LoginFailures {
 public:
  using Clock = std::chrono::steady_clock;
  struct Settings {
    uint32_t threshold = 5;  // 0 = never back off
    std::chrono::milliseconds backoff = std::chrono::seconds(60);
  };
  // At most this many addresses are remembered; above it the expired ones
  // are forgotten first, then the oldest.
  static constexpr size_t kMaxAddresses = 4096;

  LoginFailures() = default;
  explicit LoginFailures(Settings settings) : settings_(settings) {}
  void set_settings(Settings settings) { settings_ = settings; }
  Settings settings() const { return settings_; }

  // Whether logins from `address` are refused now, without a check.
  bool in_backoff(const std::string& address, Clock::time_point now);
  // A failed check from `address`. True when this failure starts a backoff.
  bool failed(const std::string& address, Clock::time_point now);
  size_t addresses() const { return entries_.size(); }

 private:
  struct Entry {
    uint32_t failures = 0;
    Clock::time_point first;          // of the failures counted
    Clock::time_point blocked_until;  // meaningful when failures >= threshold
  };
  bool blocked(const Entry& entry, Clock::time_point now) const;
  bool expired(const Entry& entry, Clock::time_point now) const;
  void make_room(Clock::time_point now);

  Settings settings_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace mx
