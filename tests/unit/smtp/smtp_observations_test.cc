// SmtpObservations: what a session's facts add to the counters, the
// destinations' providers learned from banners, the downgrade and
// "offered but not used" signals, and the health verdict passed on.
#include "smtp/smtp_observations.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "smtp/provider_map.h"

namespace mx {
namespace {

using namespace std::chrono_literals;

class SmtpObservationsTest : public ::testing::Test {
 protected:
  // A session to `destination`: `conversation` is the MX's and the
  // gateway's lines in turn, starting with the MX's ("S: ...", "C: ...").
  ObservedSignals session(const std::string& destination,
                          const std::vector<std::string>& conversation,
                          const std::string& provider = "",
                          const std::string& source = "192.0.2.10") {
    smtp::SessionObserver observer;
    for (const std::string& turn : conversation) {
      const ByteView bytes = as_bytes(turn).subspan(3);
      if (turn.starts_with("S: ")) {
        observer.from_server(bytes);
      } else {
        observer.from_client(bytes);
      }
    }
    facts_ = observer.facts();
    return observations_.ended({"acme", source, destination, provider, &facts_}, providers_,
                               settings_, now_);
  }
  SmtpCounters counters(const std::string& provider, const std::string& source = "192.0.2.10") {
    SmtpCounters found;
    observations_.for_each([&](const SmtpObservations::Key& key, const SmtpCounters& c) {
      if (key == SmtpObservations::Key{"acme", source, provider}) found = c;
    });
    return found;
  }

  SmtpObservations observations_;
  ProviderMap providers_;
  SourceHealth::Settings settings_{1h, 2, 50, 10min};
  SourceHealth::Clock::time_point now_ = SourceHealth::Clock::now();
  smtp::SessionFacts facts_;
};

const std::vector<std::string> kGoogleEhlo = {
    "S: 220 mx.google.com ESMTP ready\r\n", "C: EHLO gw\r\n",
    "S: 250-mx.google.com\r\n250-PIPELINING\r\n250 STARTTLS\r\n"};

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<std::string> ehlo_session(const std::string& extensions) {
  return {"S: 220 mx.example.net ESMTP\r\n", "C: EHLO gw\r\n",
          "S: 250-mx.example.net\r\n250 " + extensions + "\r\n"};
}

TEST_F(SmtpObservationsTest, TheBannerHostNamesTheProviderAndTeachesItForTheAddress) {
  EXPECT_EQ(observations_.provider_before_dial(providers_, "", "192.0.2.25"), "");
  const auto signals = session("192.0.2.25", kGoogleEhlo);
  EXPECT_EQ(signals.provider, "google");
  EXPECT_EQ(observations_.provider_before_dial(providers_, "", "192.0.2.25"), "google");
  // A name asked for wins over what the address taught.
  EXPECT_EQ(observations_.provider_before_dial(providers_, "mx1.example.net", "192.0.2.25"),
            "example.net");
  const SmtpCounters c = counters("google");
  EXPECT_EQ(c.sessions, 1u);
  EXPECT_EQ(c.banner_2xx, 1u);
  EXPECT_EQ(c.starttls_offered, 1u);
  EXPECT_EQ(c.starttls_used, 0u);
  EXPECT_EQ(c.starttls_unused, 0u);  // no MAIL: the gateway did not send mail in clear
}

TEST_F(SmtpObservationsTest, StarttlsUsedAndOfferedButUnused) {
  session("192.0.2.25", plus(kGoogleEhlo, {"C: STARTTLS\r\n", "S: 220 go ahead\r\n"}));
  EXPECT_EQ(counters("google").starttls_used, 1u);
  const auto unused = session("192.0.2.25", plus(kGoogleEhlo, {"C: MAIL FROM:<a@b.example>\r\n"}));
  EXPECT_TRUE(unused.starttls_unused);
  EXPECT_EQ(counters("google").starttls_unused, 1u);
  EXPECT_EQ(counters("google").starttls_offered, 2u);
}

TEST_F(SmtpObservationsTest, AnMxThatOfferedStarttlsBeforeAndNotNowIsADowngrade) {
  const auto plain = ehlo_session("8BITMIME");
  EXPECT_FALSE(session("192.0.2.30", plain).downgrade);  // never offered: none
  EXPECT_FALSE(session("192.0.2.31", plain).downgrade);
  const auto tls = ehlo_session("STARTTLS");
  EXPECT_FALSE(session("192.0.2.30", tls).downgrade);
  EXPECT_TRUE(session("192.0.2.30", plain).downgrade);
  EXPECT_FALSE(session("192.0.2.30", plain).downgrade);  // once, then known
  // HELO tells nothing about STARTTLS: no verdict either way.
  session("192.0.2.30", tls);
  EXPECT_FALSE(session("192.0.2.30", {"S: 220 mx.example.net\r\n", "C: HELO gw\r\n",
                                      "S: 250 hi\r\n"})
                   .downgrade);
  EXPECT_EQ(counters("example.net").downgrades, 1u);
}

TEST_F(SmtpObservationsTest, RefusingBannersMakeTheSourceSuspectAtItsProvider) {
  const std::vector<std::string> refused = {
      "S: 554 mx.example.net ESMTP not accepting mail from 192.0.2.10\r\n"};
  EXPECT_EQ(session("192.0.2.40", refused).health.change, SourceHealth::Change::None);
  const auto second = session("192.0.2.40", refused);
  EXPECT_EQ(second.health.change, SourceHealth::Change::BecameSuspect);
  EXPECT_EQ(second.provider, "example.net");
  ASSERT_EQ(observations_.health().entries().size(), 1u);
  EXPECT_EQ(observations_.health().entries()[0].example,
            "554 mx.example.net ESMTP not accepting mail from 192.0.2.10");
  EXPECT_EQ(counters("example.net").banner_5xx, 2u);
}

TEST_F(SmtpObservationsTest, WithoutAProviderNothingIsJudged) {
  // 5.7.1 is an enhanced status code, not the MX's host name.
  const auto signals = session("192.0.2.50", {"S: 554 5.7.1 go away\r\n"});
  EXPECT_EQ(signals.provider, "unknown");
  session("192.0.2.50", {"S: 554 go away\r\n"});
  EXPECT_TRUE(observations_.health().entries().empty());
  EXPECT_EQ(counters("unknown").banner_5xx, 2u);
}

TEST_F(SmtpObservationsTest, NoBannerNoRecord) {
  const auto signals = session("192.0.2.60", {"C: EHLO gw\r\n"}, "example.net");
  EXPECT_EQ(signals.provider, "");
  EXPECT_EQ(counters("example.net").sessions, 0u);
  session("192.0.2.60", {"S: HTTP/1.1 400 Bad Request\r\n"}, "example.net");
  EXPECT_EQ(counters("example.net").sessions, 0u);
}

TEST_F(SmtpObservationsTest, TheProviderGivenAtTheDialIsKept) {
  const auto signals = session("192.0.2.70", kGoogleEhlo, "outlook-ish.example");
  EXPECT_EQ(signals.provider, "outlook-ish.example");
  EXPECT_EQ(observations_.provider_before_dial(providers_, "", "192.0.2.70"), "outlook-ish.example");
}

}  // namespace
}  // namespace mx
