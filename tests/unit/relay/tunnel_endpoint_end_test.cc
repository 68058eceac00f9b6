// Tier (c): however a tunnel ends, its sessions learn it. Over real TCP on
// loopback (tunnel_endpoint_fixture.h): the owner's close(), a protocol error
// of the peer, the peer's socket closed or reset, and liveness (PING when
// quiet or when a CONNECT is unanswered, dead after keepalive_timeout). Each
// time every stream is told ("lost: why", to its reader, or to its control
// before the reply), and then the owner, once, with the number of sessions.
#include "tunnel_endpoint_fixture.h"

namespace mx::test {
namespace {

using namespace std::chrono_literals;

class TunnelEndpointEndTest : public TunnelEndpointTest {
 protected:
  // Two client sessions in their data phase and a third before its reply.
  void open_three_sessions() {
    open_session(readers_[0]);
    open_session(readers_[1]);
    pending_ = &open_pending(pending_control_);
    ASSERT_EQ(client_ep_->session_count(), 3u);
  }

  // Every client session was told `why` once, and the owner once.
  void expect_client_told(const std::string& why) {
    EXPECT_EQ(client_owner_.closed, 1);
    EXPECT_EQ(client_owner_.closed_why, why);
    EXPECT_EQ(client_owner_.closed_sessions, 3u);
    for (const RecordingReader& reader : readers_) {
      EXPECT_EQ(reader.errors, 1);
      EXPECT_EQ(reader.error, "lost: " + why);
    }
    EXPECT_EQ(pending_control_.lost, 1);
    EXPECT_EQ(pending_control_.lost_why, "lost: " + why);
    EXPECT_EQ(client_ep_->session_count(), 0u);
    EXPECT_TRUE(client_ep_->closed());
    for (const auto& stream : client_streams_) EXPECT_FALSE(stream->live());
  }

  // Likewise for the server's three streams.
  void expect_server_told(const std::string& why) {
    EXPECT_EQ(server_owner_.closed, 1);
    EXPECT_EQ(server_owner_.closed_why, why);
    EXPECT_EQ(server_owner_.closed_sessions, 3u);
    for (auto& [id, reader] : server_readers_) {
      EXPECT_EQ(reader.errors, 1) << "session " << id;
      EXPECT_EQ(reader.error, "lost: " + why) << "session " << id;
    }
  }

  // Nothing is told twice, and streams that outlive their tunnel go quietly.
  void expect_told_once_then_quiet() {
    const int gone = client_owner_.streams_gone;
    run_for(100ms);
    if (pending_ != nullptr) pending_->write(as_bytes("after the end"));
    client_streams_.clear();
    server_streams_.clear();
    run_for(20ms);
    EXPECT_LE(client_owner_.closed, 1);
    EXPECT_LE(server_owner_.closed, 1);
    for (const RecordingReader& reader : readers_) EXPECT_LE(reader.errors, 1);
    EXPECT_LE(pending_control_.lost, 1);
    EXPECT_EQ(client_owner_.streams_gone, gone) << "the endpoint forgot them when it ended";
  }

  RecordingReader readers_[2];
  RecordingControl pending_control_;
  TunnelStream* pending_ = nullptr;
};

// (a) The owner closes: everything is told at once, inside close().
TEST_F(TunnelEndpointEndTest, CloseByTheOwnerTellsEveryStreamAndTheOwnerOnce) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  ASSERT_NO_FATAL_FAILURE(open_three_sessions());
  client_ep_->close("shutting down");
  expect_client_told("shutting down");
  client_ep_->close("again");
  EXPECT_EQ(client_owner_.closed, 1);
  EXPECT_EQ(client_owner_.closed_why, "shutting down");
  // The server reads the close_notify.
  ASSERT_TRUE(run_until([&] { return server_owner_.closed == 1; }));
  expect_server_told("peer closed the tunnel");
  expect_told_once_then_quiet();
}

// (b) The peer breaks the protocol: DATA for an id never used.
TEST_F(TunnelEndpointEndTest, AProtocolErrorOfThePeerEndsEverySession) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  ASSERT_NO_FATAL_FAILURE(open_three_sessions());
  send_raw(frame::Type::Data, 99, as_bytes("x"));
  ASSERT_TRUE(run_until([&] { return server_owner_.closed == 1 && client_owner_.closed == 1; }));
  expect_server_told("protocol error: DATA for unknown session 99");
  expect_client_told("peer closed the tunnel");
  expect_told_once_then_quiet();
}

