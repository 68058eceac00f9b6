#include "mxegress/net/destination_filter.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

SocketAddress ip(std::string_view text) { return *SocketAddress::parse_ip(text, 25); }

std::vector<Cidr> cidrs(std::initializer_list<std::string_view> texts) {
  std::vector<Cidr> out;
  for (auto text : texts) out.push_back(*Cidr::parse(text));
  return out;
}

struct BuiltInCase {
  const char* inside;
  const char* outside;
  const char* reason;
};

// One address at the low edge or inside each built-in range, and one just
// outside it that is ordinary public unicast.
const BuiltInCase kBuiltIn[] = {
    {"0.0.0.0", "1.0.0.0", "this network (0.0.0.0/8)"},
    {"0.255.255.255", "1.0.0.1", "this network (0.0.0.0/8)"},
    {"10.0.0.0", "11.0.0.0", "private (10.0.0.0/8)"},
    {"10.255.255.255", "9.255.255.255", "private (10.0.0.0/8)"},
    {"100.64.0.1", "100.63.255.255", "shared address space (CGNAT) (100.64.0.0/10)"},
    {"100.127.255.255", "100.128.0.0", "shared address space (CGNAT) (100.64.0.0/10)"},
    {"127.0.0.1", "128.0.0.1", "loopback (127.0.0.0/8)"},
    {"127.255.255.254", "126.255.255.255", "loopback (127.0.0.0/8)"},
    {"169.254.169.254", "169.255.0.1", "cloud metadata service (169.254.169.254/32)"},
    {"169.254.0.1", "169.253.255.255", "link-local (169.254.0.0/16)"},
    {"172.16.0.1", "172.15.255.255", "private (172.16.0.0/12)"},
    {"172.31.255.255", "172.32.0.0", "private (172.16.0.0/12)"},
    {"192.0.0.8", "192.0.1.0", "IETF protocol assignments (192.0.0.0/24)"},
    {"192.0.2.1", "192.0.3.1", "documentation (192.0.2.0/24)"},
    {"192.168.1.1", "192.169.0.1", "private (192.168.0.0/16)"},
    {"198.18.0.1", "198.17.255.255", "benchmarking (198.18.0.0/15)"},
    {"198.19.255.255", "198.20.0.0", "benchmarking (198.18.0.0/15)"},
    {"198.51.100.25", "198.51.101.25", "documentation (198.51.100.0/24)"},
    {"203.0.113.25", "203.0.114.25", "documentation (203.0.113.0/24)"},
    {"224.0.0.1", "223.255.255.255", "multicast (224.0.0.0/4)"},
    {"239.255.255.255", "223.0.0.1", "multicast (224.0.0.0/4)"},
    {"240.0.0.1", "223.255.255.254", "reserved (240.0.0.0/4)"},
    {"255.255.255.254", "8.8.8.8", "reserved (240.0.0.0/4)"},
    {"255.255.255.255", "8.8.4.4", "broadcast (255.255.255.255/32)"},
    {"::", "2001:4860:4860::8888", "unspecified (::/128)"},
    {"::1", "2a00:1450::1", "loopback (::1/128)"},
    {"::7f00:1", "2606:4700::1", "IPv4-compatible (deprecated) (::/96)"},
    {"64:ff9b:1::1", "2a00::1", "local-use NAT64 (64:ff9b:1::/48)"},
    {"100::1", "2a01::1", "discard-only (100::/64)"},
    {"2001:db8::1", "2001:db9::1", "documentation (2001:db8::/32)"},
    {"2001::1", "2001:200::1", "IETF protocol assignments (2001::/23)"},
    {"2001:1ff:ffff::1", "2001:4860::1", "IETF protocol assignments (2001::/23)"},
    {"2002:c000:0201::1", "2003::1", "6to4 (2002::/16)"},
    {"fc00::1", "2400::1", "unique-local (fc00::/7)"},
    {"fdff:ffff::1", "2600::1", "unique-local (fc00::/7)"},
    {"fe80::1", "2800::1", "link-local (fe80::/10)"},
    {"fec0::1", "2c0f::1", "site-local (deprecated) (fec0::/10)"},
    {"ff02::1", "3ffe::1", "multicast (ff00::/8)"},
    {"4000::1", "3fff:ffff::1", "not global unicast (outside 2000::/3)"},
    {"1fff::1", "2000::1", "not global unicast (outside 2000::/3)"},
};

