// The probe's SMTP conversation without I/O: replies in, lines to send out,
// steps and the failure recorded in the report (a fake clock gives times).
#include "probe_conversation.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using Kind = ProbeConversation::Action::Kind;

smtp::Reply reply(int code, std::vector<std::string> lines) { return {code, std::move(lines)}; }

const smtp::Reply kBanner = reply(220, {"mx.example.net ESMTP"});
const smtp::Reply kEhloTls = reply(250, {"mx.example.net", "PIPELINING", "STARTTLS"});
const smtp::Reply kEhloPlain = reply(250, {"mx.example.net", "PIPELINING"});

ProbeTls tls_info(bool verified) {
  ProbeTls tls;
  tls.version = "TLSv1.3";
  tls.cipher = "TLS_AES_256_GCM_SHA384";
  tls.has_certificate = true;
  tls.certificate.verified = verified;
  tls.certificate.verify_error = verified ? "" : "self-signed certificate";
  return tls;
}

class ProbeConversationTest : public ::testing::Test {
 protected:
  ProbeConversation make(bool tls = true, bool verify = false) {
    return ProbeConversation({"probe.example.org", tls, verify}, report_,
                             [this] { return now_ += 5; });
  }
  std::vector<std::string> step_names() const {
    std::vector<std::string> names;
    for (const auto& s : report_.steps) names.push_back(s.name);
    return names;
  }
  ProbeReport report_;
  int64_t now_ = 0;
};

TEST_F(ProbeConversationTest, FullProbeWithStarttls) {
  ProbeConversation c = make();
  EXPECT_EQ(c.on_connected().kind, Kind::Wait);
  auto a = c.on_reply(kBanner);
  EXPECT_EQ(a.kind, Kind::Send);
  EXPECT_EQ(a.line, "EHLO probe.example.org");
  a = c.on_reply(kEhloTls);
  EXPECT_EQ(a.kind, Kind::Send);
  EXPECT_EQ(a.line, "STARTTLS");
  EXPECT_TRUE(report_.starttls_offered);
  a = c.on_reply(reply(220, {"2.0.0 Ready to start TLS"}));
  EXPECT_EQ(a.kind, Kind::StartTls);
  EXPECT_STREQ(c.step(), "tls");
  a = c.on_tls_done(tls_info(false));
  EXPECT_TRUE(c.in_tls());
  EXPECT_EQ(a.kind, Kind::Send);
  EXPECT_EQ(a.line, "EHLO probe.example.org");
  a = c.on_reply(kEhloPlain);
  EXPECT_EQ(a.line, "QUIT");
  a = c.on_reply(reply(221, {"bye"}));
  EXPECT_EQ(a.kind, Kind::Close);
  EXPECT_TRUE(c.finished());
  EXPECT_TRUE(report_.ok()) << report_.reason;
  EXPECT_EQ(report_.banner_code, 220);
  EXPECT_TRUE(report_.tls_done);
  EXPECT_EQ(step_names(),
            (std::vector<std::string>{"banner", "ehlo", "starttls", "tls", "ehlo-tls", "quit"}));
  EXPECT_EQ(report_.steps[0].ms, 5);
  EXPECT_EQ(report_.steps[5].ms, 30);
  EXPECT_EQ(report_.steps[0].detail, "220 mx.example.net ESMTP");
  EXPECT_EQ(report_.steps[1].detail,
            "250 mx.example.net / PIPELINING / STARTTLS (STARTTLS offered)");
  EXPECT_NE(report_.steps[3].detail.find("not verified: self-signed"), std::string::npos);
}

TEST_F(ProbeConversationTest, NoTlsStopsAfterEhlo) {
  ProbeConversation c = make(false);
  c.on_connected();
  c.on_reply(kBanner);
  auto a = c.on_reply(kEhloTls);
  EXPECT_EQ(a.line, "QUIT");
  EXPECT_EQ(c.on_closed("eof").kind, Kind::Close) << "closed instead of 221 is fine";
  EXPECT_TRUE(report_.ok());
  EXPECT_FALSE(report_.tls_done);
}

TEST_F(ProbeConversationTest, BannerRefusalQuitsAndFails) {
  ProbeConversation c = make();
  c.on_connected();
  auto a = c.on_reply(reply(554, {"5.7.1 no service for you", "go away"}));
  EXPECT_EQ(a.line, "QUIT");
  EXPECT_EQ(report_.failure, ProbeFailure::SmtpRefused);
  EXPECT_EQ(report_.failed_step, "banner");
  EXPECT_EQ(report_.reason, "banner 554 5.7.1 no service for you / go away");
  c.on_reply(reply(221, {"bye"}));
  EXPECT_EQ(report_.failure, ProbeFailure::SmtpRefused) << "the first failure stays";
  EXPECT_EQ(exit_code(report_.failure), 6);
}

