// The stateful fuzz targets' guarantee that nothing a fuzzed CONNECT names
// leaves the machine: the process moves into a network namespace of its own
// with only `lo` up, and names are never looked up (FakeNameResolver in
// stateful_support.h answers them).
// Included once per target, through stateful_support.h.
#pragma once

#include <net/if.h>
#include <netdb.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "mxegress/util/log.h"

namespace mx::fuzz {

// Moves the process into a network namespace of its own with only `lo` up
// (as root, or through a user namespace where those are allowed), so a
// fuzzed CONNECT can reach nothing but this process's own listeners.
// Without it the targets refuse to run.
inline void isolate_network() {
  std::signal(SIGPIPE, SIG_IGN);
  if (::unshare(CLONE_NEWNET) != 0) {
    const uid_t uid = ::getuid();
    const gid_t gid = ::getgid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
      std::fprintf(stderr,
                   "stateful fuzz targets need a private network namespace: run as root, or "
                   "allow unprivileged user namespaces (unshare: %s)\n",
                   std::strerror(errno));
      std::exit(1);
    }
    // Map ourselves, so that the temporary files we create have an owner.
    std::ofstream("/proc/self/setgroups") << "deny";
    std::ofstream("/proc/self/uid_map") << uid << ' ' << uid << " 1";
    std::ofstream("/proc/self/gid_map") << gid << ' ' << gid << " 1";
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (fd < 0 || ::ioctl(fd, SIOCGIFFLAGS, &request) != 0) std::abort();
  request.ifr_flags |= IFF_UP;
  if (::ioctl(fd, SIOCSIFFLAGS, &request) != 0) {
    std::fprintf(stderr, "cannot bring lo up: %s\n", std::strerror(errno));
    std::exit(1);
  }
  ::close(fd);
  set_log_level(std::getenv("MX_FUZZ_LOG") != nullptr ? LogLevel::Debug : LogLevel::Error);
}

}  // namespace mx::fuzz