// (c) The peer's socket goes away under its tunnel: closed (FIN, no
// close_notify) or reset (RST).
TEST_F(TunnelEndpointEndTest, ThePeersSocketClosedEndsEverySession) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  ASSERT_NO_FATAL_FAILURE(open_three_sessions());
  server_ep_->tunnel().transport().close();
  ASSERT_TRUE(run_until([&] { return client_owner_.closed == 1; }));
  expect_client_told("connection closed without TLS close_notify");
  expect_told_once_then_quiet();
}

TEST_F(TunnelEndpointEndTest, ThePeersSocketResetEndsEverySession) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  ASSERT_NO_FATAL_FAILURE(open_three_sessions());
  server_ep_->tunnel().transport().abort();
  ASSERT_TRUE(run_until([&] { return client_owner_.closed == 1; }));
  EXPECT_NE(client_owner_.closed_why.find("ECONNRESET"), std::string::npos)
      << client_owner_.closed_why;
  expect_client_told(client_owner_.closed_why);
  expect_told_once_then_quiet();
}

// (d) A peer that stops reading: the CONNECT of the third session goes
// unanswered, the PING behind it too, and keepalive_timeout after the
// CONNECT the tunnel is given up.
TEST_F(TunnelEndpointEndTest, AFrozenPeerIsGivenUpAfterTheKeepaliveTimeout) {
  ASSERT_NO_FATAL_FAILURE(
      connect_endpoints(kDefaultSessionWindow, kDefaultSessionWindow, {100ms, 100ms}));
  open_session(readers_[0]);
  open_session(readers_[1]);
  server_ep_->tunnel().transport().pause_reading();
  uv_update_time(loop_.get());
  const uint64_t frozen_at = uv_now(loop_.get());
  client_streams_.push_back(client_ep_->open_stream());
  pending_ = client_streams_.back().get();
  pending_->set_control(&pending_control_);
  pending_->send_connect(Target::ipv4({192, 0, 2, 1}, 25));
  ASSERT_TRUE(run_until([&] { return client_owner_.closed == 1; }, 3s));
  EXPECT_GE(uv_now(loop_.get()) - frozen_at, 100u);
  expect_client_told("no answer within keepalive_timeout (100 ms)");
  EXPECT_EQ(server_owner_.closed, 0) << "the frozen side knows nothing yet";
  expect_told_once_then_quiet();
}

// (d) Quiet for the interval, the endpoint sends PING; unanswered within
// the timeout, it closes. The peer here is a raw Tunnel that answers nothing.
TEST_F(TunnelEndpointEndTest, AQuietTunnelIsPingedAndClosedWhenThePingIsUnanswered) {
  connect_and_handshake();
  uv_update_time(loop_.get());
  const uint64_t start = uv_now(loop_.get());
  uint64_t ping_at = 0;
  server_handler_.on_frame = [&](const frame::Frame& f) {
    if (f.type == frame::Type::Ping && ping_at == 0) ping_at = uv_now(loop_.get());
  };
  wrap_client(kDefaultSessionWindow, kDefaultSessionWindow, {100ms, 100ms});
  ASSERT_TRUE(run_until([&] { return client_owner_.closed == 1; }, 3s));
  const uint64_t closed_at = uv_now(loop_.get());
  ASSERT_NE(ping_at, 0u) << "no PING before the end";
  EXPECT_GE(ping_at - start, 100u) << "not before the interval";
  EXPECT_GE(closed_at - ping_at, 100u - 5) << "not before the timeout";  // clock granularity
  EXPECT_EQ(client_owner_.closed_why, "no answer within keepalive_timeout (100 ms)");
  EXPECT_EQ(client_owner_.closed_sessions, 0u);
  ASSERT_TRUE(run_until([&] { return server_handler_.closed == 1; }));
  // A lost tunnel is dropped, not closed politely: no close_notify to a peer
  // that stopped answering.
  EXPECT_EQ(server_handler_.closed_why, "connection closed without TLS close_notify");
  EXPECT_EQ(server_handler_.frames.size(), 1u) << "one PING per silence";
}

