#include "mxegress/net/socket_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>

namespace mx {
namespace {

TEST(SocketAddress, ParsesIpv4) {
  auto address = SocketAddress::parse("192.0.2.1:25");
  ASSERT_TRUE(address);
  EXPECT_EQ(address->family(), AF_INET);
  EXPECT_EQ(address->port(), 25);
  EXPECT_EQ(address->len(), sizeof(sockaddr_in));
  EXPECT_EQ(address->ip_string(), "192.0.2.1");
  EXPECT_EQ(address->to_string(), "192.0.2.1:25");
}

TEST(SocketAddress, ParsesIpv6InBrackets) {
  auto address = SocketAddress::parse("[2001:db8:0::1]:8443");
  ASSERT_TRUE(address);
  EXPECT_EQ(address->family(), AF_INET6);
  EXPECT_EQ(address->port(), 8443);
  EXPECT_EQ(address->len(), sizeof(sockaddr_in6));
  EXPECT_EQ(address->ip_string(), "2001:db8::1");
  EXPECT_EQ(address->to_string(), "[2001:db8::1]:8443");
}

TEST(SocketAddress, AcceptsPortBounds) {
  EXPECT_EQ(SocketAddress::parse("0.0.0.0:0")->port(), 0);
  EXPECT_EQ(SocketAddress::parse("[::]:65535")->port(), 65535);
}

TEST(SocketAddress, RejectsMalformedText) {
  for (const char* text : {"",
                           ":",
                           "192.0.2.1",
                           "192.0.2.1:",
                           "192.0.2.1:65536",
                           "192.0.2.1:-1",
                           "192.0.2.1:+25",
                           "192.0.2.1: 25",
                           " 192.0.2.1:25",
                           "192.0.2.256:25",
                           "192.0.2:25",
                           "01.2.3.4:25",
                           "mail.example.org:25",
                           "::1:25",
                           "[::1]",
                           "[::1]25",
                           "[192.0.2.1]:25",
                           "[::1:25",
                           "[fe80::1%eth0]:25",
                           "2001:db8::1:25",
                           "192.0.2.1:250000"}) {
    EXPECT_FALSE(SocketAddress::parse(text)) << text;
  }
}

TEST(SocketAddress, RejectsEmbeddedNul) {
  using namespace std::string_view_literals;
  EXPECT_FALSE(SocketAddress::parse("192.0.2.1\0x:25"sv));
  EXPECT_FALSE(SocketAddress::parse_ip("192.0.2.1\0"sv, 25));
}

TEST(SocketAddress, ParseIpTakesBareLiterals) {
  EXPECT_EQ(SocketAddress::parse_ip("::1", 25)->to_string(), "[::1]:25");
  EXPECT_EQ(SocketAddress::parse_ip("10.0.0.1", 587)->to_string(), "10.0.0.1:587");
  EXPECT_FALSE(SocketAddress::parse_ip("[::1]", 25));
  EXPECT_FALSE(SocketAddress::parse_ip("localhost", 25));
  EXPECT_FALSE(SocketAddress::parse_ip("", 25));
}

TEST(SocketAddress, RoundTripsThroughSockaddr) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(25);
  inet_pton(AF_INET6, "2001:db8::25", &sin6.sin6_addr);
  const auto address = SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&sin6));
  EXPECT_EQ(address.to_string(), "[2001:db8::25]:25");
  EXPECT_EQ(address, *SocketAddress::parse("[2001:db8::25]:25"));

  const auto again = SocketAddress::from_sockaddr(address.sa());
  EXPECT_EQ(again, address);
}

TEST(SocketAddress, FromSockaddrOfOtherFamilyIsUnspecified) {
  sockaddr unix_address{};
  unix_address.sa_family = AF_UNIX;
  const auto address = SocketAddress::from_sockaddr(&unix_address);
  EXPECT_EQ(address.family(), AF_UNSPEC);
  EXPECT_EQ(address.len(), 0u);
  EXPECT_TRUE(address.ip_bytes().empty());
}

