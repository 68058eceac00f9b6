// The probe of a listen address against real sockets: free, held by a plain
// listener, held by an SO_REUSEPORT group (what a second server would join).
#include "mxegress/loop/listen_probe.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace mx {
namespace {

// A loopback listener on a kernel-chosen port; `reuse_port` as the server's loops set it.
struct HeldPort {
  explicit HeldPort(bool reuse_port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    if (reuse_port) {
      EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0);
    }
    address = *SocketAddress::parse_ip("127.0.0.1", 0);
    EXPECT_EQ(::bind(fd, address.sa(), address.len()), 0);
    EXPECT_EQ(::listen(fd, 8), 0);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    address = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
  }
  ~HeldPort() { ::close(fd); }
  int fd = -1;
  SocketAddress address;
};

TEST(ListenProbe, AFreeAddressPassesAndStaysFree) {
  SocketAddress address;
  {
    HeldPort held(false);
    address = held.address;
  }
  EXPECT_EQ(probe_listen_address(address), std::nullopt);
  EXPECT_EQ(probe_listen_address(address), std::nullopt) << "the probe closed its socket";
}

TEST(ListenProbe, AnAddressSomeoneListensOnIsInUse) {
  for (const bool reuse_port : {false, true}) {
    SCOPED_TRACE(reuse_port ? "an SO_REUSEPORT group" : "a plain listener");
    HeldPort held(reuse_port);
    const auto refusal = probe_listen_address(held.address);
    ASSERT_TRUE(refusal);
    EXPECT_EQ(refusal->error, EADDRINUSE);
    EXPECT_EQ(describe(*refusal, "mxegress-server"),
              "listen " + held.address.to_string() +
                  ": address already in use (another mxegress-server?)");
  }
}

TEST(ListenProbe, TheFirstRefusedAddressOfAListIsReported) {
  HeldPort held(true);
  SocketAddress free_address;
  {
    HeldPort gone(false);
    free_address = gone.address;
  }
  const auto refusal = probe_listen_addresses({free_address, held.address});
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->address, held.address);
  EXPECT_EQ(probe_listen_addresses({free_address}), std::nullopt);
}

TEST(ListenProbe, OtherErrorsAreNamedWithoutTheGuess) {
  // 192.0.2.1 (TEST-NET-1) is not an address of this host.
  const ListenRefusal refusal =
      probe_listen_address(*SocketAddress::parse_ip("192.0.2.1", 2525)).value();
  EXPECT_EQ(refusal.error, EADDRNOTAVAIL);
  EXPECT_EQ(describe(refusal, "mxegress-client"),
            "listen 192.0.2.1:2525: Cannot assign requested address");
}

}  // namespace
}  // namespace mx
