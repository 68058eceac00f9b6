// The server's caps on connections not yet authenticated: in total and per
// source address (an IPv6 peer by its /64), the counters of refusals, the
// places given back when a slot goes, and a reload's new caps.
#include "startup_gate.h"

#include <gtest/gtest.h>

#include <vector>

namespace mx {
namespace {

constexpr auto kTunnel = StartupGate::Port::Tunnel;
constexpr auto kSocks5 = StartupGate::Port::Socks5;

SocketAddress peer(std::string_view text) { return *SocketAddress::parse(text); }

void set_caps(StartupGate& gate, uint32_t total, uint32_t per_address) {
  ServerConfig::Server server;
  server.max_unauthenticated = total;
  server.max_unauthenticated_per_address = per_address;
  gate.apply(server);
}

TEST(StartupGate, DefaultsAre1024InAllAnd32PerAddress) {
  StartupGate gate;
  gate.apply(ServerConfig::Server{});
  EXPECT_EQ(gate.caps().total, 1024u);
  EXPECT_EQ(gate.caps().per_key, 32u);
}

TEST(StartupGate, RefusesAnAddressAboveItsCapButNotTheOthers) {
  StartupGate gate;
  set_caps(gate, 10, 2);
  auto a1 = gate.admit(peer("192.0.2.1:1000"), kTunnel);
  auto a2 = gate.admit(peer("192.0.2.1:1001"), kSocks5);
  auto a3 = gate.admit(peer("192.0.2.1:1002"), kTunnel);
  EXPECT_TRUE(a1 && a2) << "both ports count against the same address";
  EXPECT_FALSE(a3);
  EXPECT_TRUE(gate.admit(peer("192.0.2.2:1000"), kTunnel)) << "another address is not refused";
  EXPECT_EQ(gate.refused().per_key, 1u);
  EXPECT_EQ(gate.refused().total, 0u);
  EXPECT_EQ(gate.unauthenticated_from(peer("192.0.2.1:1")), 2u);
}

TEST(StartupGate, RefusesEveryoneAboveTheTotal) {
  StartupGate gate;
  set_caps(gate, 3, 0);
  std::vector<ConcurrencyLimit::Slot> held;
  for (int i = 1; i <= 3; ++i) {
    held.push_back(gate.admit(peer("192.0.2." + std::to_string(i) + ":1"), kTunnel));
    EXPECT_TRUE(held.back());
  }
  EXPECT_FALSE(gate.admit(peer("198.51.100.7:1"), kTunnel));
  EXPECT_FALSE(gate.admit(peer("198.51.100.8:1"), kSocks5));
  EXPECT_EQ(gate.refused().total, 2u);
  EXPECT_EQ(gate.refused().per_key, 0u);
  EXPECT_EQ(gate.unauthenticated(), 3u);
}

TEST(StartupGate, ASlotGivesItsPlaceBackWhenReleasedOrDestroyed) {
  StartupGate gate;
  set_caps(gate, 0, 1);
  {
    auto a = gate.admit(peer("192.0.2.1:1"), kTunnel);
    ASSERT_TRUE(a);
    EXPECT_FALSE(gate.admit(peer("192.0.2.1:2"), kTunnel));
  }
  EXPECT_EQ(gate.unauthenticated(), 0u) << "a closed connection gave its place back";
  auto b = gate.admit(peer("192.0.2.1:3"), kTunnel);
  ASSERT_TRUE(b);
  b.release();  // authenticated
  b.release();  // idempotent
  EXPECT_EQ(gate.unauthenticated(), 0u);
  auto moved = gate.admit(peer("192.0.2.1:4"), kTunnel);
  ConcurrencyLimit::Slot carried = std::move(moved);  // passed to another loop
  EXPECT_EQ(gate.unauthenticated(), 1u) << "a moved slot is counted once";
}

TEST(StartupGate, AReloadAppliesNewCapsToNewConnections) {
  StartupGate gate;
  set_caps(gate, 0, 1);
  auto a1 = gate.admit(peer("192.0.2.1:1"), kTunnel);
  EXPECT_FALSE(gate.admit(peer("192.0.2.1:2"), kTunnel));
  ServerConfig::Server server;
  server.max_unauthenticated = 0;
  server.max_unauthenticated_per_address = 3;
  gate.apply(server);
  auto a2 = gate.admit(peer("192.0.2.1:3"), kTunnel);
  auto a3 = gate.admit(peer("192.0.2.1:4"), kTunnel);
  EXPECT_TRUE(a2 && a3);
  server.max_unauthenticated_per_address = 1;
  gate.apply(server);
  EXPECT_FALSE(gate.admit(peer("192.0.2.1:5"), kTunnel)) << "3 held, above the new cap";
  EXPECT_EQ(gate.unauthenticated(), 3u) << "connections under way keep their slots";
  server.max_unauthenticated = 0;
  server.max_unauthenticated_per_address = 0;
  gate.apply(server);
  EXPECT_TRUE(gate.admit(peer("192.0.2.1:6"), kTunnel)) << "0 = unlimited";
}

TEST(StartupGate, AnIPv6PeerCountsByItsSlash64) {
  EXPECT_EQ(StartupGate::key_for(peer("[2001:db8:1:2:aaaa::1]:443")), "2001:db8:1:2::/64");
  EXPECT_EQ(StartupGate::key_for(peer("[::ffff:192.0.2.1]:443")), "192.0.2.1");
  EXPECT_EQ(StartupGate::key_for(peer("192.0.2.1:443")), "192.0.2.1");
  StartupGate gate;
  set_caps(gate, 0, 2);
  auto a = gate.admit(peer("[2001:db8:1:2::1]:1"), kTunnel);
  auto b = gate.admit(peer("[2001:db8:1:2:ffff:ffff:ffff:ffff]:1"), kTunnel);
  EXPECT_TRUE(a && b);
  EXPECT_FALSE(gate.admit(peer("[2001:db8:1:2::99]:1"), kTunnel))
      << "a third address in the same /64 is refused";
  EXPECT_TRUE(gate.admit(peer("[2001:db8:1:3::1]:1"), kTunnel)) << "the next /64 is not";
}

TEST(StartupGate, StrangersAtTheSocks5PortAreCountedApart) {
  StartupGate gate;
  gate.refuse_stranger(peer("198.51.100.7:1"));
  gate.refuse_stranger(std::nullopt);
  EXPECT_EQ(gate.strangers(), 2u);
  EXPECT_EQ(gate.refused().total + gate.refused().per_key, 0u);
  EXPECT_EQ(gate.unauthenticated(), 0u);
}

}  // namespace
}  // namespace mx
