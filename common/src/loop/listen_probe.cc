#include "mxegress/loop/listen_probe.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mx {

std::optional<ListenRefusal> probe_listen_address(const SocketAddress& address) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ListenRefusal{address, errno};
  const int one = 1;
  // As TcpListener binds (libuv): SO_REUSEADDR, and IPv6 sockets IPv6 only.
  int rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (rc == 0 && address.family() == AF_INET6) {
    rc = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (rc == 0) rc = ::bind(fd, address.sa(), address.len());
  const int error = rc == 0 ? 0 : errno;
  ::close(fd);
  if (error != 0) return ListenRefusal{address, error};
  return std::nullopt;
}

std::optional<ListenRefusal> probe_listen_addresses(const std::vector<SocketAddress>& addresses) {
  for (const SocketAddress& address : addresses) {
    if (auto refusal = probe_listen_address(address)) return refusal;
  }
  return std::nullopt;
}

std::string describe(const ListenRefusal& refusal, std::string_view program) {
  std::string text = "listen " + refusal.address.to_string() + ": ";
  if (refusal.error == EADDRINUSE) {
    return text + "address already in use (another " + std::string(program) + "?)";
  }
  return text + std::strerror(refusal.error);
}

}  // namespace mx
