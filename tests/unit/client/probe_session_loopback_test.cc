// ProbeSession through a real TunnelPool to an in-process egress server
// (fake_egress_server.h) whose side of the CONNECT plays the server and the
// MX: it answers the CONNECT with the reply and BND.ADDR the test picks,
// then writes the MX's replies into the stream and reads what the probe
// sends. The steps, the facts and the failure land in the report.
#include "mxegress/codec/socks5.h"
#include "probe_session.h"
#include "tunnel_pool_fixture.h"

namespace mx::loopback {
namespace {

class ProbeSessionLoopbackTest : public TunnelPoolLoopbackTest {
 protected:
  void SetUp() override {
    TunnelPoolLoopbackTest::SetUp();
    server_ = &add_server(10, 1, 100);
    ASSERT_NO_FATAL_FAILURE(start_pool());
  }
  void TearDown() override {
    session_.reset();
    TunnelPoolLoopbackTest::TearDown();
  }

  void start(bool tls, std::chrono::milliseconds timeout = 5s) {
    // The fake server takes frames only once the pool holds the tunnel.
    ASSERT_TRUE(run_until([&] { return server_->authenticated == 1; }));
    ProbeSession::Options options;
    options.smtp = {"gw.example.net", tls, false};
    options.timeout = timeout;
    session_ = std::make_unique<ProbeSession>(
        loop_, *pool_, "mx.example.test", 25, options, report_, [] { return int64_t{0}; },
        [this](ProbeSession::End end) { end_ = end; });
    session_->start();
    ASSERT_TRUE(run_until([&] { return server_->connects() == 1; }));
  }
  TunnelStream& mx_stream() { return *server_->conns.back()->streams.back(); }
  void reply(socks5::Reply code, const Target& bound) {
    mx_stream().send_reply({static_cast<uint8_t>(code), bound});
    if (code == socks5::Reply::Succeeded) mx_stream().set_reader(&mx_reads_);
  }
  void mx_says(const std::string& text) { mx_stream().write(as_bytes(text)); }
  bool probe_sent(const std::string& text) {
    return run_until([&] { return mx_reads_.data.find(text) != std::string::npos; });
  }
  std::vector<std::string> step_names() const {
    std::vector<std::string> names;
    for (const auto& s : report_.steps) names.push_back(s.name + (s.ok ? "" : "!"));
    return names;
  }

