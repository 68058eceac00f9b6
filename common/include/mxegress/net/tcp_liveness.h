// TCP-level liveness of one socket: keepalive probes on an idle connection,
// and a bound on how long sent data may stay unacknowledged
// (TCP_USER_TIMEOUT). Without them a busy connection whose path goes silent
// lingers for the kernel's ~15 minutes of retransmissions, and an idle one
// for ever. [client] and [server] set them (tcp_keepalive, tcp_user_timeout).
#pragma once

#include <chrono>
#include <string>

namespace mx {

struct TcpLiveness {
  // Unanswered keepalive probes that end a connection (TCP_KEEPCNT).
  static constexpr int kProbes = 3;

  // Idle time before the first keepalive probe (TCP_KEEPIDLE, whole seconds,
  // at most 32767 s); 0 turns keepalive off. Probes then go every
  // probe_interval().
  std::chrono::milliseconds keepalive_idle{0};
  // How long sent data may stay unacknowledged before the kernel ends the
  // connection (TCP_USER_TIMEOUT); 0 leaves the kernel's default. While it
  // is set, it also ends keepalive probing: the connection dies at the first
  // probe once nothing has been heard for this long, whatever kProbes says.
  std::chrono::milliseconds user_timeout{0};

  // max(1s, keepalive_idle / 3) (TCP_KEEPINTVL): 30 s idle gives 10 s, so
  // an idle dead peer is found within 30 + 3 * 10 = 60 s.
  std::chrono::seconds probe_interval() const;

  bool operator==(const TcpLiveness&) const = default;
};

// Sets SO_KEEPALIVE (with TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT) and
// TCP_USER_TIMEOUT on the TCP socket `fd`, each turned off by its 0.
// Returns "" or what failed, e.g. "TCP_KEEPIDLE: Invalid argument".
std::string apply_tcp_liveness(int fd, const TcpLiveness& liveness);

}  // namespace mx
