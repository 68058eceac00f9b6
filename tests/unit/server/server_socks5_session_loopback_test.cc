// Tier (c): the server's own SOCKS5 listener, one ServerSocks5Session on a
// real loopback connection with a real PasswordCache (a cheap argon2id
// hash), a real dial and a real TrailWriter; the test is the SOCKS5 client.
#include <sodium.h>

#include "loop_test_support.h"
#include "mxegress/codec/socks5.h"
#include "mxegress/crypto/password_cache.h"
#include "server_socks5_session.h"

namespace mx::loopback {
namespace {

bool contains(const std::string& line, const std::string& part) {
  return line.find(part) != std::string::npos;
}

// libsodium's lowest argon2id cost: a login check takes microseconds.
std::string cheap_hash(const std::string& password) {
  char out[crypto_pwhash_STRBYTES];
  EXPECT_EQ(crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_MIN,
                              crypto_pwhash_MEMLIMIT_MIN),
            0);
  return out;
}

class ServerSocks5SessionTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ASSERT_EQ(trail_.open(dir_.path() / "trail.jsonl", false), "");
    const std::string hash = cheap_hash("alice-pw");
    passwords_ = std::make_shared<PasswordCache>(
        loop_, std::map<std::string, std::string>{{"alice", hash}}, checker_);
    config_.server.connect_timeout = 10s;
    config_.socks5.users.push_back({"alice", hash, "acme", {*Cidr::parse("127.0.0.0/8")}});
    listener_ = std::make_unique<TcpListener>(loop_, [this](std::unique_ptr<TcpConnection> c) {
      session_ = std::make_unique<ServerSocks5Session>(
          EgressContext{loop_, usage_, trail_, resolver_}, [this] { return snapshot_; }, passwords_,
          std::move(c), ConcurrencyLimit::Slot{},
          [this](ServerSocks5Session* s) {
            EXPECT_EQ(s, session_.get());
            ++finished_;
            loop_.destroy_later(std::move(session_));
          });
      session_->start();
    });
    ASSERT_EQ(listener_->listen(*SocketAddress::parse("127.0.0.1:0")), "");
  }

  void TearDown() override {
    client_.reset();
    session_.reset();
    listener_.reset();
    loop_.run_deferred();
    expect_every_handle_closed();
  }

  void use_tenant(std::vector<uint16_t> ports, bool enabled = true) {
    ServerConfig config = config_;
    config.tenants.push_back(loopback_tenant(std::move(ports)));
    config.tenants.back().enabled = enabled;
    snapshot_ = std::make_shared<const ServerSnapshot>(std::move(config));
  }

  // Connects, and sends greeting, login and a CONNECT to `target` at once.
  void connect_and_request(const Target& target) {
    client_ = std::make_unique<TcpConnection>(loop_);
    client_->set_reader(&received_);
    bool connected = false;
    ASSERT_EQ(client_->connect(listener_->address(), std::nullopt,
                               [&](int status) {
                                 ASSERT_EQ(status, 0);
                                 connected = true;
                               }),
              0);
    ASSERT_TRUE(run_until([&] { return connected && session_ != nullptr; }));
    client_->start_reading();
    Bytes out;
    const uint8_t methods[] = {socks5::kMethodUserPass};
    socks5::encode_greeting(out, methods);
    socks5::encode_credentials(out, "alice", "alice-pw");
    socks5::encode_request(out, socks5::Command::Connect, target);
    client_->write(ByteView(out));
  }

  std::vector<std::string> trail() { return read_lines(dir_.path() / "trail.jsonl"); }

  TempDir dir_;
  TrailWriter trail_;
  UsageRegistry usage_;
  Resolver resolver_{loop_};  // not configured: these tests dial IP literals
  ServerConfig config_;
  std::shared_ptr<const ServerSnapshot> snapshot_;
  PasswordChecker checker_{PasswordChecker::Settings{}};
  std::shared_ptr<PasswordCache> passwords_;
  std::unique_ptr<TcpListener> listener_;
  std::unique_ptr<ServerSocks5Session> session_;
  int finished_ = 0;
  Recorder received_;
  std::unique_ptr<TcpConnection> client_;
};

// Found by server_socks5_session_fuzz: a reload that disables the tenant
// while the CONNECT is still being dialed cut the dial, which replies
// nothing and calls nothing back, and left the client waiting for a reply
// (and the session open) until the client gave up.
TEST_F(ServerSocks5SessionTest, AReloadThatDisablesTheTenantWhileDialingClosesTheClient) {
  UnansweredPort unanswered;
  if (!unanswered.ok()) GTEST_SKIP() << "this kernel answers a full listen queue";
  use_tenant({unanswered.port()});
  connect_and_request(loopback_target(unanswered.port()));
  // Method selection and login status: 4 bytes; then the dial stays under way.
  ASSERT_TRUE(run_until([&] { return received_.data.size() == 4; }));
  run_for(100ms);
  ASSERT_EQ(received_.data.size(), 4u) << "no reply while the dial is under way";
  ASSERT_NE(session_, nullptr);

  use_tenant({unanswered.port()}, false);
  session_->on_reload();
  ASSERT_TRUE(run_until([&] { return received_.eof + received_.errors > 0; }, 2s))
      << "the client is closed, not left waiting for a reply";
  EXPECT_EQ(received_.data.size(), 4u) << "no reply: nothing was dialed to completion";
  EXPECT_EQ(finished_, 1);
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("reply":null,)")) << lines[0];
  EXPECT_TRUE(contains(lines[0], R"("end":"tenant disabled or removed"})")) << lines[0];
  EXPECT_EQ(usage_.for_tenant("acme")->active(), 0u);
}

TEST_F(ServerSocks5SessionTest, AReloadThatDisablesTheTenantDuringTheRelayEndsItOnce) {
  Destination echo(loop_, true);
  use_tenant({echo.port()});
  connect_and_request(loopback_target(echo.port()));
  ASSERT_TRUE(run_until([&] { return received_.data.size() == 4 + 10; }));
  ASSERT_EQ(received_.data[4 + 1], 0) << "reply 0: connected";

  use_tenant({echo.port()}, false);
  session_->on_reload();
  ASSERT_TRUE(run_until([&] { return finished_ == 1 && received_.eof + received_.errors > 0; }));
  run_for(50ms);
  EXPECT_EQ(finished_, 1) << "the relay's end and the reload's cut end the session once";
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("reply":0,)")) << lines[0];
}

}  // namespace
}  // namespace mx::loopback
