#include "check/dns_names.h"

#include <gtest/gtest.h>

namespace mx::check {
namespace {

SocketAddress ip(const char* text) { return *SocketAddress::parse_ip(text, 0); }

TEST(DnsNames, ReverseNameOfIpv4) {
  EXPECT_EQ(reverse_name(ip("192.0.2.10")), "10.2.0.192.in-addr.arpa");
}

TEST(DnsNames, ReverseNameOfIpv6IsNibblesLowestFirst) {
  EXPECT_EQ(reverse_name(ip("2001:db8::567:89ab")),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

TEST(DnsNames, ReverseNameOfUnspecifiedIsEmpty) { EXPECT_EQ(reverse_name(SocketAddress()), ""); }

TEST(DnsNames, DnsblQueryNames) {
  EXPECT_EQ(dnsbl_query_name(ip("192.0.2.99"), "zen.test"), "99.2.0.192.zen.test");
  EXPECT_EQ(dnsbl_query_name(ip("192.0.2.99"), "zen.test."), "99.2.0.192.zen.test");
  EXPECT_EQ(dnsbl_query_name(ip("2001:db8:1:2:3:4:567:89ab"), "bl.test"),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test");
}

DnsAnswer answer(DnsAnswer::Status status, std::vector<const char*> ips = {}) {
  DnsAnswer a;
  a.status = status;
  for (const char* text : ips) a.addresses.push_back(ip(text));
  return a;
}

TEST(DnsNames, DnsblVerdicts) {
  using S = DnsblVerdict::Status;
  EXPECT_EQ(dnsbl_verdict(answer(DnsAnswer::Status::NoSuchName)).status, S::NotListed);
  EXPECT_EQ(dnsbl_verdict(answer(DnsAnswer::Status::NoData)).status, S::NotListed);
  EXPECT_EQ(dnsbl_verdict(answer(DnsAnswer::Status::Timeout)).status, S::Error);
  EXPECT_EQ(dnsbl_verdict(answer(DnsAnswer::Status::Failed)).status, S::Error);
  auto listed = dnsbl_verdict(answer(DnsAnswer::Status::Ok, {"127.0.0.2", "127.0.0.10"}));
  EXPECT_EQ(listed.status, S::Listed);
  EXPECT_EQ(listed.codes, (std::vector<std::string>{"127.0.0.2", "127.0.0.10"}));
  EXPECT_EQ(dnsbl_verdict(answer(DnsAnswer::Status::Ok, {"127.255.255.254"})).status, S::Refused);
  EXPECT_EQ(dnsbl_verdict(answer(DnsAnswer::Status::Ok, {"198.51.100.1"})).status, S::Unexpected);
  EXPECT_EQ(dnsbl_verdict(answer(DnsAnswer::Status::Ok, {"127.0.0.2", "10.0.0.1"})).status,
            S::Unexpected);
}

}  // namespace
}  // namespace mx::check
