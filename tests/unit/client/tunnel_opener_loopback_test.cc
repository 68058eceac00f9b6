// Tier (c): a TunnelOpener against an in-process egress server on loopback
// (fake_egress_server.h), its server name answered by a fake resolver.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_egress_server.h"
#include "tunnel_opener.h"

namespace mx::loopback {
namespace {

// Answers every name with `addresses`, on a later loop turn.
class ListResolver final : public NameResolver {
 public:
  ListResolver(Loop& loop, std::vector<SocketAddress> addresses)
      : loop_(loop), addresses_(std::move(addresses)) {}
  std::unique_ptr<Resolution> resolve(const std::string&, uint16_t, Callback done,
                                      ConcurrencyLimit::Slot) override {
    auto lookup = std::make_unique<Lookup>();
    loop_.post([live = lookup->live, done = std::move(done), addresses = addresses_] {
      ResolveResult result;
      result.status = ResolveResult::Status::Ok;
      result.addresses = addresses;
      if (*live) done(std::move(result));
    });
    return lookup;
  }

 private:
  struct Lookup final : Resolution {
    ~Lookup() override { *live = false; }
    std::shared_ptr<bool> live = std::make_shared<bool>(true);
  };
  Loop& loop_;
  std::vector<SocketAddress> addresses_;
};

// A loopback port nothing listens on: bound once, then closed.
uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sin), len), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len), 0);
  ::close(fd);
  return ntohs(sin.sin_port);
}

SocketAddress loopback(uint16_t port) { return *SocketAddress::parse_ip("127.0.0.1", port); }

class TunnelOpenerLoopbackTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(make_loopback_keys(dir_.path(), keys_));
    ServerVerification verification;
    verification.pins = {keys_.pin};
    verification.server_name = "127.0.0.1";
    std::string err;
    client_tls_ = make_client_tls_context(verification, err);
    ASSERT_TRUE(client_tls_) << err;
    server_ =
        std::make_unique<FakeEgressServer>(loop_, keys_.server_tls.get(), keys_.client->public_key);
  }

  void TearDown() override {
    opener_.reset();
    opened_.tunnel.reset();
    run_for(std::chrono::milliseconds(50));
    server_.reset();
    expect_every_handle_closed();
  }

  // Opens a tunnel to "egress.test", whose addresses are `addresses`.
  void open(std::vector<SocketAddress> addresses) {
    resolver_ = std::make_unique<ListResolver>(loop_, std::move(addresses));
    opener_ = std::make_unique<TunnelOpener>(
        loop_, *resolver_,
        TunnelOpener::Target{{"egress.test", 4433}, client_tls_.get(), "127.0.0.1"}, *keys_.client,
        kDefaultSessionWindow, std::chrono::seconds(5), TcpLiveness{}, [this](OpenedTunnel opened) {
          ++calls_;
          opened_ = std::move(opened);
        });
    ASSERT_TRUE(run_until([&] { return calls_ == 1; }));
  }

  TempDir dir_;
  LoopbackKeys keys_;
  SslCtxPtr client_tls_;
  std::unique_ptr<FakeEgressServer> server_;
  std::unique_ptr<ListResolver> resolver_;
  std::unique_ptr<TunnelOpener> opener_;
  OpenedTunnel opened_;
  int calls_ = 0;
};

TEST_F(TunnelOpenerLoopbackTest, TheFirstAddressThatAcceptsIsUsed) {
  open({loopback(closed_port()), loopback(closed_port()), loopback(server_->port())});
  EXPECT_TRUE(opened_.tunnel) << opened_.error;
  EXPECT_EQ(server_->accepted, 1);
}

TEST_F(TunnelOpenerLoopbackTest, WhenNoAddressAcceptsTheLastErrorNamesIt) {
  const uint16_t last = closed_port();
  open({loopback(closed_port()), loopback(last)});
  EXPECT_FALSE(opened_.tunnel);
  EXPECT_NE(opened_.error.find("cannot connect to 127.0.0.1:" + std::to_string(last)),
            std::string::npos)
      << opened_.error;
  EXPECT_EQ(server_->accepted, 0);
}

// The failure kinds `--check --online` reports are values the opener sets.

TEST_F(TunnelOpenerLoopbackTest, AnOpenedTunnelHasNoFailure) {
  open({loopback(server_->port())});
  ASSERT_TRUE(opened_.tunnel) << opened_.error;
  EXPECT_EQ(opened_.failure, OpenFailure::None);
  EXPECT_EQ(opened_.tunnel->tls().protocol_version(), "TLSv1.3");
}

TEST_F(TunnelOpenerLoopbackTest, NoAddressThatAcceptsIsUnreachable) {
  open({loopback(closed_port())});
  EXPECT_FALSE(opened_.tunnel);
  EXPECT_EQ(opened_.failure, OpenFailure::Unreachable) << opened_.error;
  EXPECT_STREQ(open_failure_name(opened_.failure), "unreachable");
}

TEST_F(TunnelOpenerLoopbackTest, AnotherPinIsAWrongPinAndTheServersPinIsKept) {
  ServerVerification verification;
  verification.pins = {Sha256{}};  // not the server's
  verification.server_name = "127.0.0.1";
  std::string err;
  client_tls_ = make_client_tls_context(verification, err);
  ASSERT_TRUE(client_tls_) << err;
  open({loopback(server_->port())});
  EXPECT_FALSE(opened_.tunnel);
  EXPECT_EQ(opened_.failure, OpenFailure::WrongPin) << opened_.error;
  ASSERT_TRUE(opened_.presented_pin);
  EXPECT_EQ(*opened_.presented_pin, keys_.pin) << "the pin the server presented";
  EXPECT_EQ(server_->authenticated, 0);
}

TEST_F(TunnelOpenerLoopbackTest, AKeyTheServerDoesNotKnowIsKeyRefused) {
  std::string err;
  auto other = generate_key_file(dir_.path() / "other.key", err);
  ASSERT_TRUE(other) << err;
  server_ = std::make_unique<FakeEgressServer>(loop_, keys_.server_tls.get(), other->public_key);
  server_->refusals_expected = true;
  open({loopback(server_->port())});
  EXPECT_FALSE(opened_.tunnel);
  EXPECT_EQ(opened_.failure, OpenFailure::KeyRefused) << opened_.error;
  EXPECT_FALSE(opened_.presented_pin);
  EXPECT_EQ(server_->refused, 1);
}

}  // namespace
}  // namespace mx::loopback
