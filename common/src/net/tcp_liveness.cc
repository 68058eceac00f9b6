#include "mxegress/net/tcp_liveness.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>

namespace mx {
namespace {

// "" or "NAME: strerror".
std::string set_option(int fd, int level, int option, const char* name, int value) {
  if (::setsockopt(fd, level, option, &value, sizeof value) == 0) return {};
  return std::string(name) + ": " + std::strerror(errno);
}

// Whole seconds, at least 1: the kernel counts keepalive time in seconds.
int whole_seconds(std::chrono::milliseconds duration) {
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(duration).count();
  return static_cast<int>(std::clamp<int64_t>(seconds, 1, INT_MAX));
}

}  // namespace

std::chrono::seconds TcpLiveness::probe_interval() const {
  return std::max(std::chrono::seconds(1),
                  std::chrono::duration_cast<std::chrono::seconds>(keepalive_idle) / 3);
}

std::string apply_tcp_liveness(int fd, const TcpLiveness& liveness) {
  std::string error;
  if (liveness.keepalive_idle.count() > 0) {
    // The timings first, so that the probe timer SO_KEEPALIVE starts uses them.
    error = set_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE",
                       whole_seconds(liveness.keepalive_idle));
    if (error.empty()) {
      error = set_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL",
                         whole_seconds(liveness.probe_interval()));
    }
    if (error.empty()) {
      error = set_option(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", TcpLiveness::kProbes);
    }
    if (error.empty()) error = set_option(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1);
  } else {
    error = set_option(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 0);
  }
  // The user timeout is set even when keepalive failed: each bounds a
  // different kind of silence.
  const int64_t user_ms = std::max<int64_t>(liveness.user_timeout.count(), 0);
  std::string user_error = user_ms > INT_MAX
                               ? "TCP_USER_TIMEOUT: above INT_MAX milliseconds"
                               : set_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT",
                                            static_cast<int>(user_ms));
  if (error.empty()) return user_error;
  if (!user_error.empty()) error += "; " + user_error;
  return error;
}

}  // namespace mx
