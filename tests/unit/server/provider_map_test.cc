// The provider of an MX host: registrable domains by the Public Suffix List,
// the built-in rollup of the big receivers, the operator's entries, and the
// host name an SMTP greeting announces.
#include "smtp/provider_map.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace mx {
namespace {

TEST(ProviderMap, ProviderIsTheRegistrableDomain) {
  ProviderMap map;
  EXPECT_EQ(map.provider_of("mx1.mail.example.co.uk"), "example.co.uk");
  EXPECT_EQ(map.provider_of("mx.example.com"), "example.com");
  EXPECT_EQ(map.provider_of("example.com"), "example.com");
  EXPECT_EQ(map.provider_of("a.b.c.example.org"), "example.org");
  // A private-section suffix: each GitHub Pages user is a registrable domain.
  EXPECT_EQ(map.provider_of("mx.alice.github.io"), "alice.github.io");
}

TEST(ProviderMap, WildcardAndExceptionRulesOfTheList) {
  ProviderMap map;
  // "*.ck": every name under ck is a public suffix, "example.ck" included.
  EXPECT_EQ(map.provider_of("mx.example.ck"), "mx.example.ck");
  EXPECT_EQ(map.provider_of("a.mx.example.ck"), "mx.example.ck");
  // "!www.ck": the exception makes www.ck itself registrable.
  EXPECT_EQ(map.provider_of("mx.www.ck"), "www.ck");
  // "*.kawasaki.jp" with "!city.kawasaki.jp".
  EXPECT_EQ(map.provider_of("mx.foo.kawasaki.jp"), "mx.foo.kawasaki.jp");
  EXPECT_EQ(map.provider_of("mx.city.kawasaki.jp"), "city.kawasaki.jp");
}

TEST(ProviderMap, PublicSuffixesIpLiteralsAndGarbageHaveNoProvider) {
  ProviderMap map;
  for (std::string_view host :
       {"", ".", "com", "co.uk", "foo.ck", "localhost", "192.0.2.1", "[192.0.2.1]", "2001:db8::1",
        "[IPv6:2001:db8::1]", "mx..example.com", ".example.com", "-mx.example.com",
        "mx-.example.com", "mx_1.example.com", "mx example.com", "mx.example.com..",
        "m\xc3\xbcller.example.com", "mx.example.123"}) {
    EXPECT_EQ(map.provider_of(host), "") << host;
  }
  EXPECT_EQ(map.provider_of(std::string(64, 'a') + ".example.com"), "") << "a label of 64";
  EXPECT_EQ(map.provider_of(std::string(63, 'a') + ".example.com"), "example.com");
  std::string long_name;
  while (long_name.size() < 250) long_name += "abcdefghi.";
  EXPECT_EQ(map.provider_of(long_name + "example.com"), "") << "longer than 253";
}

TEST(ProviderMap, CaseAndOneTrailingDotDoNotMatter) {
  ProviderMap map;
  EXPECT_EQ(map.provider_of("MX1.Mail.Example.CO.UK."), "example.co.uk");
  EXPECT_EQ(map.provider_of("ASPMX.L.GOOGLE.COM."), "google");
  EXPECT_EQ(map.provider_of("Example.Com"), "example.com");
}

TEST(ProviderMap, BuiltinRollupOfTheBigReceivers) {
  ProviderMap map;
  const std::pair<std::string_view, std::string_view> mx_hosts[] = {
      {"contoso-com.mail.protection.outlook.com", "microsoft"},
      {"hotmail-com.olc.protection.outlook.com", "microsoft"},
      {"contoso-us.mail.protection.office365.us", "microsoft"},
      {"am0pr02ca0123.outlook.office365.com", "microsoft"},
      {"gmail-smtp-in.l.google.com", "google"},
      {"aspmx.l.google.com", "google"},
      {"alt1.aspmx.l.googlemail.com", "google"},
      {"wa-in-f26.1e100.net", "google"},
      {"mta5.am0.yahoodns.net", "yahoo"},
      {"mx-aol.mail.gm0.yahoodns.net", "yahoo"},
      {"mtaproxy1.free.mail.ne1.yahoo.com", "yahoo"},
      {"mx00.gmx.net", "gmx"},
      {"mx01.emig.gmx.net", "gmx"},
      {"mx-ha03.web.de", "gmx"},
      {"mx00.gmx.com", "gmx"},
      {"mx00.mail.com", "gmx"},
      {"mx00.t-online.de", "t-online"},
      {"mx01.mail.icloud.com", "icloud"},
      {"mx.me.com", "icloud"},
      {"mx.mac.com", "icloud"},
      {"mx.yandex.ru", "yandex"},
      {"mx.yandex.net", "yandex"},
      {"mxs.mail.ru", "mailru"},
      {"smtp-in.orange.fr", "orange"},
      {"mx1a1.comcast.net", "comcast"},
      {"mail.protonmail.ch", "proton"},
      {"mailsec.protonmail.ch", "proton"},
      {"mx.zoho.com", "zoho"},
      {"mx.zoho.eu", "zoho"},
      {"mx.zoho.in", "zoho"},
      {"eu-smtp-inbound-1.mimecast.com", "mimecast"},
      {"mx0a-00123456.pphosted.com", "proofpoint"},
      {"mx1-us1.ppe-hosted.com", "proofpoint"},
      {"mxbiz1.qq.com", "tencent"},
      {"163mx01.mxmail.netease.com", "netease"},
      {"mx.163.com", "netease"},
      {"mx.126.com", "netease"},
  };
  for (auto [host, provider] : mx_hosts) EXPECT_EQ(map.provider_of(host), provider) << host;
}

TEST(ProviderMap, RollupMatchesWholeLabelsOnly) {
  ProviderMap map;
  EXPECT_EQ(map.provider_of("mx.notgoogle.com"), "notgoogle.com");
  EXPECT_EQ(map.provider_of("mx.google.com.example.net"), "example.net");
  EXPECT_EQ(map.provider_of("google.com"), "google");
}

TEST(ProviderMap, OperatorEntriesExtendAndOverrideTheRollup) {
  ProviderMap map({{"example.net", "examplecorp"},
                   {"example.org", "examplecorp"},
                   {"outlook.com", "ms"},
                   {"Mixed.Example.", "mixed"}});
  EXPECT_EQ(map.provider_of("mx1.example.net"), "examplecorp");
  EXPECT_EQ(map.provider_of("mx2.example.org"), "examplecorp");
  EXPECT_EQ(map.provider_of("contoso-com.mail.protection.outlook.com"), "ms");
  EXPECT_EQ(map.provider_of("mx.office365.us"), "microsoft") << "the rest of the rollup stays";
  EXPECT_EQ(map.provider_of("mx.mixed.example"), "mixed") << "keys are normalised too";
  EXPECT_EQ(map.provider_of("mx.example.com"), "example.com");
}

TEST(ProviderMap, LongestMatchingDomainWinsAndOperatorEntriesComeFirst) {
  ProviderMap map({{"example.com", "outer"},
                   {"eu.example.com", "inner"},
                   {"eu.mimecast.com", "mimecast-eu"},
                   {"hosting.co.uk", "hosting"}});
  EXPECT_EQ(map.provider_of("mx.eu.example.com"), "inner");
  EXPECT_EQ(map.provider_of("mx.us.example.com"), "outer");
  EXPECT_EQ(map.provider_of("eu.example.com"), "inner");
  EXPECT_EQ(map.provider_of("eu-smtp-inbound-1.eu.mimecast.com"), "mimecast-eu");
  EXPECT_EQ(map.provider_of("us-smtp-inbound-1.mimecast.com"), "mimecast");
  // An operator's entry may name a domain that is not registrable itself
  // (a shared hosting domain) to split it below the PSL's answer.
  EXPECT_EQ(map.provider_of("mx.tenant.hosting.co.uk"), "hosting");
}

TEST(ProviderMap, ConcurrentLookupsAgree) {
  ProviderMap map(std::map<std::string, std::string>{{"example.net", "examplecorp"}});
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        wrong[t] += map.provider_of("mx1.mail.example.co.uk") != "example.co.uk";
        wrong[t] += map.provider_of("aspmx.l.google.com") != "google";
        wrong[t] += map.provider_of("mx.example.net") != "examplecorp";
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

TEST(ProviderMapBanner, FirstWordOfRealGreetings) {
  EXPECT_EQ(ProviderMap::banner_host(
                "mx.google.com ESMTP a640c23a62f3a-a9a0f1a1b2csi123456766b.123 - gsmtp"),
            "mx.google.com");
  // Microsoft 365's MX hosts greet with the front end's own name first.
  EXPECT_EQ(ProviderMap::banner_host("AM0PEPF00000001.mail.protection.outlook.com Microsoft ESMTP "
                                     "MAIL Service ready at Mon, 7 Dec 2026 01:20:12 +0000 "
                                     "[08DD0123456789AB]"),
            "am0pepf00000001.mail.protection.outlook.com");
  EXPECT_EQ(ProviderMap::banner_host("BN8NAM12FT053.eop-nam12.prod.protection.outlook.com "
                                     "Microsoft ESMTP MAIL Service ready at Mon, 7 Dec 2026"),
            "bn8nam12ft053.eop-nam12.prod.protection.outlook.com");
  EXPECT_EQ(ProviderMap::banner_host("mx.example.net ESMTP ready"), "mx.example.net");
  EXPECT_EQ(ProviderMap::banner_host("mx.example.net. ESMTP Postfix"), "mx.example.net");
  EXPECT_EQ(ProviderMap::banner_host("mx.example.net"), "mx.example.net");
  EXPECT_EQ(ProviderMap::banner_host("  mx.example.net\tESMTP"), "mx.example.net");
  EXPECT_EQ(ProviderMap::banner_host("mx.example.net\r\n"), "mx.example.net");
  EXPECT_EQ(ProviderMap::banner_host("mta1009.mail.gq1.yahoo.com ESMTP ready"),
            "mta1009.mail.gq1.yahoo.com");
}

TEST(ProviderMapBanner, NoHostName) {
  for (std::string_view text :
       {"", " ", "ESMTP Postfix", "ESMTP", "[192.0.2.1] ESMTP", "192.0.2.1 ESMTP ready",
        "[IPv6:2001:db8::1] ready", "localhost ESMTP", "mx. ESMTP", "Service ready",
        "m\xc3\xbcller.example.com ESMTP", "\xe9\x82\xae\xe4\xbb\xb6.example ESMTP",
        "mx_1.example.com ESMTP", "*.example.com ESMTP", "mx..example.com ESMTP"}) {
    EXPECT_EQ(ProviderMap::banner_host(text), std::nullopt) << text;
  }
}

TEST(ProviderMapBanner, TheAnnouncedHostHasAProvider) {
  ProviderMap map;
  auto host = ProviderMap::banner_host(
      "BN8NAM12FT053.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready");
  ASSERT_TRUE(host);
  EXPECT_EQ(map.provider_of(*host), "microsoft");
}

}  // namespace
}  // namespace mx