// (e) PING is answered at once with a PONG of the same payload, either side.
TEST_F(TunnelEndpointEndTest, APingIsAnsweredWithAPongOfTheSamePayload) {
  connect_and_handshake();
  wrap_server();
  const Bytes payload = {1, 2, 3, 4, 5, 6, 7, 8};
  client_->send(ping_frame(payload));
  ASSERT_TRUE(run_until([&] { return client_handler_.frames.size() == 1; }));
  EXPECT_EQ(client_handler_.frames[0].type, frame::Type::Pong);
  EXPECT_EQ(client_handler_.frames[0].payload, payload);
  // An unasked-for PONG is harmless.
  Bytes pong;
  frame::encode_frame(pong, frame::Type::Pong, payload);
  client_->send(pong);
  client_->send(ping_frame({}));
  ASSERT_TRUE(run_until([&] { return client_handler_.frames.size() == 2; }));
  EXPECT_TRUE(client_handler_.frames[1].payload.empty());
  EXPECT_EQ(server_owner_.closed, 0) << server_owner_.closed_why;
}

// (f) A CONNECT unanswered for the probe delay (min(200 ms, timeout / 2))
// sends a PING at once; its PONG keeps the tunnel alive however slow the
// reply is.
TEST_F(TunnelEndpointEndTest, AnUnansweredConnectSendsAPingAfterTheProbeDelay) {
  connect_and_handshake();
  std::vector<std::pair<frame::Type, uint64_t>> arrivals;
  server_handler_.on_frame = [&](const frame::Frame& f) {
    arrivals.emplace_back(f.type, uv_now(loop_.get()));
    if (f.type != frame::Type::Ping) return;
    Bytes pong;
    frame::encode_frame(pong, frame::Type::Pong, f.payload);
    server_->send(pong);
  };
  wrap_client(kDefaultSessionWindow, kDefaultSessionWindow, {10s, 400ms});
  uv_update_time(loop_.get());
  const uint64_t sent_at = uv_now(loop_.get());
  client_streams_.push_back(client_ep_->open_stream());
  client_streams_.back()->set_control(&pending_control_);
  client_streams_.back()->send_connect(Target::domain_name("mx.example.org", 25));
  ASSERT_TRUE(run_until([&] { return arrivals.size() == 2; }));
  EXPECT_EQ(arrivals[0].first, frame::Type::Connect);
  EXPECT_EQ(arrivals[1].first, frame::Type::Ping);
  EXPECT_GE(arrivals[1].second - sent_at, 200u) << "not before the probe delay";
  EXPECT_LT(arrivals[1].second - sent_at, 400u) << "well before the timeout";
  // Answered: past the timeout the tunnel and the waiting session live on.
  run_for(600ms);
  EXPECT_EQ(client_owner_.closed, 0) << client_owner_.closed_why;
  EXPECT_EQ(pending_control_.lost, 0);
  EXPECT_TRUE(client_streams_.back()->live());
  EXPECT_EQ(arrivals.size(), 2u) << "one probe per request; the interval is 10 s";
}

}  // namespace
}  // namespace mx::test
