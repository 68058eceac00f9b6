#include "check/spf_check.h"

#include <gtest/gtest.h>

#include <initializer_list>

namespace mx::check::spf {
namespace {

// A fake DNS: the records each name has; any name and type not listed is
// NXDOMAIN unless the name exists with another type (then NODATA). Counts
// the queries the evaluator asked for.
class FakeDns {
 public:
  FakeDns& txt(const std::string& name, std::initializer_list<const char*> texts) {
    auto& a = at(QueryType::Txt, name);
    for (const char* t : texts) a.texts.push_back(t);
    return *this;
  }
  FakeDns& a(const std::string& name, std::initializer_list<const char*> ips) {
    for (const char* text : ips) {
      auto ip = *SocketAddress::parse_ip(text, 0);
      at(ip.family() == AF_INET ? QueryType::A : QueryType::Aaaa, name).addresses.push_back(ip);
    }
    return *this;
  }
  FakeDns& mx(const std::string& name, std::initializer_list<const char*> hosts) {
    for (const char* h : hosts) at(QueryType::Mx, name).names.push_back(h);
    return *this;
  }
  FakeDns& ptr(const std::string& name, std::initializer_list<const char*> hosts) {
    for (const char* h : hosts) at(QueryType::Ptr, name).names.push_back(h);
    return *this;
  }
  FakeDns& fail(QueryType type, const std::string& name, DnsAnswer::Status status) {
    at(type, name).status = status;
    return *this;
  }

  Verdict check(const char* ip, const char* domain) {
    Answers answers;
    asked.clear();
    for (int i = 0; i < 100; ++i) {
      Step step = check_host(*SocketAddress::parse_ip(ip, 0), domain, answers);
      if (!step.need) return step.verdict;
      EXPECT_FALSE(answers.contains(*step.need)) << "asked twice for " << step.need->name;
      asked.push_back(*step.need);
      answers[*step.need] = lookup(*step.need);
    }
    ADD_FAILURE() << "no verdict after 100 answers";
    return {};
  }

  std::vector<DnsQuery> asked;

 private:
  DnsAnswer& at(QueryType type, const std::string& name) {
    auto [it, added] = records_.try_emplace(DnsQuery{type, name});
    if (added) it->second.status = DnsAnswer::Status::Ok;
    return it->second;
  }
  DnsAnswer lookup(const DnsQuery& q) const {
    if (auto it = records_.find(q); it != records_.end()) return it->second;
    DnsAnswer none;
    none.status = DnsAnswer::Status::NoSuchName;
    for (const auto& [key, value] : records_) {
      if (key.name == q.name) none.status = DnsAnswer::Status::NoData;
    }
    return none;
  }
  std::map<DnsQuery, DnsAnswer> records_;
};

TEST(SpfCheck, Ip4PassAndFailWithTheDecidingMechanism) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 ip4:203.0.113.0/24 -all"});
  Verdict pass = dns.check("203.0.113.7", "Example.ORG.");
  EXPECT_EQ(pass.result, Result::Pass);
  EXPECT_EQ(pass.mechanism, "ip4:203.0.113.0/24");
  EXPECT_EQ(pass.domain, "example.org");
  EXPECT_EQ(describe(pass), "pass (ip4:203.0.113.0/24 in example.org)");
  Verdict fail = dns.check("198.51.100.7", "example.org");
  EXPECT_EQ(fail.result, Result::Fail);
  EXPECT_EQ(fail.mechanism, "-all");
  Verdict v6 = dns.check("2001:db8::1", "example.org");
  EXPECT_EQ(v6.result, Result::Fail) << "ip4 never matches an IPv6 address";
}

TEST(SpfCheck, Ip6WithPrefixAndHostBits) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 ip6:2001:db8:1::1/48 ip4:192.0.2.77/30 ~all"});
  EXPECT_EQ(dns.check("2001:db8:1:ffff::9", "example.org").result, Result::Pass);
  EXPECT_EQ(dns.check("2001:db8:2::9", "example.org").result, Result::SoftFail);
  EXPECT_EQ(dns.check("192.0.2.78", "example.org").result, Result::Pass);
  EXPECT_EQ(dns.check("192.0.2.80", "example.org").result, Result::SoftFail);
}

