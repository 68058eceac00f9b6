#include "mxegress/config/fleet_config.h"

#include "mxegress/config/config_errors.h"
#include "mxegress/config/decoders.h"
#include "mxegress/config/duration.h"
#include "mxegress/config/toml_reader.h"

namespace mx {
namespace {

constexpr std::string_view kUnix = "unix:";

std::optional<RedisEndpoint> redis_endpoint(const toml::node& node, std::string& why) {
  auto text = decode::string(node, why);
  if (!text) return std::nullopt;
  return parse_redis_endpoint(*text, why);
}

// Printable ASCII without spaces: the prefix is part of every key.
std::optional<std::string> key_prefix(const toml::node& node, std::string& why) {
  auto text = decode::string(node, why);
  if (!text) return std::nullopt;
  if (text->size() > 64) {
    why = "must be at most 64 characters, got " + std::to_string(text->size());
    return std::nullopt;
  }
  for (const char c : *text) {
    if (c <= ' ' || c > '~') {
      why = quote(*text) + " must be printable ASCII without spaces";
      return std::nullopt;
    }
  }
  return text;
}

std::optional<std::string> server_id(const toml::node& node, std::string& why) {
  auto text = key_prefix(node, why);
  if (text && text->empty()) {
    why = "must not be empty (leave it out for hostname and pid)";
    return std::nullopt;
  }
  return text;
}

}  // namespace

std::string RedisEndpoint::to_string() const {
  if (tcp) return tcp->to_string();
  return std::string(kUnix) + unix_path;
}

std::optional<RedisEndpoint> parse_redis_endpoint(std::string_view text, std::string& why) {
  RedisEndpoint endpoint;
  if (text.starts_with(kUnix)) {
    endpoint.unix_path = std::string(text.substr(kUnix.size()));
    if (!endpoint.unix_path.starts_with('/')) {
      why = quote(text) + ": the socket must be an absolute path (e.g. unix:/run/redis/redis.sock)";
      return std::nullopt;
    }
    return endpoint;
  }
  auto address = SocketAddress::parse(text);
  if (!address || address->port() == 0) {
    why =
        quote(text) +
        R"( is neither "unix:/PATH" nor IP:port (e.g. "unix:/run/redis/redis.sock" or "127.0.0.1:6379"))";
    return std::nullopt;
  }
  endpoint.tcp = address;
  return endpoint;
}

void read_fleet(TableReader& root, std::optional<FleetConfig>& config) {
  if (!root.has("fleet")) return;
  TableReader table = root.table("fleet");
  FleetConfig fleet;
  table.required("redis", fleet.redis, redis_endpoint);
  table.optional("password", fleet.password, decode::string);
  table.optional("key_prefix", fleet.key_prefix, key_prefix);
  table.optional("server_id", fleet.server_id, server_id);
  table.optional("timeout", fleet.timeout, decode::duration);
  table.optional("lease_time", fleet.lease_time, decode::duration);
  table.optional("heartbeat_interval", fleet.heartbeat_interval, decode::duration);
  table.optional("reconnect_interval", fleet.reconnect_interval, decode::duration);
  table.reject_unknown_keys();
  if (fleet.lease_time < std::chrono::seconds(1)) {
    table.error("lease_time", "must be at least 1s (renewed every third of it), got " +
                                  format_duration(fleet.lease_time));
  } else if (fleet.heartbeat_interval * 3 > fleet.lease_time) {
    table.error("heartbeat_interval", "must be at most a third of lease_time (" +
                                          format_duration(fleet.lease_time) + "), got " +
                                          format_duration(fleet.heartbeat_interval));
  }
  if (fleet.timeout > std::chrono::seconds(10)) {
    table.error("timeout", "must be at most 10s (a session waits for it), got " +
                               format_duration(fleet.timeout));
  }
  config = std::move(fleet);
}

}  // namespace mx