TEST_F(ProbeConversationTest, StarttlsNotOffered) {
  ProbeConversation c = make();
  c.on_connected();
  c.on_reply(kBanner);
  auto a = c.on_reply(kEhloPlain);
  EXPECT_EQ(a.line, "QUIT");
  EXPECT_FALSE(report_.starttls_offered);
  EXPECT_EQ(report_.steps[1].detail, "250 mx.example.net / PIPELINING (no STARTTLS)");
  EXPECT_EQ(report_.failure, ProbeFailure::StarttlsUnavailable);
  EXPECT_EQ(report_.failed_step, "starttls");
  EXPECT_EQ(report_.reason, "STARTTLS not offered");
}

TEST_F(ProbeConversationTest, StarttlsRefused) {
  ProbeConversation c = make();
  c.on_connected();
  c.on_reply(kBanner);
  c.on_reply(kEhloTls);
  auto a = c.on_reply(reply(454, {"4.7.0 TLS not available"}));
  EXPECT_EQ(a.line, "QUIT");
  EXPECT_EQ(report_.failure, ProbeFailure::StarttlsUnavailable);
  EXPECT_EQ(report_.reason, "STARTTLS 454 4.7.0 TLS not available");
}

TEST_F(ProbeConversationTest, EhloRefused) {
  ProbeConversation c = make();
  c.on_connected();
  c.on_reply(kBanner);
  c.on_reply(reply(502, {"not implemented"}));
  EXPECT_EQ(report_.failure, ProbeFailure::SmtpRefused);
  EXPECT_EQ(report_.failed_step, "ehlo");
}

TEST_F(ProbeConversationTest, TlsFailureCloses) {
  ProbeConversation c = make();
  c.on_connected();
  c.on_reply(kBanner);
  c.on_reply(kEhloTls);
  c.on_reply(reply(220, {"go ahead"}));
  auto a = c.on_tls_failed("wrong version number");
  EXPECT_EQ(a.kind, Kind::Close);
  EXPECT_EQ(report_.failure, ProbeFailure::TlsFailed);
  EXPECT_EQ(report_.failed_step, "tls");
  EXPECT_EQ(report_.reason, "TLS handshake failed: wrong version number");
}

TEST_F(ProbeConversationTest, VerifyFailsOnAnUnverifiedCertificate) {
  ProbeConversation c = make(true, true);
  c.on_connected();
  c.on_reply(kBanner);
  c.on_reply(kEhloTls);
  c.on_reply(reply(220, {"go ahead"}));
  auto a = c.on_tls_done(tls_info(false));
  EXPECT_EQ(a.line, "QUIT");
  EXPECT_EQ(report_.failure, ProbeFailure::Unverified);
  EXPECT_EQ(report_.reason, "certificate not verified: self-signed certificate");
}

TEST_F(ProbeConversationTest, VerifyPassesOnAVerifiedCertificate) {
  ProbeConversation c = make(true, true);
  c.on_connected();
  c.on_reply(kBanner);
  c.on_reply(kEhloTls);
  c.on_reply(reply(220, {"go ahead"}));
  EXPECT_EQ(c.on_tls_done(tls_info(true)).line, "EHLO probe.example.org");
  EXPECT_TRUE(report_.ok());
}

TEST_F(ProbeConversationTest, TimeoutNamesTheStep) {
  ProbeConversation c = make();
  c.on_connected();
  c.on_reply(kBanner);
  EXPECT_EQ(c.on_timeout().kind, Kind::Close);
  EXPECT_EQ(report_.failure, ProbeFailure::Timeout);
  EXPECT_EQ(report_.reason, "timeout at ehlo");
  EXPECT_EQ(exit_code(report_.failure), 10);
}

TEST_F(ProbeConversationTest, ClosedOrGarbledBeforeTheEnd) {
  ProbeConversation c = make();
  c.on_connected();
  EXPECT_EQ(c.on_bad_reply(smtp::ReplyError::NotSmtp).kind, Kind::Close);
  EXPECT_EQ(report_.failure, ProbeFailure::SmtpRefused);
  EXPECT_EQ(report_.reason, "not an SMTP reply");

  ProbeReport other;
  ProbeConversation d({"h", true, false}, other, [] { return int64_t{0}; });
  d.on_connected();
  d.on_reply(kBanner);
  d.on_reply(kEhloTls);
  d.on_reply(reply(220, {"go ahead"}));
  d.on_closed("reset by peer");
  EXPECT_EQ(other.failure, ProbeFailure::TlsFailed);
  EXPECT_EQ(other.reason, "connection closed during tls: reset by peer");
}

TEST_F(ProbeConversationTest, ClearTextReplyDuringTheHandshakeFails) {
  ProbeConversation c = make();
  c.on_connected();
  c.on_reply(kBanner);
  c.on_reply(kEhloTls);
  c.on_reply(reply(220, {"go ahead"}));
  EXPECT_EQ(c.on_reply(reply(250, {"huh"})).kind, Kind::Close);
  EXPECT_EQ(report_.failure, ProbeFailure::TlsFailed);
}

}  // namespace
}  // namespace mx
