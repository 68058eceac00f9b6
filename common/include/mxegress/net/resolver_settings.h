// How a program resolves names (the optional [resolver] table,
// docs/configuration.md): which DNS servers to ask (none given: those of
// /etc/resolv.conf), how long one lookup may take in all, and how often each
// query goes to each server. The numbers c-ares itself is given follow from
// these; the arithmetic is here, without I/O, so it can be tested.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mxegress/net/socket_address.h"

namespace mx {

struct ResolverSettings {
  std::vector<SocketAddress> servers;  // empty: /etc/resolv.conf's nameservers
  std::chrono::milliseconds timeout = std::chrono::seconds(5);  // one whole lookup
  uint32_t tries = 2;  // how often each query is sent to each server, 1..kMaxResolverTries

  bool operator==(const ResolverSettings&) const = default;
};

inline constexpr uint32_t kMaxResolverTries = 5;

// c-ares's list of servers with ports: "10.0.0.53:53,[2001:db8::53]:5353".
std::string ares_servers_csv(const std::vector<SocketAddress>& servers);

// The timeout c-ares is given for the first try of a query, so that all of
// its tries end within `timeout`: c-ares sends a query to each of
// `server_count` servers in turn, `tries` rounds, and doubles the wait after
// each round, so the last answer is given up after
// server_count × first × (2^tries − 1). At least 1 ms.
std::chrono::milliseconds ares_first_try_timeout(std::chrono::milliseconds timeout, uint32_t tries,
                                                 size_t server_count);

}  // namespace mx