TEST(SocketAddress, ConvertsToAndFromTargets) {
  const Target v4 = Target::ipv4({192, 0, 2, 7}, 25);
  const auto from_v4 = SocketAddress::from_target(v4);
  ASSERT_TRUE(from_v4);
  EXPECT_EQ(from_v4->to_string(), "192.0.2.7:25");
  EXPECT_EQ(from_v4->to_target(), v4);

  std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8};
  ip[15] = 1;
  const Target v6 = Target::ipv6(ip, 465);
  const auto from_v6 = SocketAddress::from_target(v6);
  ASSERT_TRUE(from_v6);
  EXPECT_EQ(from_v6->to_string(), "[2001:db8::1]:465");
  EXPECT_EQ(from_v6->to_target(), v6);

  EXPECT_FALSE(SocketAddress::from_target(Target::domain_name("mx.example.org", 25)));
}

TEST(SocketAddress, ComparesFamilyAddressAndPort) {
  const auto a = *SocketAddress::parse("192.0.2.1:25");
  EXPECT_EQ(a, *SocketAddress::parse("192.0.2.1:25"));
  EXPECT_NE(a, *SocketAddress::parse("192.0.2.1:26"));
  EXPECT_NE(a, *SocketAddress::parse("192.0.2.2:25"));
  EXPECT_NE(a, *SocketAddress::parse("[::ffff:192.0.2.1]:25"));
}

TEST(SocketAddress, UnmapsIpv4MappedAddresses) {
  const auto mapped = *SocketAddress::parse("[::ffff:192.0.2.1]:25");
  EXPECT_TRUE(mapped.is_ipv4_mapped());
  EXPECT_EQ(mapped.unmapped(), *SocketAddress::parse("192.0.2.1:25"));

  const auto plain = *SocketAddress::parse("[2001:db8::1]:25");
  EXPECT_FALSE(plain.is_ipv4_mapped());
  EXPECT_EQ(plain.unmapped(), plain);
  EXPECT_FALSE(SocketAddress::parse("192.0.2.1:25")->is_ipv4_mapped());
}

TEST(HostPort, ParsesNamesAndLiterals) {
  EXPECT_EQ(parse_host_port("egress.example.net:8443"), (HostPort{"egress.example.net", 8443}));
  EXPECT_EQ(parse_host_port("[::1]:8443"), (HostPort{"::1", 8443}));
  EXPECT_EQ(parse_host_port("10.0.0.1:25"), (HostPort{"10.0.0.1", 25}));
  EXPECT_EQ(parse_host_port("localhost:0"), (HostPort{"localhost", 0}));
  EXPECT_EQ(parse_host_port("mx_1.example.org.:25"), (HostPort{"mx_1.example.org.", 25}));
}

TEST(HostPort, RejectsMalformedText) {
  for (const char* text : {"", "egress.example.net", "egress.example.net:", ":8443",
                           "egress example.net:8443", "a..b:25", ".a:25", "::1:8443", "[::1]",
                           "[not-ip]:25", "host:65536", "host:port", "ho/st:25"}) {
    EXPECT_FALSE(parse_host_port(text)) << text;
  }
  EXPECT_FALSE(parse_host_port(std::string(64, 'a') + ".example:25"));
  EXPECT_FALSE(parse_host_port(std::string(254, 'a') + ":25"));
}

TEST(HostPort, PrintsIpv6WithBrackets) {
  EXPECT_EQ((HostPort{"::1", 25}).to_string(), "[::1]:25");
  EXPECT_EQ((HostPort{"mx.example.org", 25}).to_string(), "mx.example.org:25");
}

TEST(ParsePort, AcceptsOnlyDecimalDigitsInRange) {
  EXPECT_EQ(parse_port("0"), 0);
  EXPECT_EQ(parse_port("00025"), 25);
  EXPECT_EQ(parse_port("65535"), 65535);
  EXPECT_FALSE(parse_port("65536"));
  EXPECT_FALSE(parse_port("000025"));
  EXPECT_FALSE(parse_port(""));
  EXPECT_FALSE(parse_port("2a"));
}

}  // namespace
}  // namespace mx
