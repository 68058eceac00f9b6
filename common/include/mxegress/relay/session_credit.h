// Flow control of one session of a multiplexed tunnel (docs/PROTOCOL.md),
// one direction each: a sender may have at most `window` bytes of DATA that
// the receiver has not yet returned with WINDOW. Pure arithmetic, no I/O, so
// the rules are unit-tested on their own.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mx {

// The sending side: how much DATA the peer will accept now.
class SendCredit {
 public:
  explicit SendCredit(uint32_t window) : available_(window) {}
  size_t available() const { return static_cast<size_t>(available_); }
  void consume(size_t n) { available_ -= n; }  // n <= available()
  // A WINDOW frame from the peer. False: more credit than any window allows
  // (the peer returned bytes it never received), a protocol error.
  bool add(uint32_t increment);

 private:
  uint64_t available_;
};

// The receiving side: counts what arrived and says when to return credit.
// Credit goes back once half the window has been consumed, so a sender that
// keeps up always has at least half a window in flight; while the reader is
// paused (its sink is full) nothing goes back, so the sender stops after at
// most one window.
class ReceiveCredit {
 public:
  explicit ReceiveCredit(uint32_t window) : window_(window) {}
  uint32_t window() const { return window_; }
  // False: the peer sent beyond its credit, a protocol error.
  bool on_received(size_t n);
  void pause() { paused_ = true; }
  void resume() { paused_ = false; }
  bool paused() const { return paused_; }
  // The increment to send in a WINDOW frame now, or 0 for none. `all`: every
  // unreturned byte (on resume), not only once half the window is reached.
  uint32_t take_returnable(bool all = false);

 private:
  uint32_t window_;
  uint64_t unreturned_ = 0;  // received, not yet given back
  bool paused_ = false;
};

}  // namespace mx