TEST(SpfCheck, QualifiersAndDefaultNeutral) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 ?ip4:192.0.2.1 ~ip4:192.0.2.2 +ip4:192.0.2.3"});
  EXPECT_EQ(dns.check("192.0.2.1", "example.org").result, Result::Neutral);
  EXPECT_EQ(dns.check("192.0.2.2", "example.org").result, Result::SoftFail);
  EXPECT_EQ(dns.check("192.0.2.3", "example.org").result, Result::Pass);
  Verdict nothing = dns.check("192.0.2.4", "example.org");
  EXPECT_EQ(nothing.result, Result::Neutral);
  EXPECT_EQ(nothing.mechanism, "");
  EXPECT_EQ(describe(nothing), "neutral (no mechanism matched in example.org)");
}

TEST(SpfCheck, NoRecordNoDomainAndNonSpfTexts) {
  FakeDns dns;
  dns.txt("example.org", {"google-site-verification=abc", "v=spf10"});
  Verdict v = dns.check("192.0.2.1", "example.org");
  EXPECT_EQ(v.result, Result::None);
  EXPECT_EQ(v.problem, Problem::NoRecord);
  EXPECT_EQ(describe(v), "none (no SPF record at example.org)");
  EXPECT_EQ(dns.check("192.0.2.1", "nowhere.example").result, Result::None);
  Verdict bad = dns.check("192.0.2.1", "localhost");
  EXPECT_EQ(bad.problem, Problem::BadDomain);
  EXPECT_TRUE(dns.asked.empty());
}

TEST(SpfCheck, MultipleRecordsArePermerror) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 -all", "v=spf1 +all"});
  Verdict v = dns.check("192.0.2.1", "example.org");
  EXPECT_EQ(v.result, Result::PermError);
  EXPECT_EQ(v.problem, Problem::MultipleRecords);
}

TEST(SpfCheck, MalformedRecordIsPermerrorEvenAfterAMatch) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 +all ip4:300.1.1.1"});
  Verdict v = dns.check("192.0.2.1", "example.org");
  EXPECT_EQ(v.result, Result::PermError);
  EXPECT_EQ(v.problem, Problem::Syntax);
  EXPECT_EQ(v.detail, "ip4:300.1.1.1: malformed address");
}

TEST(SpfCheck, TxtTimeoutIsTemperror) {
  FakeDns dns;
  dns.fail(QueryType::Txt, "example.org", DnsAnswer::Status::Timeout);
  Verdict v = dns.check("192.0.2.1", "example.org");
  EXPECT_EQ(v.result, Result::TempError);
  EXPECT_EQ(describe(v), "temperror (DNS error in example.org: TXT example.org: timeout)");
}

TEST(SpfCheck, AMechanismWithDomainAndDualCidr) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 a a:out.example.net/24//64 -all"})
      .a("example.org", {"192.0.2.5"})
      .a("out.example.net", {"198.51.100.1", "2001:db8:5::1"});
  EXPECT_EQ(dns.check("192.0.2.5", "example.org").mechanism, "a");
  EXPECT_EQ(dns.check("198.51.100.200", "example.org").mechanism, "a:out.example.net/24//64");
  EXPECT_EQ(dns.check("2001:db8:5::ffff", "example.org").result, Result::Pass);
  EXPECT_EQ(dns.check("2001:db8:6::1", "example.org").result, Result::Fail);
  // An IPv6 address asks for AAAA records only.
  for (const DnsQuery& q : dns.asked) EXPECT_NE(q.type, QueryType::A) << q.name;
}

TEST(SpfCheck, MxMechanismLooksUpEachExchange) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 mx mx:example.net/28 -all"})
      .mx("example.org", {"mx1.example.org", "mx2.example.org"})
      .a("mx1.example.org", {"192.0.2.1"})
      .a("mx2.example.org", {"192.0.2.2"})
      .mx("example.net", {"mx.example.net"})
      .a("mx.example.net", {"198.51.100.16"});
  EXPECT_EQ(dns.check("192.0.2.2", "example.org").mechanism, "mx");
  EXPECT_EQ(dns.check("198.51.100.31", "example.org").mechanism, "mx:example.net/28");
  EXPECT_EQ(dns.check("198.51.100.32", "example.org").result, Result::Fail);
}

TEST(SpfCheck, MoreThanTenMxNamesIsPermerror) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 mx -all"})
      .mx("example.org", {"a.example.org", "b.example.org", "c.example.org", "d.example.org",
                          "e.example.org", "f.example.org", "g.example.org", "h.example.org",
                          "i.example.org", "j.example.org", "k.example.org"});
  EXPECT_EQ(dns.check("192.0.2.1", "example.org").problem, Problem::TooManyNames);
}

