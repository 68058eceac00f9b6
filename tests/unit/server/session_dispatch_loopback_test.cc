// Tier (c): SessionDispatch on the server's TunnelEndpoint of a real tunnel
// over loopback. The test holds the client's endpoint and sends CONNECTs;
// destinations are loopback listeners; the gate is a fake.
#include "loop_test_support.h"
#include "mxegress/crypto/server_identity.h"
#include "mxegress/crypto/tls_context.h"
#include "session_dispatch.h"

namespace mx::loopback {
namespace {

bool contains(const std::string& line, const std::string& part) {
  return line.find(part) != std::string::npos;
}

class FakeGate final : public SessionGate {
 public:
  const ServerConfig::Tenant* admit(std::shared_ptr<const ServerSnapshot>& out,
                                    std::string& why) override {
    if (!refusal.empty()) {
      why = refusal;
      return nullptr;
    }
    out = snapshot;
    return snapshot->tenant("acme");
  }
  void on_refused(const std::string& why) override { refused.push_back(why); }
  bool retiring() const override { return retiring_now; }
  void on_sessions_over() override { ++sessions_over; }

  std::shared_ptr<const ServerSnapshot> snapshot;
  std::string refusal;  // set: admit() refuses
  bool retiring_now = false;
  std::vector<std::string> refused;
  int sessions_over = 0;
};

// One side's tunnel, before and after its endpoint takes it over.
class Side final : public TunnelHandler, public TunnelEndpointOwner {
 public:
  void on_tunnel_ready() override { ++ready; }
  void on_tunnel_frame(const frame::Frame&) override {
    ADD_FAILURE() << "a frame before the endpoint";
  }
  void on_tunnel_closed(const std::string& why) override { on_endpoint_closed(why, 0); }
  void on_session_request(uint32_t id, ByteView body) override {
    ASSERT_NE(dispatch, nullptr) << "a CONNECT to the client";
    dispatch->on_connect(*endpoint, id, body);
  }
  void on_goaway() override {}
  // As ServerTunnel does: the endpoint told the streams; cut what is left.
  void on_endpoint_closed(const std::string& why, size_t) override {
    closed_why = why;
    ++closed;
    if (dispatch == nullptr) return;
    sessions_at_close = dispatch->size();
    dispatch->cut_all("tunnel lost: " + why);
  }

  std::unique_ptr<Tunnel> tunnel;  // until the endpoint takes it
  std::unique_ptr<TunnelEndpoint> endpoint;
  SessionDispatch* dispatch = nullptr;  // the server's side
  int ready = 0;
  int closed = 0;
  std::string closed_why;
  size_t sessions_at_close = 0;  // the dispatch's sessions when the owner heard of the end
};

// A session as the client sees it: replies, RST and loss before the data
// phase, then its reader.
class ClientSession final : public TunnelStreamControl {
 public:
  void on_session_frame(frame::Type type, ByteView body) override {
    if (type == frame::Type::Rst) {
      ++rsts;
      return;
    }
    auto reply = frame::parse_connect_reply(body);
    ASSERT_TRUE(reply);
    replies.push_back(reply->reply);
    if (reply->reply == 0) stream->set_reader(&reader);
  }
  void on_session_lost(const std::string& why) override { lost_why = why; }

  std::vector<int> replies;
  int rsts = 0;
  std::string lost_why;
  Recorder reader;
  std::unique_ptr<TunnelStream> stream;
};

class SessionDispatchLoopbackTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    std::string err;
    const auto pin = write_server_identity(dir_.path() / "server", "127.0.0.1", err);
    ASSERT_TRUE(pin) << err;
    server_tls_ = make_server_tls_context(dir_.path() / "server" / kServerCertFile,
                                          dir_.path() / "server" / kServerKeyFile, err);
    client_tls_ = make_client_tls_context({.pins = {*parse_pin(*pin)}}, err);
    ASSERT_TRUE(server_tls_ && client_tls_) << err;
    ASSERT_EQ(trail_.open(dir_.path() / "trail.jsonl", false), "");
    echo_ = std::make_unique<Destination>(loop_, true);
    allow_ports({echo_->port()});
    dispatch_ =
        std::make_unique<SessionDispatch>(EgressContext{loop_, usage_, trail_, resolver_},
                                          EgressOrigin{"tunnel", "127.0.0.1:1", "KEYTEXT"}, gate_);
    server_.dispatch = dispatch_.get();
    connect_tunnel();
  }

  void TearDown() override {
    sessions_.clear();
    loop_.run_deferred();
    server_.dispatch = nullptr;
    dispatch_.reset();
    server_.endpoint.reset();
    client_.endpoint.reset();
    server_.tunnel.reset();
    client_.tunnel.reset();
    listener_.reset();
    echo_.reset();
    expect_every_handle_closed();
  }

  void allow_ports(std::vector<uint16_t> ports) {
    ServerConfig config;
    config.server.connect_timeout = 10s;
    config.tenants.push_back(loopback_tenant(std::move(ports)));
    gate_.snapshot = std::make_shared<const ServerSnapshot>(std::move(config));
  }

