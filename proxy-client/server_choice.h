// Which egress server a session goes to: a pure function of the servers'
// state, so every rule is unit-tested without sockets
// (tests/unit/client/server_choice_test.cc).
//
// The lowest `priority` among the usable servers wins (like SRV records);
// `weight` shares sessions among servers of that priority. A server is
// usable while up, and while down once its next probe is due (the session
// is the probe). A session that asks for a ready server (a tunnel with room
// now) only gets one of the best priority: it does not fall back to a worse
// priority because that one happens to have a warm tunnel.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace mx {

struct ServerStatus {
  uint32_t priority = 10;
  uint32_t weight = 100;
  bool up = true;
  std::chrono::steady_clock::time_point retry_at{};  // while down: the next probe
  bool ready = false;                                // a tunnel can take a session now
};

bool server_usable(const ServerStatus& server, std::chrono::steady_clock::time_point now);

// The best priority among usable servers not in `exclude` (indexes).
std::optional<uint32_t> best_priority(std::span<const ServerStatus> servers,
                                      std::chrono::steady_clock::time_point now,
                                      std::span<const size_t> exclude = {});

// The index of the server for a session, or nullopt when none may be used.
// `random` is any 64-bit random number (the weighted draw).
std::optional<size_t> choose_server(std::span<const ServerStatus> servers,
                                    std::chrono::steady_clock::time_point now, bool need_ready,
                                    std::span<const size_t> exclude, uint64_t random);

}  // namespace mx
