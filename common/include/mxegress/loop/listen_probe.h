// Whether an address is free to listen on, asked without listening: a socket
// bound to it without SO_REUSEPORT, then closed.
//
// The server's loop threads share their addresses with SO_REUSEPORT, and
// Linux lets any process of the same user join such a group: a second
// mxegress-server would start and silently take a share of the tunnels.
// Probing first without SO_REUSEPORT fails (EADDRINUSE) whenever anyone
// listens there, group or not, so only our own loops share an address.
// `--check` asks the same question.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/net/socket_address.h"

namespace mx {

struct ListenRefusal {
  SocketAddress address;
  int error = 0;  // errno of the socket or bind call
};

// Nothing when `address` could be bound now (SO_REUSEADDR set, as libuv sets
// it, so connections of an earlier run in TIME_WAIT do not count).
std::optional<ListenRefusal> probe_listen_address(const SocketAddress& address);

// The first of `addresses` that cannot be bound.
std::optional<ListenRefusal> probe_listen_addresses(const std::vector<SocketAddress>& addresses);

// "listen 127.0.0.1:2525: address already in use (another mxegress-server?)";
// other errors without the guess.
std::string describe(const ListenRefusal& refusal, std::string_view program);

}  // namespace mx