  // TLS over loopback, then an endpoint on each side.
  void connect_tunnel() {
    listener_ = std::make_unique<TcpListener>(loop_, [this](std::unique_ptr<TcpConnection> c) {
      server_.tunnel =
          std::make_unique<Tunnel>(loop_, std::move(c), server_tls_.get(), TlsEngine::Role::Server);
      server_.tunnel->set_handler(&server_);
      server_.tunnel->start();
    });
    ASSERT_EQ(listener_->listen(*SocketAddress::parse("127.0.0.1:0")), "");
    auto connection = std::make_unique<TcpConnection>(loop_);
    TcpConnection& raw = *connection;
    client_.tunnel = std::make_unique<Tunnel>(loop_, std::move(connection), client_tls_.get(),
                                              TlsEngine::Role::Client);
    client_.tunnel->set_handler(&client_);
    ASSERT_EQ(raw.connect(listener_->address(), std::nullopt,
                          [this](int status) {
                            ASSERT_EQ(status, 0);
                            client_.tunnel->start();
                          }),
              0);
    ASSERT_TRUE(run_until([&] { return client_.ready == 1 && server_.ready == 1; }));
    const Liveness::Settings liveness{60s, 10s};
    server_.endpoint = std::make_unique<TunnelEndpoint>(
        loop_, std::move(server_.tunnel), TunnelEndpoint::Side::Server, kDefaultSessionWindow,
        kDefaultSessionWindow, liveness, server_);
    client_.endpoint = std::make_unique<TunnelEndpoint>(
        loop_, std::move(client_.tunnel), TunnelEndpoint::Side::Client, kDefaultSessionWindow,
        kDefaultSessionWindow, liveness, client_);
  }

  // A new client session; its CONNECT carries `body` when given, else `target`.
  ClientSession& open_session(const Target& target, std::optional<Bytes> body = std::nullopt) {
    sessions_.push_back(std::make_unique<ClientSession>());
    ClientSession& s = *sessions_.back();
    s.stream = client_.endpoint->open_stream();
    s.stream->set_control(&s);
    if (!body) {
      s.stream->send_connect(target);
    } else {
      Bytes frame;
      frame::encode_session_frame(frame, frame::Type::Connect, s.stream->id(), *body);
      client_.endpoint->send(frame);
    }
    return s;
  }

  std::vector<std::string> trail() { return read_lines(dir_.path() / "trail.jsonl"); }

  TempDir dir_;
  SslCtxPtr server_tls_;
  SslCtxPtr client_tls_;
  TrailWriter trail_;
  UsageRegistry usage_;
  Resolver resolver_{loop_};  // not configured: these tests dial IP literals
  FakeGate gate_;
  std::unique_ptr<Destination> echo_;
  std::unique_ptr<TcpListener> listener_;
  Side server_;
  Side client_;
  std::unique_ptr<SessionDispatch> dispatch_;
  std::vector<std::unique_ptr<ClientSession>> sessions_;
};

TEST_F(SessionDispatchLoopbackTest, AConnectToAnEchoListenerIsAnsweredAndRelayed) {
  ClientSession& s = open_session(loopback_target(echo_->port()));
  ASSERT_TRUE(run_until([&] { return !s.replies.empty(); }));
  EXPECT_EQ(s.replies, std::vector<int>{0});
  EXPECT_EQ(dispatch_->size(), 1u);
  EXPECT_EQ(gate_.sessions_over, 0);
  s.stream->write(as_bytes("EHLO client\r\n"));
  ASSERT_TRUE(run_until([&] { return s.reader.data == "EHLO client\r\n"; }));
  s.stream->shutdown_write();
  ASSERT_TRUE(run_until([&] { return s.reader.eof == 1 && gate_.sessions_over == 1; }));
  EXPECT_EQ(dispatch_->size(), 0u);
  EXPECT_EQ(server_.closed, 0) << "the tunnel carries on";
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("reply":0,"bytes_up":13,"bytes_down":13,)")) << lines[0];
  EXPECT_TRUE(contains(lines[0], R"("end":"closed"})")) << lines[0];
}

TEST_F(SessionDispatchLoopbackTest, AMalformedConnectClosesTheTunnel) {
  open_session({}, Bytes{0x01, 0x7f});  // an IPv4 address cut short
  ASSERT_TRUE(run_until([&] { return server_.closed == 1 && client_.closed == 1; }));
  EXPECT_EQ(server_.closed_why, "protocol error: malformed CONNECT");
  EXPECT_EQ(dispatch_->size(), 0u);
  EXPECT_TRUE(echo_->peers.empty());
  EXPECT_TRUE(trail().empty());
}