  FakeEgressServer* server_ = nullptr;
  ProbeReport report_;
  std::optional<ProbeSession::End> end_;
  Recorder mx_reads_;
  std::unique_ptr<ProbeSession> session_;
};

const Target kBound = Target::ipv4({192, 0, 2, 7}, 40000);

TEST_F(ProbeSessionLoopbackTest, ARefusedConnectEndsAsRefused) {
  ASSERT_NO_FATAL_FAILURE(start(true));
  reply(socks5::Reply::ConnectionRefused, Target{});
  ASSERT_TRUE(run_until([&] { return end_.has_value(); }));
  EXPECT_EQ(*end_, ProbeSession::End::Refused);
  EXPECT_EQ(server_->conns.back()->targets.back(), Target::domain_name("mx.example.test", 25))
      << "the MX host goes to the server as a name: the server resolves it";
  EXPECT_EQ(step_names(), (std::vector<std::string>{"tunnel", "connect!"}));
  EXPECT_EQ(report_.steps[1].detail, "mx.example.test:25: connection refused (reply 5)");
  EXPECT_EQ(report_.reason, "CONNECT mx.example.test:25 refused: connection refused");
  EXPECT_TRUE(report_.ok()) << "the caller decides: the next MX may get through";
  EXPECT_EQ(report_.server, server_->name());
}

TEST_F(ProbeSessionLoopbackTest, ASessionWithoutTlsRecordsEveryStepAndTheSource) {
  ASSERT_NO_FATAL_FAILURE(start(false));
  reply(socks5::Reply::Succeeded, kBound);
  mx_says("220 mx.example.test ESMTP\r\n");
  ASSERT_TRUE(probe_sent("EHLO gw.example.net\r\n"));
  mx_says("250-mx.example.test\r\n250 ST");  // a reply cut in two
  run_for(20ms);
  mx_says("ARTTLS\r\n");
  ASSERT_TRUE(probe_sent("QUIT\r\n"));
  mx_says("221 bye\r\n");
  ASSERT_TRUE(run_until([&] { return end_.has_value(); }));
  EXPECT_EQ(*end_, ProbeSession::End::Finished);
  EXPECT_TRUE(report_.ok()) << report_.reason;
  EXPECT_EQ(report_.source, "192.0.2.7:40000");
  EXPECT_TRUE(report_.starttls_offered);
  EXPECT_EQ(step_names(),
            (std::vector<std::string>{"tunnel", "connect", "banner", "ehlo", "quit"}));
  EXPECT_EQ(mx_reads_.data, "EHLO gw.example.net\r\nQUIT\r\n");
  ASSERT_TRUE(run_until([&] { return mx_reads_.eof == 1; })) << "the probe half-closes";
}

TEST_F(ProbeSessionLoopbackTest, ASilentMxTimesOutAtTheBanner) {
  ASSERT_NO_FATAL_FAILURE(start(true, 200ms));
  reply(socks5::Reply::Succeeded, kBound);
  ASSERT_TRUE(run_until([&] { return end_.has_value(); }, 3s));
  EXPECT_EQ(report_.failure, ProbeFailure::Timeout);
  EXPECT_EQ(report_.reason, "timeout at banner");
}

TEST_F(ProbeSessionLoopbackTest, AnMxThatSpeaksNoSmtpIsRefused) {
  ASSERT_NO_FATAL_FAILURE(start(true));
  reply(socks5::Reply::Succeeded, kBound);
  mx_says("HTTP/1.1 400 Bad Request\r\n");
  ASSERT_TRUE(run_until([&] { return end_.has_value(); }));
  EXPECT_EQ(report_.failure, ProbeFailure::SmtpRefused);
  EXPECT_EQ(report_.failed_step, "banner");
  EXPECT_EQ(report_.reason, "not an SMTP reply");
}

TEST_F(ProbeSessionLoopbackTest, StarttlsAnsweredWithClearTextFailsTheHandshake) {
  ASSERT_NO_FATAL_FAILURE(start(true));
  reply(socks5::Reply::Succeeded, kBound);
  mx_says("220 mx\r\n");
  ASSERT_TRUE(probe_sent("EHLO"));
  mx_says("250-mx\r\n250 STARTTLS\r\n");
  ASSERT_TRUE(probe_sent("STARTTLS\r\n"));
  mx_says("220 go ahead\r\n");
  ASSERT_TRUE(run_until([&] { return mx_reads_.data.size() > 40; })) << "the ClientHello";
  mx_says("250 this is no ServerHello\r\n");
  ASSERT_TRUE(run_until([&] { return end_.has_value(); }));
  EXPECT_EQ(report_.failure, ProbeFailure::TlsFailed);
  EXPECT_EQ(report_.failed_step, "tls");
  EXPECT_NE(report_.reason.find("TLS handshake failed: "), std::string::npos) << report_.reason;
}

TEST_F(ProbeSessionLoopbackTest, TheMxClosingMidwayIsNamed) {
  ASSERT_NO_FATAL_FAILURE(start(true));
  reply(socks5::Reply::Succeeded, kBound);
  mx_says("220 mx\r\n");
  ASSERT_TRUE(probe_sent("EHLO"));
  mx_stream().shutdown_write();
  ASSERT_TRUE(run_until([&] { return end_.has_value(); }));
  EXPECT_EQ(report_.failure, ProbeFailure::SmtpRefused);
  EXPECT_EQ(report_.reason, "connection closed during ehlo: the MX closed the connection");
}

}  // namespace
}  // namespace mx::loopback
