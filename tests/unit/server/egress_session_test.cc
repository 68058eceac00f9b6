// Tier (b/c): one EgressSession with a fake downstream Stream (the tunnel's
// side, driven by the test), a real dial to a loopback destination and a
// real TrailWriter: the reply, the relay both ways, the bytes counted, and
// the one trail line each way a session can end.
#include "egress_session.h"

#include "loop_test_support.h"

namespace mx::loopback {
namespace {

bool contains(const std::string& line, const std::string& part) {
  return line.find(part) != std::string::npos;
}

// The downstream (a session of a tunnel) as the test sees it: what the
// session writes to it, and a reader the test feeds.
class FakeStream final : public Stream {
 public:
  explicit FakeStream(Loop& loop) : shutdown_done_(loop) {}
  void set_reader(StreamReader* r) override { reader = r; }
  void write(ByteView data) override { written += text(data); }
  size_t pending_bytes() const override { return 0; }
  void shutdown_write() override {
    ++shutdowns;
    shutdown_done_.schedule([this] {
      if (reader != nullptr) reader->on_stream_shutdown_done();
    });
  }
  void abort() override { ++aborts; }
  void pause_reading() override {}
  void resume_reading() override {}
  std::string describe() const override { return "fake downstream"; }

  StreamReader* reader = nullptr;
  std::string written;
  int shutdowns = 0;
  int aborts = 0;

 private:
  DeferredCall shutdown_done_;
};

class EgressSessionTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ASSERT_EQ(trail_.open(dir_.path() / "trail.jsonl", false), "");
    destination_ = std::make_unique<Destination>(loop_, false);
  }

  void TearDown() override {
    session_.reset();
    destination_.reset();
    expect_every_handle_closed();
  }

  void start_session(const Target& target, ServerConfig::Limits limits = {}) {
    ServerConfig config;
    config.server.connect_timeout = 5s;
    config.server.idle_timeout = 30s;
    config.tenants.push_back(loopback_tenant({destination_->port()}));
    config.tenants.back().limits = limits;
    snapshot_ = std::make_shared<const ServerSnapshot>(std::move(config));
    session_ = std::make_unique<EgressSession>(
        EgressContext{loop_, usage_, trail_, resolver_}, snapshot_, *snapshot_->tenant("acme"),
        EgressOrigin{"tunnel", "192.0.2.7:40000", "KEYTEXT"}, target, downstream_,
        [this](socks5::Reply reply, const Target& bound) {
          replies_.push_back(static_cast<int>(reply));
          bound_ = bound;
          return reply == socks5::Reply::Succeeded ? early_data_ : Bytes{};
        },
        [this](const RelayOutcome& outcome) {
          ++done_;
          outcome_ = outcome;
        });
    session_->start();
  }

  // Dials the destination and waits for the reply and the accepted connection.
  Destination::Peer& start_relay() {
    start_session(loopback_target(destination_->port()));
    EXPECT_TRUE(run_until([&] { return !replies_.empty() && destination_->peers.size() == 1; }));
    EXPECT_EQ(replies_, std::vector<int>{0});
    EXPECT_NE(downstream_.reader, nullptr) << "the pump reads the downstream";
    return *destination_->peers.at(0);
  }

  std::vector<std::string> trail() { return read_lines(dir_.path() / "trail.jsonl"); }

  TempDir dir_;
  TrailWriter trail_;
  UsageRegistry usage_;
  Resolver resolver_{loop_};  // not configured: these tests dial IP literals
  std::shared_ptr<const ServerSnapshot> snapshot_;
  std::unique_ptr<Destination> destination_;
  FakeStream downstream_{loop_};
  std::unique_ptr<EgressSession> session_;
  std::vector<int> replies_;
  Bytes early_data_;  // what the reply callback hands back on success
  Target bound_;
  int done_ = 0;
  RelayOutcome outcome_;
};

