// Whether each source address is "suspect" at each receiving provider: the
// share of its banners there that refused it (5xx) or throttled it (421),
// in a sliding window (docs/smtp-health.md). Sans-I/O: callers pass the
// time. Thread-safe: the server's loop threads share one.
//
// A suspect address recovers when its share falls below the threshold, or,
// for tenants that avoid it (on_suspect = "avoid"), when the one session
// let through after the cooldown gets a positive banner (which clears the
// window: the avoided sessions never came to outweigh the old refusals).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mxegress/config/smtp_config.h"

namespace mx {

class SourceHealth {
 public:
  using Clock = std::chrono::steady_clock;

  struct Settings {
    std::chrono::milliseconds window{std::chrono::hours(1)};
    uint32_t min_sessions = 5;
    uint32_t percent = 50;
    std::chrono::milliseconds cooldown{std::chrono::minutes(30)};
  };
  static Settings settings_of(const SmtpConfig& config);

  enum class Change : uint8_t { None, BecameSuspect, Recovered };
  struct Verdict {
    Change change = Change::None;
    uint32_t sessions = 0;  // banners in the window (after this one)
    uint32_t refused = 0;   // of them 5xx or 421
  };

  // A banner `code` (with its first line, kept as the example of a refusal)
  // from `source` at `provider`.
  Verdict record(const std::string& source, const std::string& provider, int code,
                 const std::string& text, Clock::time_point now, const Settings& settings);

  // For a tenant that avoids suspect addresses: whether a new session to
  // `provider` should not leave from `source` now. After its cooldown a
  // suspect address is not avoided until a session leaves from it (the test
  // session: leaving_from); until that session's banner comes (or a minute
  // passes) the others avoid it again.
  bool avoid(const std::string& source, const std::string& provider,
             Clock::time_point now) const;
  // A session leaves from `source` for `provider`: if the address is
  // suspect and out of its cooldown, this session is the test.
  void leaving_from(const std::string& source, const std::string& provider,
                    Clock::time_point now);

  struct Entry {
    std::string source;
    std::string provider;
    bool suspect = false;
    uint32_t sessions = 0;
    uint32_t refused = 0;
    std::string example;  // a refusing banner: "554 5.7.1 ..."
    std::chrono::system_clock::time_point since{};  // when it became suspect
  };
  // Every pair that is or was suspect (never forgotten while the process
  // runs, so a gauge does not vanish), by source then provider.
  std::vector<Entry> entries() const;
  size_t suspects() const;

  // Pairs tracked at most (sources × providers); beyond it new pairs are
  // not tracked (and the caller's counters say so).
  static constexpr size_t kMaxPairs = 20000;
  static constexpr size_t kMaxSamples = 4096;  // banners kept per pair

 private:
  struct Pair {
    std::deque<std::pair<Clock::time_point, bool>> samples;  // when, refused
    uint32_t refused = 0;
    bool suspect = false;
    bool was_suspect = false;
    Clock::time_point avoid_until{};
    std::optional<Clock::time_point> test_started;  // the one session let through
    std::string example;
    std::chrono::system_clock::time_point since{};
  };
  void prune(Pair& pair, Clock::time_point now, std::chrono::milliseconds window);

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Pair> pairs_;
};

// A banner that says the receiver does not want mail from this address now.
inline bool is_refusing_banner(int code) { return code / 100 == 5 || code == 421; }

}  // namespace mx
