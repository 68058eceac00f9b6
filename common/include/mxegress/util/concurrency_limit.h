// Counts things in flight, in total and per key (a source address, a tenant)
// and refuses one more above either cap, as OpenSSH's MaxStartups does for
// unauthenticated connections. A granted Slot gives its place back when it
// is destroyed, wherever that happens.
//
// Thread-safe: the server's loop threads share one limit, so a cap holds for
// the process, and a Slot may be destroyed on any thread (even after the
// limit itself).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mx {

class ConcurrencyLimit {
 public:
  struct Caps {
    size_t total = 0;    // 0 = unlimited
    size_t per_key = 0;  // 0 = unlimited
  };
  enum class Refusal { None, Total, PerKey };

  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept = default;
    Slot& operator=(Slot&& other) noexcept;
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

    explicit operator bool() const { return state_ != nullptr; }
    void release();  // gives the place back now (idempotent)

   private:
    friend class ConcurrencyLimit;
    struct State;
    Slot(std::shared_ptr<State> state, std::string key)
        : state_(std::move(state)), key_(std::move(key)) {}
    std::shared_ptr<State> state_;
    std::string key_;
  };

  struct Grant {
    Slot slot;                         // empty when refused
    Refusal refusal = Refusal::None;  // why, when refused
  };

  explicit ConcurrencyLimit(Caps caps);
  ~ConcurrencyLimit();
  ConcurrencyLimit(const ConcurrencyLimit&) = delete;
  ConcurrencyLimit& operator=(const ConcurrencyLimit&) = delete;

  Grant acquire(const std::string& key);
  // A reload: slots held keep their place; new ones see the new caps.
  void set_caps(Caps caps);
  Caps caps() const;
  size_t in_flight() const;
  size_t in_flight(const std::string& key) const;
  // Refusals since start, for the logs and the metrics.
  struct Refused {
    uint64_t total = 0;    // by the total cap
    uint64_t per_key = 0;  // by the per-key cap
  };
  Refused refused() const;

 private:
  std::shared_ptr<Slot::State> state_;
};

}  // namespace mx
