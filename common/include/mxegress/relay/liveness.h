// When to PING a tunnel and when to give it up for dead (docs/PROTOCOL.md,
// "Liveness"). Both ends keep one per tunnel. Pure arithmetic over the
// loop's clock in milliseconds, so every rule is unit-tested with made-up
// times (tests/unit/relay/liveness_test.cc); TunnelEndpoint runs the timer.
//
// - Quiet for `interval` (nothing heard): PING; nothing heard within
//   `timeout` of it: dead.
// - A frame the peer must answer was sent (a CONNECT): nothing heard within
//   `probe_after` sends a PING at once (a slow dial is not a dead tunnel:
//   the PONG comes back anyway), and nothing within `timeout`: dead.
// Any frame from the peer counts as hearing from it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

namespace mx {

class Liveness {
 public:
  struct Settings {
    std::chrono::milliseconds interval{60000};
    std::chrono::milliseconds timeout{10000};
  };
  enum class Action { Wait, Ping, Dead };
  struct Decision {
    Action action = Action::Wait;
    uint64_t next_check_ms = 0;  // when to ask again
  };
  static constexpr std::chrono::milliseconds kProbeAfter{200};

  Liveness(Settings settings, uint64_t now_ms) : settings_(settings), last_heard_(now_ms) {}

  const Settings& settings() const { return settings_; }
  void heard(uint64_t now_ms) {
    last_heard_ = now_ms;
    awaiting_since_.reset();
    pinged_ = false;
  }
  // We sent a frame the peer answers (CONNECT).
  void expect_answer(uint64_t now_ms) {
    if (!awaiting_since_) awaiting_since_ = now_ms;
  }
  // What to do at `now_ms`. On Ping the caller sends one now.
  Decision check(uint64_t now_ms);
  // When check() next has something to do (for arming a timer).
  uint64_t next_check_ms() const;

 private:
  uint64_t timeout() const { return static_cast<uint64_t>(settings_.timeout.count()); }
  uint64_t probe_after() const {
    return static_cast<uint64_t>(std::min(kProbeAfter, settings_.timeout / 2).count());
  }

  Settings settings_;
  uint64_t last_heard_;
  std::optional<uint64_t> awaiting_since_;  // an answer is due since then
  bool pinged_ = false;                     // a PING went out while awaiting
};

}  // namespace mx