TEST_F(EgressSessionTest, ASuccessfulSessionRelaysBothWaysAndLeavesOneTrailLine) {
  Destination::Peer& peer = start_relay();
  if (HasFailure()) return;
  const SocketAddress source = *peer.connection->peer_address();
  EXPECT_EQ(bound_, source.to_target()) << "the reply names our side of the connection";

  const std::string up = "MAIL FROM:<a@example.org>\r\n";  // 27 bytes
  const std::string down = "250 2.1.0 Ok\r\n";             // 14 bytes
  downstream_.reader->on_stream_data(as_bytes(up));
  ASSERT_TRUE(run_until([&] { return peer.data == up; }));
  peer.connection->write(as_bytes(down));
  ASSERT_TRUE(run_until([&] { return downstream_.written == down; }));
  EXPECT_TRUE(trail().empty()) << "no line while the session runs";

  downstream_.reader->on_stream_eof();  // the client half-closes
  ASSERT_TRUE(run_until([&] { return peer.eof == 1; }));
  peer.connection->shutdown_write();  // and so does the destination
  ASSERT_TRUE(run_until([&] { return done_ == 1; }));
  EXPECT_TRUE(outcome_.clean);
  EXPECT_EQ(outcome_.end, "closed");
  EXPECT_EQ(downstream_.shutdowns, 1);
  EXPECT_EQ(downstream_.aborts, 0);

  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  const std::string& line = lines[0];
  EXPECT_TRUE(contains(line, R"("tenant":"acme","via":"tunnel","peer":"192.0.2.7:40000",)"
                             R"("key":"KEYTEXT",)"))
      << line;
  EXPECT_TRUE(contains(line, R"("connected":")" + destination_->address().to_string() +
                                 R"(","source":")" + source.to_string() + R"(","reply":0,)"))
      << line;
  EXPECT_TRUE(contains(line, R"("bytes_up":27,"bytes_down":14,)")) << line;
  EXPECT_TRUE(contains(line, R"("end":"closed"})")) << line;
  EXPECT_EQ(usage_.for_tenant("acme")->bytes_today(std::chrono::system_clock::now()), 41u);
  session_.reset();
  EXPECT_EQ(usage_.for_tenant("acme")->active(), 0u) << "the lease is given back";
}

// Found by server_socks5_session_fuzz: what a SOCKS5 client sent together
// with its request is written to the destination before the relay starts,
// and was missing from the trail's bytes_up and from the tenant's bytes of
// the day (its daily quota).
TEST_F(EgressSessionTest, BytesSentWithTheRequestAreCountedInTheTrailAndTheDailyBytes) {
  const std::string early = "EHLO client\r\n";  // 13 bytes, sent with the request
  early_data_ = Bytes(early.begin(), early.end());
  Destination::Peer& peer = start_relay();
  if (HasFailure()) return;
  ASSERT_TRUE(run_until([&] { return peer.data == early; }));
  const std::string up = "QUIT\r\n";          // 6 bytes
  const std::string down = "221 2.0.0 Bye\r\n";  // 15 bytes
  downstream_.reader->on_stream_data(as_bytes(up));
  ASSERT_TRUE(run_until([&] { return peer.data == early + up; }));
  peer.connection->write(as_bytes(down));
  ASSERT_TRUE(run_until([&] { return downstream_.written == down; }));
  downstream_.reader->on_stream_eof();
  ASSERT_TRUE(run_until([&] { return peer.eof == 1; }));
  peer.connection->shutdown_write();
  ASSERT_TRUE(run_until([&] { return done_ == 1; }));

  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("bytes_up":19,"bytes_down":15,)")) << lines[0];
  EXPECT_EQ(usage_.for_tenant("acme")->bytes_today(std::chrono::system_clock::now()), 34u);
}

TEST_F(EgressSessionTest, ARefusalByALimitRepliesNotAllowedAndLeavesATrailLine) {
  ServerConfig::Limits limits;
  limits.max_connections = 1;
  const auto now = std::chrono::steady_clock::now();
  ASSERT_EQ(usage_.for_tenant("acme")->admit(limits, now, std::chrono::system_clock::now()),
            std::nullopt);  // another session holds the only connection
  start_session(loopback_target(destination_->port()), limits);
  EXPECT_EQ(replies_, std::vector<int>{2}) << "refused at once";
  EXPECT_EQ(bound_, Target{});
  run_for(100ms);
  EXPECT_EQ(done_, 0);
  EXPECT_TRUE(destination_->peers.empty()) << "nothing dialed";
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("connected":null,"source":null,"reply":2,)")) << lines[0];
  EXPECT_TRUE(contains(lines[0], R"("bytes_up":0,"bytes_down":0,)")) << lines[0];
  EXPECT_TRUE(contains(lines[0], R"("end":"max_connections 1 reached"})")) << lines[0];
}

TEST_F(EgressSessionTest, ADeniedDestinationRepliesNotAllowed) {
  start_session(Target::ipv4({10, 0, 0, 1}, destination_->port()));
  ASSERT_TRUE(run_until([&] { return !replies_.empty(); }));
  EXPECT_EQ(replies_, std::vector<int>{2});
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("reply":2,)")) << lines[0];
  EXPECT_TRUE(contains(lines[0], "10.0.0.1 is private")) << lines[0];
}