TEST(SpfCheck, IncludePassMatchesAndReportsTheInnerMechanism) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 include:_spf.example.net -all"})
      .txt("_spf.example.net", {"v=spf1 ip4:203.0.113.0/24 -all"});
  Verdict v = dns.check("203.0.113.9", "example.org");
  EXPECT_EQ(v.result, Result::Pass);
  EXPECT_EQ(describe(v), "pass (ip4:203.0.113.0/24 in _spf.example.net)");
  // The inner -all is "no match" for the include; the outer -all decides.
  Verdict f = dns.check("192.0.2.9", "example.org");
  EXPECT_EQ(f.result, Result::Fail);
  EXPECT_EQ(f.domain, "example.org");
}

TEST(SpfCheck, IncludeQualifierAppliesToItsMatch) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 ~include:_spf.example.net"})
      .txt("_spf.example.net", {"v=spf1 ip4:203.0.113.0/24"});
  EXPECT_EQ(dns.check("203.0.113.9", "example.org").result, Result::SoftFail);
}

TEST(SpfCheck, IncludeOfNoRecordIsPermerrorAndErrorsPropagate) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 include:none.example.net -all"})
      .txt("err.example.org", {"v=spf1 include:slow.example.net -all"})
      .fail(QueryType::Txt, "slow.example.net", DnsAnswer::Status::Failed);
  Verdict v = dns.check("192.0.2.1", "example.org");
  EXPECT_EQ(v.result, Result::PermError);
  EXPECT_EQ(v.problem, Problem::IncludeWithoutRecord);
  EXPECT_EQ(dns.check("192.0.2.1", "err.example.org").result, Result::TempError);
}

TEST(SpfCheck, RedirectAppliesOnlyWhenNothingMatched) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 ip4:192.0.2.1 redirect=_spf.example.net"})
      .txt("_spf.example.net", {"v=spf1 ip4:198.51.100.0/24 ~all"})
      .txt("all.example.org", {"v=spf1 -all redirect=_spf.example.net"})
      .txt("gone.example.org", {"v=spf1 redirect=none.example.net"});
  EXPECT_EQ(dns.check("192.0.2.1", "example.org").domain, "example.org");
  Verdict via = dns.check("198.51.100.4", "example.org");
  EXPECT_EQ(via.result, Result::Pass);
  EXPECT_EQ(via.domain, "_spf.example.net");
  EXPECT_EQ(dns.check("203.0.113.1", "example.org").result, Result::SoftFail);
  EXPECT_EQ(dns.check("198.51.100.4", "all.example.org").result, Result::Fail);
  EXPECT_EQ(dns.check("198.51.100.4", "gone.example.org").problem, Problem::RedirectWithoutRecord);
}

TEST(SpfCheck, ExistsMatchesAnyARecord) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 exists:yes.example.org -all"})
      .txt("no.example.org", {"v=spf1 exists:missing.example.org ?all"})
      .a("yes.example.org", {"127.0.0.2"});
  EXPECT_EQ(dns.check("2001:db8::1", "example.org").result, Result::Pass);
  EXPECT_EQ(dns.asked.back().type, QueryType::A) << "exists asks for A even for IPv6";
  EXPECT_EQ(dns.check("192.0.2.1", "no.example.org").result, Result::Neutral);
}

TEST(SpfCheck, PtrMatchesValidatedNamesUnderTheDomain) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 ptr -all"})
      .ptr("1.2.0.192.in-addr.arpa", {"mail.example.org"})
      .a("mail.example.org", {"192.0.2.1"})
      .ptr("2.2.0.192.in-addr.arpa", {"liar.example.org"})
      .a("liar.example.org", {"192.0.2.99"});
  EXPECT_EQ(dns.check("192.0.2.1", "example.org").result, Result::Pass);
  EXPECT_EQ(dns.check("192.0.2.2", "example.org").result, Result::Fail);
}

TEST(SpfCheck, ElevenLookupTermsArePermerror) {
  FakeDns dns;
  std::string record = "v=spf1";
  for (int i = 0; i < 11; ++i) record += " a:h" + std::to_string(i) + ".example.org";
  record += " -all";
  for (int i = 0; i < 11; ++i) dns.a("h" + std::to_string(i) + ".example.org", {"192.0.2.200"});
  dns.txt("example.org", {record.c_str()});
  Verdict v = dns.check("192.0.2.1", "example.org");
  EXPECT_EQ(v.result, Result::PermError);
  EXPECT_EQ(v.problem, Problem::TooManyLookups);
  EXPECT_EQ(dns.asked.size(), 11u) << "the TXT and ten A lookups, no eleventh";
}