TEST_F(SessionDispatchLoopbackTest, AnUnknownAddressTypeIsAnsweredWithReply8) {
  ClientSession& bad = open_session({}, Bytes{0x02, 0x00, 0x19});
  ASSERT_TRUE(run_until([&] { return !bad.replies.empty(); }));
  EXPECT_EQ(bad.replies, std::vector<int>{8});
  EXPECT_EQ(gate_.sessions_over, 1);
  // The tunnel carries on: the next CONNECT is served.
  ClientSession& good = open_session(loopback_target(echo_->port()));
  ASSERT_TRUE(run_until([&] { return !good.replies.empty(); }));
  EXPECT_EQ(good.replies, std::vector<int>{0});
  EXPECT_EQ(server_.closed, 0);
}

TEST_F(SessionDispatchLoopbackTest, AGateRefusalRepliesNotAllowedAndTellsTheGate) {
  gate_.refusal = "tenant acme is disabled";
  ClientSession& s = open_session(loopback_target(echo_->port()));
  ASSERT_TRUE(run_until([&] { return !s.replies.empty(); }));
  EXPECT_EQ(s.replies, std::vector<int>{2});
  EXPECT_EQ(gate_.refused, std::vector<std::string>{"tenant acme is disabled"});
  EXPECT_EQ(dispatch_->size(), 0u);
  run_for(100ms);
  EXPECT_TRUE(echo_->peers.empty()) << "nothing dialed";
}

TEST_F(SessionDispatchLoopbackTest, WhileRetiringAConnectGetsAnRstBeforeAnyReply) {
  gate_.retiring_now = true;
  ClientSession& s = open_session(loopback_target(echo_->port()));
  ASSERT_TRUE(run_until([&] { return s.rsts == 1; }));
  run_for(100ms);
  EXPECT_TRUE(s.replies.empty());
  EXPECT_EQ(dispatch_->size(), 0u);
  EXPECT_TRUE(echo_->peers.empty());
  EXPECT_TRUE(gate_.refused.empty());
  EXPECT_EQ(server_.closed, 0);
}

TEST_F(SessionDispatchLoopbackTest, AnRstFromTheClientBeforeTheReplyCancelsTheDial) {
  UnansweredPort unanswered;
  if (!unanswered.ok()) GTEST_SKIP() << "this kernel answers a full listen queue";
  allow_ports({unanswered.port()});
  ClientSession& s = open_session(loopback_target(unanswered.port()));
  ASSERT_TRUE(run_until([&] { return dispatch_->size() == 1; }));
  run_for(200ms);
  ASSERT_TRUE(s.replies.empty()) << "the dial should still be under way";
  s.stream->abort();
  ASSERT_TRUE(run_until([&] { return dispatch_->size() == 0; }));
  EXPECT_EQ(gate_.sessions_over, 1);
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], R"("connected":")" + unanswered.address().to_string() + "\""))
      << lines[0];
  EXPECT_TRUE(contains(lines[0], R"("reply":null,)")) << lines[0];
  EXPECT_TRUE(contains(lines[0], R"("end":"cancelled by the client before the reply"})"))
      << lines[0];
  EXPECT_EQ(server_.closed, 0);
}

TEST_F(SessionDispatchLoopbackTest, ALostTunnelEndsEverySessionWithATrailLine) {
  UnansweredPort unanswered;  // a second session still dialing, where the kernel allows
  allow_ports({echo_->port(), unanswered.port()});
  ClientSession& relaying = open_session(loopback_target(echo_->port()));
  ClientSession& dialing =
      open_session(loopback_target(unanswered.ok() ? unanswered.port() : echo_->port()));
  ASSERT_TRUE(run_until([&] {
    return !relaying.replies.empty() && dispatch_->size() == 2 &&
           (unanswered.ok() || !dialing.replies.empty());
  }));
  relaying.stream->write(as_bytes("x"));
  ASSERT_TRUE(run_until([&] { return relaying.reader.data == "x"; }));

  client_.endpoint->close("the client goes away");
  ASSERT_TRUE(run_until([&] { return server_.closed == 1 && dispatch_->size() == 0; }));
  EXPECT_EQ(server_.sessions_at_close, 0u)
      << "every session heard of the loss through its stream, before the owner's cut_all";
  EXPECT_EQ(gate_.sessions_over, 1) << "once, when the last session ended";
  EXPECT_EQ(relaying.reader.errors, 1);
  EXPECT_EQ(relaying.reader.error.rfind("lost: ", 0), 0u) << relaying.reader.error;
  if (unanswered.ok()) {
    EXPECT_EQ(dialing.lost_why.rfind("lost: ", 0), 0u) << dialing.lost_why;
  }
  const auto lines = trail();
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& line : lines) {
    EXPECT_TRUE(contains(line, R"("end":"tunnel lost: )" + server_.closed_why + "\"}")) << line;
  }
  if (unanswered.ok()) {
    EXPECT_EQ(contains(lines[0], R"("reply":null,)") + contains(lines[1], R"("reply":null,)"), 1)
        << "the session still dialing had no reply";
  }
  ASSERT_TRUE(run_until([&] { return echo_->peers[0]->errors == 1; }));
}

}  // namespace
}  // namespace mx::loopback
