#include "mxegress/config/resolver_config.h"

#include <algorithm>

#include "mxegress/config/config_errors.h"
#include "mxegress/config/decoders.h"
#include "mxegress/config/duration.h"
#include "mxegress/config/server_decoders.h"
#include "mxegress/config/toml_reader.h"

namespace mx {
namespace {

constexpr std::chrono::minutes kMaxTimeout(10);

// "10.0.0.53" (port 53), "10.0.0.53:5353", "2001:db8::53", "[2001:db8::53]:5353".
std::optional<SocketAddress> dns_server(const toml::node& node, std::string& why) {
  auto text = decode::string(node, why);
  if (!text) return std::nullopt;
  std::optional<SocketAddress> server = SocketAddress::parse_ip(*text, 53);
  if (!server) server = SocketAddress::parse(*text);
  if (!server) {
    why =
        R"(expected an IP address, or IP:port ("10.0.0.53", "10.0.0.53:5353", "2001:db8::53", "[2001:db8::53]:5353"), got )" +
        quote(*text) + " (names are not allowed: who would resolve them?)";
    return std::nullopt;
  }
  if (server->port() == 0) {
    why = "port 0 is not a DNS server's port: " + quote(*text);
    return std::nullopt;
  }
  const auto bytes = server->ip_bytes();
  if (std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; })) {
    why = quote(*text) + " is the unspecified address, not a server";
    return std::nullopt;
  }
  return server;
}

std::optional<std::chrono::milliseconds> lookup_timeout(const toml::node& node, std::string& why) {
  auto value = decode::duration(node, why);
  if (value && *value > kMaxTimeout) {
    why = "must be at most " + format_duration(kMaxTimeout) + "; got " + format_duration(*value);
    return std::nullopt;
  }
  return value;
}

std::optional<uint32_t> tries(const toml::node& node, std::string& why) {
  const std::string range = "1.." + std::to_string(kMaxResolverTries);
  const auto* number = node.as_integer();
  if (number == nullptr) {
    why = "expected an integer " + range + ", got " + describe_type(node);
    return std::nullopt;
  }
  if (number->get() < 1 || number->get() > kMaxResolverTries) {
    why = "expected an integer " + range + ", got " + std::to_string(number->get());
    return std::nullopt;
  }
  return static_cast<uint32_t>(number->get());
}

void read_settings(TableReader& table, ResolverSettings& settings) {
  if (table.optional("servers", settings.servers, dns_server)) {
    reject_repeats(table, "servers", settings.servers);
  }
  table.optional("timeout", settings.timeout, lookup_timeout);
  table.optional("tries", settings.tries, tries);
}

}  // namespace

void read_resolver(TableReader& root, ResolverSettings& settings) {
  TableReader table = root.table("resolver");
  read_settings(table, settings);
  table.reject_unknown_keys();
}

void read_resolver(TableReader& root, ServerResolverConfig& config) {
  TableReader table = root.table("resolver");
  read_settings(table, config.settings);
  table.optional("max_lookups", config.max_lookups, decode::limit_count);
  table.optional("max_lookups_per_tenant", config.max_lookups_per_tenant, decode::limit_count);
  table.reject_unknown_keys();
}

}  // namespace mx