TEST(SpfCheck, TenLookupTermsAcrossIncludesAreAllowed) {
  FakeDns dns;
  // 1 include + 9 a in the included record: exactly ten.
  std::string inner = "v=spf1";
  for (int i = 0; i < 9; ++i) {
    inner += " a:h" + std::to_string(i) + ".example.net";
    dns.a("h" + std::to_string(i) + ".example.net", {"192.0.2.200"});
  }
  inner += " ip4:192.0.2.1";
  dns.txt("example.org", {"v=spf1 include:example.net -all"}).txt("example.net", {inner.c_str()});
  EXPECT_EQ(dns.check("192.0.2.1", "example.org").result, Result::Pass);
}

TEST(SpfCheck, IncludeLoopEndsInPermerror) {
  FakeDns dns;
  dns.txt("a.example", {"v=spf1 include:b.example -all"})
      .txt("b.example", {"v=spf1 include:a.example -all"});
  EXPECT_EQ(dns.check("192.0.2.1", "a.example").problem, Problem::TooManyLookups);
}

TEST(SpfCheck, ThirdVoidLookupIsPermerror) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 a:v1.example.org a:v2.example.org -all"})
      .txt("three.example.org",
           {"v=spf1 a:v1.example.org a:v2.example.org mx:v3.example.org -all"});
  EXPECT_EQ(dns.check("192.0.2.1", "example.org").result, Result::Fail);
  Verdict v = dns.check("192.0.2.1", "three.example.org");
  EXPECT_EQ(v.result, Result::PermError);
  EXPECT_EQ(v.problem, Problem::TooManyVoidLookups);
}

TEST(SpfCheck, MechanismLookupErrorIsTemperror) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 a:slow.example.org -all"})
      .fail(QueryType::A, "slow.example.org", DnsAnswer::Status::Timeout);
  Verdict v = dns.check("192.0.2.1", "example.org");
  EXPECT_EQ(v.result, Result::TempError);
  EXPECT_EQ(v.detail, "A slow.example.org: timeout");
}

TEST(SpfCheck, MacrosAreExpandedWithPostmasterAsSender) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 exists:%{ir}.%{l}._spf.%{d} include:%{o}.inc.example.net -all"})
      .a("1.2.0.192.postmaster._spf.example.org", {"127.0.0.2"})
      .txt("example.org.inc.example.net", {"v=spf1 ip4:192.0.2.7 -all"});
  Verdict v = dns.check("192.0.2.1", "example.org");
  EXPECT_EQ(v.result, Result::Pass);
  EXPECT_EQ(v.mechanism, "exists:%{ir}.%{l}._spf.%{d}");
  EXPECT_EQ(dns.check("192.0.2.7", "example.org").domain, "example.org.inc.example.net");
  EXPECT_EQ(dns.check("192.0.2.8", "example.org").result, Result::Fail);
}

TEST(SpfCheck, MacroDIsTheCurrentDomainInsideAnInclude) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 include:inc.example.net -all"})
      .txt("inc.example.net", {"v=spf1 a:mail.%{d} redirect=%{o}.r.example.net"})
      .a("mail.inc.example.net", {"192.0.2.1"})
      .txt("example.org.r.example.net", {"v=spf1 ip4:192.0.2.2"});
  EXPECT_EQ(dns.check("192.0.2.1", "example.org").mechanism, "a:mail.%{d}");
  EXPECT_EQ(dns.check("192.0.2.2", "example.org").domain, "example.org.r.example.net");
}

TEST(SpfCheck, UnknowableMacrosArePermerrorNotGuessed) {
  FakeDns dns;
  dns.txt("example.org", {"v=spf1 ip4:192.0.2.1 exists:%{h}._spf.example.org -all"})
      .txt("bad.example.org", {"v=spf1 exists:%{c}.example.org -all"});
  EXPECT_EQ(dns.check("192.0.2.1", "example.org").result, Result::Pass) << "before the macro";
  Verdict v = dns.check("192.0.2.2", "example.org");
  EXPECT_EQ(v.result, Result::PermError);
  EXPECT_EQ(v.problem, Problem::MacroNotSupported);
  EXPECT_EQ(describe(v),
            "permerror (macro not supported in example.org: exists:%{h}._spf.example.org: %{h})");
  Verdict c = dns.check("192.0.2.2", "bad.example.org");
  EXPECT_EQ(c.result, Result::PermError);
  EXPECT_EQ(c.problem, Problem::Syntax);
}

}  // namespace
}  // namespace mx::check::spf