TEST_F(EgressSessionTest, ACutWhileDialingSendsNoReplyAndLeavesANullReplyLine) {
  start_session(loopback_target(destination_->port()));
  // libuv reports a connect from the loop, never at once: this dial is under way.
  ASSERT_TRUE(replies_.empty());
  session_->cut("tenant acme is disabled");
  run_for(200ms);
  EXPECT_TRUE(replies_.empty()) << "no reply after a cut";
  EXPECT_EQ(done_, 0);
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  const std::string& line = lines[0];
  EXPECT_TRUE(contains(
      line, R"("connected":")" + destination_->address().to_string() + R"(","source":"127.0.0.1:)"))
      << line;
  EXPECT_TRUE(contains(line, R"("reply":null,"bytes_up":0,"bytes_down":0,)")) << line;
  EXPECT_TRUE(contains(line, R"("end":"tenant acme is disabled"})")) << line;
  session_.reset();
  EXPECT_EQ(usage_.for_tenant("acme")->active(), 0u);
}

TEST_F(EgressSessionTest, TheTunnelLostResetsTheDestinationAndNamesTheTunnel) {
  Destination::Peer& peer = start_relay();
  if (HasFailure()) return;
  downstream_.reader->on_stream_data(as_bytes("DATA\r\n"));
  ASSERT_TRUE(run_until([&] { return peer.data == "DATA\r\n"; }));

  downstream_.reader->on_stream_error("lost: no answer within keepalive_timeout");
  ASSERT_TRUE(run_until([&] { return done_ == 1 && peer.errors == 1; }));
  EXPECT_FALSE(outcome_.clean);
  EXPECT_EQ(outcome_.end, "tunnel lost: no answer within keepalive_timeout");
  EXPECT_NE(peer.error.find("reset"), std::string::npos)
      << "the destination sees an RST: " << peer.error;
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("reply":0,"bytes_up":6,"bytes_down":0,)")) << lines[0];
  EXPECT_TRUE(contains(lines[0], R"("end":"tunnel lost: no answer within keepalive_timeout"})"))
      << lines[0];
}

TEST_F(EgressSessionTest, ACutDuringTheRelayResetsBothSides) {
  Destination::Peer& peer = start_relay();
  if (HasFailure()) return;
  session_->cut("tenant acme is disabled");
  ASSERT_TRUE(run_until([&] { return done_ == 1 && peer.errors == 1; }));
  EXPECT_EQ(outcome_.end, "tenant acme is disabled");
  EXPECT_EQ(downstream_.aborts, 1) << "the tunnel's session gets its RST";
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("reply":0,)")) << lines[0];
  EXPECT_TRUE(contains(lines[0], R"("end":"tenant acme is disabled"})")) << lines[0];
}

// Found by server_socks5_session_fuzz: a session destroyed while it runs
// (EgressServer::stop() at the end of a drain destroys what is left) left
// no trail line at all, though its connection was made.
TEST_F(EgressSessionTest, DestroyedDuringTheRelayItResetsBothSidesAndLeavesItsTrailLine) {
  Destination::Peer& peer = start_relay();
  if (HasFailure()) return;
  downstream_.reader->on_stream_data(as_bytes("DATA\r\n"));
  ASSERT_TRUE(run_until([&] { return peer.data == "DATA\r\n"; }));
  session_.reset();
  EXPECT_EQ(done_, 0) << "no call back into an owner that is going away";
  EXPECT_EQ(downstream_.aborts, 1);
  ASSERT_TRUE(run_until([&] { return peer.errors == 1; }));
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("reply":0,"bytes_up":6,"bytes_down":0,)")) << lines[0];
  EXPECT_TRUE(contains(lines[0], R"("end":"server stopped"})")) << lines[0];
  EXPECT_EQ(usage_.for_tenant("acme")->active(), 0u);
}

TEST_F(EgressSessionTest, DestroyedWhileDialingItLeavesANullReplyLine) {
  start_session(loopback_target(destination_->port()));
  ASSERT_TRUE(replies_.empty()) << "the dial is under way";
  session_.reset();
  run_for(100ms);
  EXPECT_TRUE(replies_.empty());
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("reply":null,)")) << lines[0];
  EXPECT_TRUE(contains(lines[0], R"("end":"server stopped"})")) << lines[0];
}

TEST_F(EgressSessionTest, DestroyedAfterItEndedItWritesNoSecondLine) {
  start_session(Target::ipv4({10, 0, 0, 1}, destination_->port()));  // denied
  ASSERT_TRUE(run_until([&] { return !replies_.empty(); }));
  ASSERT_EQ(replies_, std::vector<int>{2});
  session_.reset();
  EXPECT_EQ(trail().size(), 1u);
}

}  // namespace
}  // namespace mx::loopback
