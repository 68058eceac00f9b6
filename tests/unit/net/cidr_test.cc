#include "mxegress/net/cidr.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

SocketAddress ip(std::string_view text) { return *SocketAddress::parse_ip(text, 25); }

TEST(Cidr, ParsesPrefixes) {
  EXPECT_EQ(Cidr::parse("10.0.0.0/8")->to_string(), "10.0.0.0/8");
  EXPECT_EQ(Cidr::parse("2001:db8::/32")->to_string(), "2001:db8::/32");
  EXPECT_EQ(Cidr::parse("2001:0db8:0000::/32")->to_string(), "2001:db8::/32");
  EXPECT_EQ(Cidr::parse("0.0.0.0/0")->prefix_length(), 0);
  EXPECT_EQ(Cidr::parse("::/0")->family(), AF_INET6);
}

TEST(Cidr, BareAddressIsOneHost) {
  EXPECT_EQ(Cidr::parse("192.0.2.1")->to_string(), "192.0.2.1/32");
  EXPECT_EQ(Cidr::parse("::1")->to_string(), "::1/128");
}

TEST(Cidr, RejectsHostBits) {
  EXPECT_FALSE(Cidr::parse("10.0.0.1/8"));
  EXPECT_FALSE(Cidr::parse("10.128.0.0/8"));
  EXPECT_FALSE(Cidr::parse("2001:db8::1/64"));
  EXPECT_FALSE(Cidr::parse("0.0.0.1/31"));
  EXPECT_TRUE(Cidr::parse("0.0.0.1/32"));
}

TEST(Cidr, RejectsMalformedText) {
  for (const char* text :
       {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/8/8", "10.0.0.0/-1",
        "10.0.0.0/ 8", "10.0.0.0/1000", "10.0.0/8", "example.org/8", "[::1]/128", "10.0.0.0/0x8"}) {
    EXPECT_FALSE(Cidr::parse(text)) << text;
  }
}

TEST(Cidr, ContainsAddressesInsideOnly) {
  const Cidr net = *Cidr::parse("192.168.0.0/16");
  EXPECT_TRUE(net.contains(ip("192.168.0.0")));
  EXPECT_TRUE(net.contains(ip("192.168.255.255")));
  EXPECT_FALSE(net.contains(ip("192.167.255.255")));
  EXPECT_FALSE(net.contains(ip("192.169.0.0")));
}

TEST(Cidr, HandlesPrefixesOffByteBoundaries) {
  const Cidr net = *Cidr::parse("100.64.0.0/10");
  EXPECT_TRUE(net.contains(ip("100.64.0.0")));
  EXPECT_TRUE(net.contains(ip("100.127.255.255")));
  EXPECT_FALSE(net.contains(ip("100.63.255.255")));
  EXPECT_FALSE(net.contains(ip("100.128.0.0")));

  const Cidr v6 = *Cidr::parse("fe80::/10");
  EXPECT_TRUE(v6.contains(ip("febf:ffff::1")));
  EXPECT_FALSE(v6.contains(ip("fec0::")));
}

TEST(Cidr, ZeroLengthMatchesItsWholeFamily) {
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(ip("255.255.255.255")));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(ip("0.0.0.0")));
  EXPECT_FALSE(Cidr::parse("0.0.0.0/0")->contains(ip("::1")));
  EXPECT_TRUE(Cidr::parse("::/0")->contains(ip("2001:db8::1")));
  EXPECT_FALSE(Cidr::parse("::/0")->contains(ip("192.0.2.1")));
}

TEST(Cidr, FullLengthMatchesOneAddress) {
  const Cidr v4 = *Cidr::parse("192.0.2.1/32");
  EXPECT_TRUE(v4.contains(ip("192.0.2.1")));
  EXPECT_FALSE(v4.contains(ip("192.0.2.0")));
  EXPECT_FALSE(v4.contains(ip("192.0.2.2")));

  const Cidr v6 = *Cidr::parse("2001:db8::1/128");
  EXPECT_TRUE(v6.contains(ip("2001:db8::1")));
  EXPECT_FALSE(v6.contains(ip("2001:db8::")));
  EXPECT_FALSE(v6.contains(ip("2001:db8::2")));
}

TEST(Cidr, Ipv4PrefixMatchesIpv4MappedAddresses) {
  const Cidr net = *Cidr::parse("127.0.0.0/8");
  EXPECT_TRUE(net.contains(ip("::ffff:127.0.0.1")));
  EXPECT_FALSE(net.contains(ip("::ffff:128.0.0.1")));
  EXPECT_FALSE(net.contains(ip("::127.0.0.1")));  // IPv4-compatible, not mapped
}

TEST(Cidr, Ipv6PrefixDoesNotMatchMappedAddresses) {
  EXPECT_FALSE(Cidr::parse("::/0")->contains(ip("::ffff:192.0.2.1")));
}

TEST(Cidr, MappedPrefixIsStoredAsIpv4) {
  const Cidr net = *Cidr::parse("::ffff:10.0.0.0/104");
  EXPECT_EQ(net.family(), AF_INET);
  EXPECT_EQ(net.to_string(), "10.0.0.0/8");
  EXPECT_TRUE(net.contains(ip("10.1.2.3")));
  EXPECT_TRUE(net.contains(ip("::ffff:10.1.2.3")));
  EXPECT_EQ(Cidr::parse("::ffff:0:0/96")->to_string(), "0.0.0.0/0");
}

}  // namespace
}  // namespace mx
