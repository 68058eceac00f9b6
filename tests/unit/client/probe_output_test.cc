// What the probe prints: a step line, the TLS facts, the verdict, and the
// --json object (parsed back).
#include "probe_output.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace mx {
namespace {

ProbeReport sample() {
  ProbeReport r;
  r.target = "example.org";
  r.mx_host = "mx.example.org";
  r.server = "egress:8443";
  r.source = "192.0.2.7:40000";
  r.banner_code = 220;
  r.starttls_offered = true;
  r.add("connect", 12, true, "mx.example.org:25 from 192.0.2.7:40000");
  r.tls_done = true;
  r.tls = {"TLSv1.3",
           "TLS_AES_256_GCM_SHA384",
           true,
           {"CN=mx.example.org",
            {"mx.example.org", "mx2.example.org"},
            "AB:CD",
            false,
            "self-signed certificate"}};
  return r;
}

TEST(ProbeOutputTest, StepLine) {
  EXPECT_EQ(format_step({"connect", 12, true, "x from y"}),
            "     12 ms  connect   ok     x from y");
  EXPECT_EQ(format_step({"tls", 3, false, "bad"}), "      3 ms  tls       FAIL   bad");
}

TEST(ProbeOutputTest, TlsFacts) {
  const std::string text = format_tls(sample().tls);
  EXPECT_NE(text.find("certificate subject: CN=mx.example.org\n"), std::string::npos);
  EXPECT_NE(text.find("DNS names: mx.example.org, mx2.example.org\n"), std::string::npos);
  EXPECT_NE(text.find("SHA-256 fingerprint: AB:CD\n"), std::string::npos);
  EXPECT_NE(text.find("verified (system CA store, host name): no: self-signed certificate"),
            std::string::npos);
}

TEST(ProbeOutputTest, Verdicts) {
  ProbeReport r = sample();
  EXPECT_EQ(format_verdict(r),
            "probe OK: mx.example.org via egress:8443 from 192.0.2.7:40000, STARTTLS TLSv1.3");
  r.fail(ProbeFailure::StarttlsUnavailable, "starttls", "STARTTLS not offered");
  EXPECT_EQ(format_verdict(r), "probe FAILED at starttls: STARTTLS not offered (exit 7)");
}

TEST(ProbeOutputTest, JsonOfASuccess) {
  const auto j = nlohmann::json::parse(probe_json(sample()));
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_TRUE(j["failure"].is_null());
  EXPECT_EQ(j["source"], "192.0.2.7:40000");
  EXPECT_EQ(j["steps"][0]["step"], "connect");
  EXPECT_EQ(j["steps"][0]["ms"], 12);
  EXPECT_EQ(j["tls"]["certificate"]["dns_names"][1], "mx2.example.org");
  EXPECT_EQ(j["tls"]["certificate"]["verified"], false);
}

TEST(ProbeOutputTest, JsonOfAFailureWithBytesThatAreNotUtf8) {
  ProbeReport r;
  r.target = "example.org";
  r.add("banner", 5, false, "554 \xff\xfe go away");
  r.fail(ProbeFailure::SmtpRefused, "banner", "banner 554 \xff go away");
  const auto j = nlohmann::json::parse(probe_json(r));
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["exit_code"], 6);
  EXPECT_EQ(j["failure"], "SMTP refused");
  EXPECT_EQ(j["failed_step"], "banner");
  EXPECT_TRUE(j["tls"].is_null());
  EXPECT_NE(j["reason"].get<std::string>().find("go away"), std::string::npos);
}

}  // namespace
}  // namespace mx
