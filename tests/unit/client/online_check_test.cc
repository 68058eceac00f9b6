// `--check --online`: the verdict lines and the exit rule (pure), and the
// check itself against an in-process egress server (fake_egress_server.h).
#include "online_check.h"

#include "fake_egress_server.h"

namespace mx::loopback {
namespace {

TEST(OnlineCheckVerdict, NamesTheServerAndWhatHappened) {
  ServerCheck ok{"egress.test:8443", OpenFailure::None, "TLSv1.3", std::nullopt, ""};
  EXPECT_EQ(describe(ok), "egress.test:8443: ok (TLSv1.3)");

  Sha256 pin{};
  pin[0] = 0xfb;
  ServerCheck wrong{"egress.test:8443", OpenFailure::WrongPin, "", pin,
                    "server verification failed: TLS handshake failed"};
  EXPECT_EQ(describe(wrong),
            "egress.test:8443: wrong pin: the server presented " + format_pin(pin));

  ServerCheck refused{"egress.test:8443", OpenFailure::KeyRefused, "", std::nullopt,
                      "the server refused our key: unknown key"};
  EXPECT_EQ(describe(refused),
            "egress.test:8443: key refused: the server refused our key: unknown key");

  ServerCheck down{"egress.test:8443", OpenFailure::Unreachable, "", std::nullopt,
                   "cannot connect to 127.0.0.1:8443: connection refused"};
  EXPECT_EQ(describe(down),
            "egress.test:8443: unreachable: cannot connect to 127.0.0.1:8443: connection refused");
}

TEST(OnlineCheckVerdict, PassesOnlyWhenEveryServerIsOk) {
  const ServerCheck ok{"a:1", OpenFailure::None, "TLSv1.3", std::nullopt, ""};
  const ServerCheck down{"b:1", OpenFailure::Unreachable, "", std::nullopt, "refused"};
  EXPECT_TRUE(every_server_ok({ok, ok}));
  EXPECT_FALSE(every_server_ok({ok, down}));
  EXPECT_FALSE(every_server_ok({down}));
  EXPECT_FALSE(every_server_ok({})) << "no server checked is no pass";
}

class OnlineCheckLoopbackTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(make_loopback_keys(dir_.path(), keys_));
    server_ =
        std::make_unique<FakeEgressServer>(loop_, keys_.server_tls.get(), keys_.client->public_key);
    config_.client.handshake_timeout = std::chrono::seconds(5);
  }
  void TearDown() override {
    server_.reset();
    run_for(std::chrono::milliseconds(50));
    expect_every_handle_closed();
  }

  void add_server(uint16_t port, Sha256 pin) {
    ClientConfig::Server server;
    server.address = HostPort{"127.0.0.1", port};
    server.pins = {pin};
    server.server_name = "127.0.0.1";
    config_.servers.push_back(server);
  }

  TempDir dir_;
  LoopbackKeys keys_;
  std::unique_ptr<FakeEgressServer> server_;
  ClientConfig config_;
};

TEST_F(OnlineCheckLoopbackTest, ReportsEachServerInTheOrderOfTheFile) {
  add_server(server_->port(), keys_.pin);
  add_server(server_->port(), Sha256{});  // the same server, pinned wrong
  const uint16_t closed = server_->port();
  server_->close_listener();
  server_ =
      std::make_unique<FakeEgressServer>(loop_, keys_.server_tls.get(), keys_.client->public_key);
  config_.servers[0].address.port = server_->port();
  config_.servers[1].address.port = server_->port();
  add_server(closed, keys_.pin);  // nothing listens there any more

  std::string err;
  const std::vector<ServerCheck> checks = check_servers_online(loop_, config_, *keys_.client, err);
  ASSERT_EQ(err, "");
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_EQ(checks[0].failure, OpenFailure::None) << checks[0].error;
  EXPECT_EQ(checks[0].tls_version, "TLSv1.3");
  EXPECT_EQ(checks[1].failure, OpenFailure::WrongPin) << checks[1].error;
  EXPECT_EQ(checks[1].presented_pin, keys_.pin);
  EXPECT_EQ(checks[2].failure, OpenFailure::Unreachable) << checks[2].error;
  EXPECT_EQ(checks[2].server, "127.0.0.1:" + std::to_string(closed));
  EXPECT_FALSE(every_server_ok(checks));
  EXPECT_EQ(server_->accepted, 2) << "the closed port took nothing; the others a connection each";
}

}  // namespace
}  // namespace mx::loopback
