// The table and JSON of `mxegress-server check`, from reports built here.
#include "check/check_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace mx::check {
namespace {

CheckResult result(std::string check, Outcome outcome, std::string detail,
                   std::map<std::string, std::string> facts = {},
                   std::vector<std::string> values = {}) {
  return {std::move(check), outcome, std::move(detail), std::move(facts), std::move(values)};
}

std::vector<TenantReport> reports(Outcome dnsbl) {
  TenantReport acme;
  acme.tenant = "acme";
  acme.domain = "example.org";
  AddressReport a;
  a.address = *SocketAddress::parse_ip("192.0.2.10", 0);
  a.checks = {result("bind", Outcome::Ok, "bindable"),
              result("ptr", Outcome::Ok, "ptr mail.example.net", {}, {"mail.example.net"}),
              result("spf", Outcome::Skipped, "spf skipped"),
              result("dnsbl", dnsbl, "listed on zen.test: 127.0.0.2 'why'",
                     {{"zone", "zen.test"}, {"reason", "why"}}, {"127.0.0.2"})};
  acme.addresses.push_back(a);
  TenantReport any;
  any.tenant = "other";
  any.any_source = true;
  return {acme, any};
}

TEST(CheckReport, SkippedIsNotAFailureAnyTenantNeither) {
  EXPECT_TRUE(all_ok(reports(Outcome::Ok)));
  EXPECT_FALSE(all_ok(reports(Outcome::Fail)));
  EXPECT_FALSE(all_ok(reports(Outcome::Error))) << "a DNS error is not a pass";
}

TEST(CheckReport, JsonFieldByField) {
  const auto j = nlohmann::json::parse(to_json(reports(Outcome::Fail)));
  EXPECT_EQ(j["ok"], false);
  ASSERT_EQ(j["tenants"].size(), 2u);
  const auto& acme = j["tenants"][0];
  EXPECT_EQ(acme["tenant"], "acme");
  EXPECT_EQ(acme["source"], "list");
  EXPECT_EQ(acme["domain"], "example.org");
  EXPECT_EQ(acme["ok"], false);
  const auto& address = acme["addresses"][0];
  EXPECT_EQ(address["address"], "192.0.2.10");
  EXPECT_EQ(address["ok"], false);
  const auto& checks = address["checks"];
  ASSERT_EQ(checks.size(), 4u);
  EXPECT_EQ(checks[0]["check"], "bind");
  EXPECT_EQ(checks[0]["result"], "ok");
  EXPECT_EQ(checks[1]["names"], nlohmann::json::array({"mail.example.net"}));
  EXPECT_EQ(checks[2]["result"], "skipped");
  EXPECT_EQ(checks[3]["result"], "fail");
  EXPECT_EQ(checks[3]["zone"], "zen.test");
  EXPECT_EQ(checks[3]["reason"], "why");
  EXPECT_EQ(checks[3]["codes"], nlohmann::json::array({"127.0.0.2"}));
  const auto& other = j["tenants"][1];
  EXPECT_EQ(other["source"], "any");
  EXPECT_EQ(other["ok"], true);
  EXPECT_TRUE(other["addresses"].empty());
}

TEST(CheckReport, JsonOfABadByteIsStillJson) {
  auto r = reports(Outcome::Fail);
  r[0].addresses[0].checks[3].facts["reason"] = "bad \xff byte";
  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j["tenants"][0]["addresses"][0]["checks"][3]["reason"], "bad \xef\xbf\xbd byte");
}

TEST(CheckReport, TableHasALinePerCheckAndASummary) {
  std::ostringstream out;
  print_table(out, reports(Outcome::Error));
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 7u) << out.str();
  EXPECT_TRUE(lines[0].starts_with("TENANT  ADDRESS     CHECK")) << lines[0];
  EXPECT_NE(lines[1].find("bind            ok"), std::string::npos) << lines[1];
  EXPECT_NE(lines[3].find("skipped"), std::string::npos) << lines[3];
  EXPECT_NE(lines[4].find("dnsbl zen.test  FAIL     listed on zen.test"), std::string::npos)
      << lines[4];
  EXPECT_TRUE(lines[5].starts_with("other   any")) << lines[5];
  EXPECT_EQ(lines[6], "1 addresses checked, 1 with a failing check");
}

}  // namespace
}  // namespace mx::check
