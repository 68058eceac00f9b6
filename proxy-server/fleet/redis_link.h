// The fleet's connection to Redis, behind an interface so the fleet's logic
// (FleetClient) runs against a fake in unit tests. One per loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mx {

// The fleet's Lua scripts (proxy-server/fleet/*.lua).
enum class FleetScript { Admit, Renew, Release, Heartbeat, AddBytes };

enum class RedisStatus {
  Ok,            // `integers` holds the reply
  Timeout,       // no reply within the configured timeout
  Disconnected,  // not connected, or the connection went away
  Error,         // Redis answered with an error
};

struct RedisAnswer {
  RedisStatus status = RedisStatus::Disconnected;
  std::vector<int64_t> integers;  // an integer reply, or each element of an array
};

class RedisLink {
 public:
  using Done = std::function<void(RedisAnswer)>;
  virtual ~RedisLink() = default;

  // Whether calls can be sent now.
  virtual bool connected() const = 0;
  // Runs `script` with KEYS and ARGV. When connected, `done` is called once,
  // later, on the loop thread (never from inside call()), unless the link
  // is destroyed first; when not, it returns false and never calls `done`.
  virtual bool call(FleetScript script, std::vector<std::string> keys,
                    std::vector<std::string> argv, Done done) = 0;
  // Called on each change of connected() (re-set by the owner).
  virtual void on_connection(std::function<void(bool up)> changed) = 0;
};

}  // namespace mx
