#include "check/spf_record.h"

#include <gtest/gtest.h>

namespace mx::check::spf {
namespace {

TEST(SpfRecord, RecognisesVersionOnlyWithSpaceOrEnd) {
  EXPECT_TRUE(is_spf_record("v=spf1"));
  EXPECT_TRUE(is_spf_record("V=SPF1 -all"));
  EXPECT_FALSE(is_spf_record("v=spf10 -all"));
  EXPECT_FALSE(is_spf_record("v=spf2.0/pra -all"));
  EXPECT_FALSE(is_spf_record("google-site-verification=x"));
  EXPECT_EQ(parse_record("spf1 -all").error, ParseError::NotSpf);
}

TEST(SpfRecord, ParsesEveryMechanismWithQualifiersAndCidrs) {
  auto parsed = parse_record(
      "v=spf1  +ip4:203.0.113.0/24 -ip6:2001:db8::/32 ~a ?a:mail.example.org/28//64 "
      "mx:example.net//48 ptr:example.com include:_spf.example.net exists:x.example.org -all");
  ASSERT_TRUE(parsed.record) << parsed.term;
  const auto& m = parsed.record->mechanisms;
  ASSERT_EQ(m.size(), 9u);
  EXPECT_EQ(m[0].kind, MechanismKind::Ip4);
  EXPECT_EQ(m[0].qualifier, Qualifier::Pass);
  EXPECT_EQ(m[0].cidr4, 24);
  EXPECT_EQ(m[0].network[0], 203);
  EXPECT_EQ(m[0].text, "+ip4:203.0.113.0/24");
  EXPECT_EQ(m[1].kind, MechanismKind::Ip6);
  EXPECT_EQ(m[1].qualifier, Qualifier::Fail);
  EXPECT_EQ(m[1].cidr6, 32);
  EXPECT_EQ(m[1].network[0], 0x20);
  EXPECT_EQ(m[2].kind, MechanismKind::A);
  EXPECT_EQ(m[2].qualifier, Qualifier::SoftFail);
  EXPECT_EQ(m[2].domain, "");
  EXPECT_EQ(m[2].cidr4, 32);
  EXPECT_EQ(m[3].qualifier, Qualifier::Neutral);
  EXPECT_EQ(m[3].domain, "mail.example.org");
  EXPECT_EQ(m[3].cidr4, 28);
  EXPECT_EQ(m[3].cidr6, 64);
  EXPECT_EQ(m[4].kind, MechanismKind::Mx);
  EXPECT_EQ(m[4].cidr4, 32);
  EXPECT_EQ(m[4].cidr6, 48);
  EXPECT_EQ(m[5].kind, MechanismKind::Ptr);
  EXPECT_EQ(m[5].domain, "example.com");
  EXPECT_EQ(m[6].kind, MechanismKind::Include);
  EXPECT_EQ(m[7].kind, MechanismKind::Exists);
  EXPECT_EQ(m[8].kind, MechanismKind::All);
  EXPECT_FALSE(parsed.record->redirect);
}

TEST(SpfRecord, NamesAreCaseInsensitive) {
  auto parsed = parse_record("v=spf1 IP4:192.0.2.1 MX Redirect=example.org");
  ASSERT_TRUE(parsed.record);
  EXPECT_EQ(parsed.record->mechanisms.size(), 2u);
  EXPECT_EQ(parsed.record->redirect, "example.org");
}

TEST(SpfRecord, ModifiersRedirectExpAndUnknown) {
  auto parsed =
      parse_record("v=spf1 exp=explain.example.org foo.bar=baz redirect=_spf.example.org");
  ASSERT_TRUE(parsed.record) << parsed.term;
  EXPECT_TRUE(parsed.record->mechanisms.empty());
  EXPECT_EQ(parsed.record->redirect, "_spf.example.org");
  EXPECT_EQ(parse_record("v=spf1 redirect=a.example redirect=b.example").error,
            ParseError::DuplicateModifier);
  EXPECT_EQ(parse_record("v=spf1 exp=a.example exp=b.example").error,
            ParseError::DuplicateModifier);
  EXPECT_EQ(parse_record("v=spf1 redirect=").error, ParseError::MissingDomain);
}

struct Malformed {
  const char* record;
  ParseError error;
  const char* term;
};

class SpfRecordMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(SpfRecordMalformed, IsRefusedWithTheTerm) {
  auto parsed = parse_record(GetParam().record);
  EXPECT_FALSE(parsed.record);
  EXPECT_EQ(parsed.error, GetParam().error) << describe(parsed.error);
  EXPECT_EQ(parsed.term, GetParam().term);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SpfRecordMalformed,
    ::testing::Values(
        Malformed{"v=spf1 ip4:203.0.113/24", ParseError::BadAddress, "ip4:203.0.113/24"},
        Malformed{"v=spf1 ip4:2001:db8::1", ParseError::BadAddress, "ip4:2001:db8::1"},
        Malformed{"v=spf1 ip6:192.0.2.1", ParseError::BadAddress, "ip6:192.0.2.1"},
        Malformed{"v=spf1 ip4", ParseError::BadAddress, "ip4"},
        Malformed{"v=spf1 ip4:192.0.2.0/33", ParseError::BadCidr, "ip4:192.0.2.0/33"},
        Malformed{"v=spf1 ip4:192.0.2.0/024", ParseError::BadCidr, "ip4:192.0.2.0/024"},
        Malformed{"v=spf1 ip6:::1/129", ParseError::BadCidr, "ip6:::1/129"},
        Malformed{"v=spf1 a/24//129", ParseError::BadCidr, "a/24//129"},
        Malformed{"v=spf1 mx/", ParseError::BadCidr, "mx/"},
        Malformed{"v=spf1 include", ParseError::MissingDomain, "include"},
        Malformed{"v=spf1 exists:", ParseError::MissingDomain, "exists:"},
        Malformed{"v=spf1 include:localhost", ParseError::BadDomain, "include:localhost"},
        Malformed{"v=spf1 a:example.123", ParseError::BadDomain, "a:example.123"},
        Malformed{"v=spf1 a:ex..ample.org", ParseError::BadDomain, "a:ex..ample.org"},
        Malformed{"v=spf1 include:%{z}.example.org", ParseError::BadDomain,
                  "include:%{z}.example.org"},
        Malformed{"v=spf1 all:example.org", ParseError::UnknownMechanism, "all:example.org"},
        Malformed{"v=spf1 ip4:192.0.2.1 spam -all", ParseError::UnknownMechanism, "spam"},
        Malformed{"v=spf1 -include:", ParseError::MissingDomain, "-include:"},
        Malformed{"v=spf1 1x=y", ParseError::UnknownMechanism, "1x=y"}));

TEST(SpfRecord, MacrosParseButAreMarked) {
  auto parsed = parse_record("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all");
  ASSERT_TRUE(parsed.record) << parsed.term << ": " << describe(parsed.error);
  EXPECT_TRUE(has_macro(parsed.record->mechanisms[0].domain));
  EXPECT_FALSE(has_macro("_spf.example.org"));
}

}  // namespace
}  // namespace mx::check::spf
