// The optional [fleet] table of server.toml (reference in
// docs/configuration.md, design in docs/fleet.md): the Redis every server of
// a fleet shares its tenants' limits on. Absent: limits are counted by this
// server alone.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "mxegress/net/socket_address.h"

namespace mx {

class TableReader;

// Where Redis listens: a Unix socket ("unix:/run/redis/redis.sock") or an
// IP:port ("127.0.0.1:6379").
struct RedisEndpoint {
  std::string unix_path;             // set for "unix:PATH"
  std::optional<SocketAddress> tcp;  // set for "IP:PORT"

  std::string to_string() const;
  bool operator==(const RedisEndpoint&) const = default;
};

struct FleetConfig {
  RedisEndpoint redis;
  std::string password;                  // empty: no AUTH
  std::string key_prefix = "mxegress:";  // one per fleet sharing a Redis
  std::string server_id;                 // empty: hostname and pid
  // Each Redis call: longer, the session is admitted under the local rules.
  std::chrono::milliseconds timeout = std::chrono::milliseconds(250);
  // A lease (a live session's slot) not renewed for this long lapses.
  std::chrono::milliseconds lease_time = std::chrono::seconds(30);
  // How often this server says it is alive (the fleet size comes from these).
  std::chrono::milliseconds heartbeat_interval = std::chrono::seconds(1);
  // How often a lost Redis connection is tried again.
  std::chrono::milliseconds reconnect_interval = std::chrono::seconds(1);

  bool operator==(const FleetConfig&) const = default;
};

// Parses a `redis` value; nullopt with `why` when it is neither form.
std::optional<RedisEndpoint> parse_redis_endpoint(std::string_view text, std::string& why);

// Reads [fleet] from the root table `root` (absent: nullopt, no fleet).
void read_fleet(TableReader& root, std::optional<FleetConfig>& config);

}  // namespace mx
