// DnsClient's parse_answer over DNS messages built here byte by byte: what
// c-ares gives the check for each record type and each failure.
#include <ares.h>
#include <arpa/nameser.h>
#include <gtest/gtest.h>

#include "check/dns_client.h"

namespace mx::check {
namespace {

using Bytes = std::vector<unsigned char>;

void put16(Bytes& b, int v) {
  b.push_back(static_cast<unsigned char>(v >> 8));
  b.push_back(static_cast<unsigned char>(v & 0xff));
}

void put_name(Bytes& b, const std::string& name) {
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<unsigned char>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.push_back(0);
}

// A response to NAME/TYPE with one answer record per entry of `rdatas`.
Bytes response(const std::string& name, int type, const std::vector<Bytes>& rdatas) {
  Bytes b;
  put16(b, 0x1234);
  put16(b, 0x8180);
  put16(b, 1);
  put16(b, static_cast<int>(rdatas.size()));
  put16(b, 0);
  put16(b, 0);
  put_name(b, name);
  put16(b, type);
  put16(b, 1);
  for (const Bytes& rdata : rdatas) {
    put16(b, 0xc00c);  // the question's name
    put16(b, type);
    put16(b, 1);
    put16(b, 0);
    put16(b, 300);
    put16(b, static_cast<int>(rdata.size()));
    b.insert(b.end(), rdata.begin(), rdata.end());
  }
  return b;
}

Bytes txt_rdata(const std::vector<std::string>& strings) {
  Bytes r;
  for (const std::string& s : strings) {
    r.push_back(static_cast<unsigned char>(s.size()));
    r.insert(r.end(), s.begin(), s.end());
  }
  return r;
}

Bytes name_rdata(const std::string& name, int preference = -1) {
  Bytes r;
  if (preference >= 0) put16(r, preference);
  put_name(r, name);
  return r;
}

DnsAnswer parse(QueryType type, const Bytes& b) {
  return parse_answer(type, ARES_SUCCESS, b.data(), static_cast<int>(b.size()));
}

TEST(DnsAnswerParse, TxtStringsOfOneRecordAreJoined) {
  const Bytes b = response("example.org", ns_t_txt,
                           {txt_rdata({"v=spf1 ip4:192.0.2.0/24 ", "-all"}), txt_rdata({"other"})});
  const DnsAnswer a = parse(QueryType::Txt, b);
  ASSERT_EQ(a.status, DnsAnswer::Status::Ok);
  EXPECT_EQ(a.texts, (std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 -all", "other"}));
}

TEST(DnsAnswerParse, MxExchangesInPreferenceOrder) {
  const Bytes b = response("example.org", ns_t_mx,
                           {name_rdata("mx2.example.org", 20), name_rdata("mx1.example.org", 10)});
  EXPECT_EQ(parse(QueryType::Mx, b).names,
            (std::vector<std::string>{"mx1.example.org", "mx2.example.org"}));
}

TEST(DnsAnswerParse, EveryPtrName) {
  const Bytes b = response("10.2.0.192.in-addr.arpa", ns_t_ptr,
                           {name_rdata("mail.example.net"), name_rdata("smtp.example.net")});
  const DnsAnswer a = parse(QueryType::Ptr, b);
  ASSERT_EQ(a.status, DnsAnswer::Status::Ok);
  EXPECT_EQ(a.names, (std::vector<std::string>{"mail.example.net", "smtp.example.net"}));
}

TEST(DnsAnswerParse, AAndAaaaAddresses) {
  const Bytes a4 = response("h.example", ns_t_a, {{192, 0, 2, 1}, {192, 0, 2, 2}});
  const DnsAnswer a = parse(QueryType::A, a4);
  ASSERT_EQ(a.addresses.size(), 2u);
  EXPECT_EQ(a.addresses[0].ip_string(), "192.0.2.1");
  EXPECT_EQ(a.addresses[1].ip_string(), "192.0.2.2");
  Bytes six(16, 0);
  six[0] = 0x20;
  six[1] = 0x01;
  six[2] = 0x0d;
  six[3] = 0xb8;
  six[15] = 0x10;
  const DnsAnswer aaaa = parse(QueryType::Aaaa, response("h.example", ns_t_aaaa, {six}));
  ASSERT_EQ(aaaa.addresses.size(), 1u);
  EXPECT_EQ(aaaa.addresses[0].ip_string(), "2001:db8::10");
}

TEST(DnsAnswerParse, AnAnswerWithoutRecordsIsNoData) {
  EXPECT_EQ(parse(QueryType::Txt, response("example.org", ns_t_txt, {})).status,
            DnsAnswer::Status::NoData);
}

TEST(DnsAnswerParse, FailuresOfCAres) {
  EXPECT_EQ(parse_answer(QueryType::A, ARES_ENOTFOUND, nullptr, 0).status,
            DnsAnswer::Status::NoSuchName);
  EXPECT_EQ(parse_answer(QueryType::A, ARES_ENODATA, nullptr, 0).status, DnsAnswer::Status::NoData);
  EXPECT_EQ(parse_answer(QueryType::A, ARES_ETIMEOUT, nullptr, 0).status,
            DnsAnswer::Status::Timeout);
  EXPECT_EQ(parse_answer(QueryType::A, ARES_ESERVFAIL, nullptr, 0).status,
            DnsAnswer::Status::Failed);
  EXPECT_EQ(parse_answer(QueryType::A, ARES_ECONNREFUSED, nullptr, 0).status,
            DnsAnswer::Status::Failed);
  const Bytes cut(5, 0);
  EXPECT_EQ(parse(QueryType::Txt, cut).status, DnsAnswer::Status::Failed);
  EXPECT_TRUE(parse_answer(QueryType::A, ARES_ETIMEOUT, nullptr, 0).error());
  EXPECT_TRUE(parse_answer(QueryType::A, ARES_ENOTFOUND, nullptr, 0).void_lookup());
}

}  // namespace
}  // namespace mx::check