TEST(DestinationFilter, DeniesEachBuiltInRangeAndNothingNextToIt) {
  const DestinationFilter filter;
  for (const BuiltInCase& c : kBuiltIn) {
    EXPECT_EQ(filter.denied_reason(ip(c.inside)), c.reason) << c.inside;
    EXPECT_EQ(filter.denied_reason(ip(c.outside)), std::nullopt) << c.outside;
  }
}

TEST(DestinationFilter, DeniesCloudMetadata) {
  EXPECT_TRUE(DestinationFilter().denied_reason(ip("169.254.169.254")));
}

TEST(DestinationFilter, JudgesMappedAddressesAsIpv4) {
  const DestinationFilter filter;
  EXPECT_EQ(filter.denied_reason(ip("::ffff:127.0.0.1")), "loopback (127.0.0.0/8)");
  EXPECT_EQ(filter.denied_reason(ip("::ffff:10.1.2.3")), "private (10.0.0.0/8)");
  EXPECT_EQ(filter.denied_reason(ip("::ffff:8.8.8.8")), std::nullopt);
}

TEST(DestinationFilter, JudgesNat64ByTheEmbeddedIpv4Address) {
  const DestinationFilter filter;
  EXPECT_EQ(filter.denied_reason(ip("64:ff9b::8.8.8.8")), std::nullopt);
  EXPECT_EQ(filter.denied_reason(ip("64:ff9b::127.0.0.1")),
            "loopback (127.0.0.0/8) via NAT64 (64:ff9b::/96)");
  EXPECT_EQ(filter.denied_reason(ip("64:ff9b::a9fe:a9fe")),
            "cloud metadata service (169.254.169.254/32) via NAT64 (64:ff9b::/96)");
}

TEST(DestinationFilter, AllowOverridesTheBuiltInList) {
  const DestinationFilter filter({}, cidrs({"127.0.0.0/8", "10.1.0.0/16", "fd00::/8"}));
  EXPECT_EQ(filter.denied_reason(ip("127.0.0.1")), std::nullopt);
  EXPECT_EQ(filter.denied_reason(ip("::ffff:127.0.0.1")), std::nullopt);
  EXPECT_EQ(filter.denied_reason(ip("10.1.2.3")), std::nullopt);
  EXPECT_EQ(filter.denied_reason(ip("fd12::1")), std::nullopt);
  EXPECT_EQ(filter.denied_reason(ip("10.2.0.1")), "private (10.0.0.0/8)");
  EXPECT_EQ(filter.denied_reason(ip("fc00::1")), "unique-local (fc00::/7)");
}

TEST(DestinationFilter, AllowAppliesToTheAddressBehindNat64) {
  const DestinationFilter filter({}, cidrs({"127.0.0.1"}));
  EXPECT_EQ(filter.denied_reason(ip("64:ff9b::127.0.0.1")), std::nullopt);
}

TEST(DestinationFilter, ExtraDenyDeniesPublicAddresses) {
  const DestinationFilter filter(cidrs({"8.8.8.0/24", "2001:4860::/32"}));
  EXPECT_EQ(filter.denied_reason(ip("8.8.8.8")), "denied by policy (8.8.8.0/24)");
  EXPECT_EQ(filter.denied_reason(ip("::ffff:8.8.8.8")), "denied by policy (8.8.8.0/24)");
  EXPECT_EQ(filter.denied_reason(ip("64:ff9b::8.8.8.8")), "denied by policy (8.8.8.0/24)");
  EXPECT_EQ(filter.denied_reason(ip("2001:4860::8888")), "denied by policy (2001:4860::/32)");
  EXPECT_EQ(filter.denied_reason(ip("8.8.4.4")), std::nullopt);
}

TEST(DestinationFilter, ExtraDenyBeatsAllow) {
  const DestinationFilter filter(cidrs({"127.0.0.2"}), cidrs({"127.0.0.0/8", "0.0.0.0/0"}));
  EXPECT_EQ(filter.denied_reason(ip("127.0.0.2")), "denied by policy (127.0.0.2/32)");
  EXPECT_EQ(filter.denied_reason(ip("127.0.0.1")), std::nullopt);
}

TEST(DestinationFilter, IgnoresThePort) {
  const DestinationFilter filter;
  EXPECT_TRUE(filter.denied_reason(*SocketAddress::parse("127.0.0.1:0")));
  EXPECT_FALSE(filter.denied_reason(*SocketAddress::parse("8.8.8.8:65535")));
}

}  // namespace
}  // namespace mx
