// The stateful fuzz targets' guarantee that nothing a fuzzed CONNECT names
// leaves the machine: the process moves into a network namespace of its own
// with only `lo` up, and names are never looked up (a fake getaddrinfo).
// Included once per target, through stateful_support.h.
#pragma once

#include <dlfcn.h>
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

// The fake resolver: names ending in ".test" are loopback (two.test: a denied
// 127.0.0.2 first, then 127.0.0.1; v6.test: ::1), every other name does not
// exist. No query ever leaves the process. libuv calls getaddrinfo from its
// thread pool; this definition in the executable takes precedence.
extern "C" int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                           struct addrinfo** res) {
  using Real = int (*)(const char*, const char*, const struct addrinfo*, struct addrinfo**);
  static const Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "getaddrinfo"));
  const std::string_view name = node != nullptr ? node : "";
  const char* literal = nullptr;
  if (name == "v6.test") {
    literal = "::1";
  } else if (name == "two.test") {
    literal = "127.0.0.2";
  } else if (name.size() > 5 && name.substr(name.size() - 5) == ".test") {
    literal = "127.0.0.1";
  }
  if (literal == nullptr || real == nullptr) return EAI_NONAME;
  addrinfo numeric{};
  numeric.ai_family = AF_UNSPEC;
  numeric.ai_socktype = hints != nullptr ? hints->ai_socktype : SOCK_STREAM;
  numeric.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  const int rc = real(literal, service, &numeric, res);
  if (rc != 0 || name != "two.test") return rc;
  addrinfo* second = nullptr;
  if (real("127.0.0.1", service, &numeric, &second) != 0) return rc;
  addrinfo* last = *res;
  while (last->ai_next != nullptr) last = last->ai_next;
  last->ai_next = second;
  return 0;
}

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
