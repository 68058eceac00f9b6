// Tier (c): multiplexed tunnels. A client and a server Tunnel over real TCP
// on loopback (tunnel_loopback_fixture.h), each wrapped in a MuxTunnel:
// several sessions at once, credit per session, resets and protocol errors
// that stay within their session or close the tunnel, as docs/PROTOCOL.md says.
#include <map>

#include "mxegress/relay/mux_stream.h"
#include "mxegress/relay/mux_tunnel.h"
#include "tunnel_loopback_fixture.h"

namespace mx::test {
namespace {

class RecordingMuxHandler : public MuxTunnelHandler {
 public:
  void on_mux_frame(const frame::Frame& f) override { frames.push_back(f.type); }
  void on_mux_connect(uint32_t session, ByteView body) override {
    connects.push_back({session, Bytes(body.begin(), body.end())});
    if (on_connect) on_connect(session);
  }
  void on_mux_closed(const std::string& why) override {
    ++closed;
    closed_why = why;
  }
  void on_mux_stream_gone() override { ++streams_gone; }

  std::vector<frame::Type> frames;
  std::vector<std::pair<uint32_t, Bytes>> connects;
  std::function<void(uint32_t)> on_connect;
  int closed = 0;
  std::string closed_why;
  int streams_gone = 0;
};

class MuxTunnelLoopbackTest : public TunnelLoopbackTest {
 protected:
  // Both tunnels multiplexed; the server grants `server_window` per session,
  // the client `client_window`. Each CONNECT opens the server's stream.
  void connect_multiplexed(uint32_t client_window, uint32_t server_window) {
    connect_and_handshake();
    client_mux_ = std::make_unique<MuxTunnel>(loop_, *client_, client_window, server_window,
                                              client_mux_handler_);
    server_mux_ = std::make_unique<MuxTunnel>(loop_, *server_, server_window, client_window,
                                              server_mux_handler_);
    server_mux_handler_.on_connect = [this](uint32_t id) {
      server_streams_[id] = server_mux_->open_stream(id);
      server_streams_[id]->set_reader(&server_readers_[id]);
    };
  }

  // A client session, announced to the server with a CONNECT.
  MuxStream& open_session(RecordingReader& reader) {
    client_streams_.push_back(client_mux_->open_next_stream());
    MuxStream& stream = *client_streams_.back();
    stream.set_reader(&reader);
    stream.send_frame(frame::Type::Connect, {});
    const uint32_t id = stream.id();
    EXPECT_TRUE(run_until([&] { return server_streams_.count(id) == 1; }));
    return stream;
  }

  void send_raw(frame::Type type, uint32_t session, ByteView body) {
    Bytes out;
    frame::encode_session_frame(out, type, session, body);
    client_->send(out);
  }

  void TearDown() override {
    client_streams_.clear();
    server_streams_.clear();
    client_mux_.reset();
    server_mux_.reset();
    TunnelLoopbackTest::TearDown();
  }

  RecordingMuxHandler client_mux_handler_;
  RecordingMuxHandler server_mux_handler_;
  std::unique_ptr<MuxTunnel> client_mux_;
  std::unique_ptr<MuxTunnel> server_mux_;
  std::vector<std::unique_ptr<MuxStream>> client_streams_;
  std::map<uint32_t, std::unique_ptr<MuxStream>> server_streams_;
  std::map<uint32_t, RecordingReader> server_readers_;
};

TEST_F(MuxTunnelLoopbackTest, ClientSessionIdsAreOddAndIncreasing) {
  connect_multiplexed(kDefaultSessionWindow, kDefaultSessionWindow);
  auto a = client_mux_->open_next_stream();
  auto b = client_mux_->open_next_stream();
  auto c = client_mux_->open_next_stream();
  EXPECT_EQ(a->id(), 1u);
  EXPECT_EQ(b->id(), 3u);
  EXPECT_EQ(c->id(), 5u);
  EXPECT_EQ(client_mux_->stream_count(), 3u);
  b->forget();
  b.reset();
  EXPECT_EQ(client_mux_->stream_count(), 2u);
  EXPECT_EQ(client_mux_handler_.streams_gone, 1);
}

TEST_F(MuxTunnelLoopbackTest, ThreeSessionsInterleaveIntactBothWaysAndFinIsPerSession) {
  connect_multiplexed(64 * 1024, 64 * 1024);  // small windows: many WINDOW frames
  RecordingReader readers[3];
  std::vector<MuxStream*> streams;
  for (auto& reader : readers) streams.push_back(&open_session(reader));
  ASSERT_EQ(server_mux_handler_.connects.size(), 3u);

  std::vector<Bytes> up, down;
  for (int i = 0; i < 3; ++i) {
    up.push_back(pattern(700 * 1024 + i, static_cast<uint8_t>(10 + i)));
    down.push_back(pattern(500 * 1024 + 3 * i, static_cast<uint8_t>(20 + i)));
  }
  for (int i = 0; i < 3; ++i) {
    streams[i]->write(up[i]);
    server_streams_[streams[i]->id()]->write(down[i]);
  }
  // Beyond the window the bytes wait for credit, counted as pending.
  EXPECT_GT(streams[0]->pending_bytes(), 0u);
  ASSERT_TRUE(run_until([&] {
    for (int i = 0; i < 3; ++i) {
      if (server_readers_[streams[i]->id()].data.size() < up[i].size()) return false;
      if (readers[i].data.size() < down[i].size()) return false;
    }
    return true;
  }));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(server_readers_[streams[i]->id()].data == up[i]) << "session " << i << " up";
    EXPECT_TRUE(readers[i].data == down[i]) << "session " << i << " down";
  }

  // FIN on the middle session only.
  streams[1]->shutdown_write();
  ASSERT_TRUE(run_until([&] { return server_readers_[streams[1]->id()].eof == 1; }));
  EXPECT_EQ(server_readers_[streams[0]->id()].eof, 0);
  EXPECT_EQ(server_readers_[streams[2]->id()].eof, 0);
  ASSERT_TRUE(run_until([&] { return readers[1].shutdown_done == 1; }));
  EXPECT_EQ(client_mux_handler_.closed + server_mux_handler_.closed, 0);
}

// The point of credit: a session whose reader stops does not stall the
// others on the same tunnel, and its sender holds the bytes instead.
TEST_F(MuxTunnelLoopbackTest, ASessionWhoseReaderPausedDoesNotStallItsNeighbour) {
  constexpr uint32_t kWindow = 128 * 1024;
  connect_multiplexed(kWindow, kWindow);
  RecordingReader stalled_reader, busy_reader;
  MuxStream& stalled = open_session(stalled_reader);
  MuxStream& busy = open_session(busy_reader);
  server_readers_[stalled.id()].on_data = [this, id = stalled.id()](ByteView) {
    server_streams_[id]->pause_reading();  // its sink is full, as the pump would say
  };

  const Bytes big = pattern(4 * 1024 * 1024, 5);
  stalled.write(big);
  const Bytes neighbour = pattern(2 * 1024 * 1024, 6);
  busy.write(neighbour);
  ASSERT_TRUE(run_until([&] { return server_readers_[busy.id()].data.size() == neighbour.size(); }))
      << "the neighbour got " << server_readers_[busy.id()].data.size() << " bytes";
  EXPECT_TRUE(server_readers_[busy.id()].data == neighbour);
  // The stalled session got at most its window; the rest waits at the sender.
  run_for(100ms);
  EXPECT_LE(server_readers_[stalled.id()].data.size(), kWindow);
  EXPECT_GE(stalled.pending_bytes(), big.size() - kWindow);

  // Resumed, it returns the credit and the rest flows.
  server_readers_[stalled.id()].on_data = nullptr;
  server_streams_[stalled.id()]->resume_reading();
  ASSERT_TRUE(run_until([&] { return server_readers_[stalled.id()].data.size() == big.size(); }));
  EXPECT_TRUE(server_readers_[stalled.id()].data == big);
  ASSERT_TRUE(run_until([&] { return stalled.pending_bytes() == 0; }));
  EXPECT_GE(stalled_reader.drained, 1) << "credit that frees held bytes reports a drain";
}

TEST_F(MuxTunnelLoopbackTest, AResetEndsOneSessionAndTheTunnelCarriesOn) {
  connect_multiplexed(kDefaultSessionWindow, kDefaultSessionWindow);
  RecordingReader a_reader, b_reader;
  MuxStream& a = open_session(a_reader);
  MuxStream& b = open_session(b_reader);
  a.abort();
  ASSERT_TRUE(run_until([&] { return server_readers_[a.id()].errors == 1; }));
  EXPECT_EQ(server_readers_[a.id()].error, "session reset by peer");
  EXPECT_FALSE(a.live());
  a.write(as_bytes("dropped"));  // a reset session sends nothing more

  const Bytes payload = pattern(10000, 7);
  b.write(payload);
  ASSERT_TRUE(run_until([&] { return server_readers_[b.id()].data.size() == payload.size(); }));
  EXPECT_EQ(server_readers_[a.id()].data.size(), 0u);
  EXPECT_EQ(b_reader.errors + server_readers_[b.id()].errors, 0);
  EXPECT_EQ(client_mux_handler_.closed + server_mux_handler_.closed, 0);
  EXPECT_FALSE(client_->dead());
}

TEST_F(MuxTunnelLoopbackTest, DestroyingAnUnfinishedSessionResetsItForThePeer) {
  connect_multiplexed(kDefaultSessionWindow, kDefaultSessionWindow);
  RecordingReader reader;
  MuxStream& stream = open_session(reader);
  const uint32_t id = stream.id();
  client_streams_.clear();
  ASSERT_TRUE(run_until([&] { return server_readers_[id].errors == 1; }));
  EXPECT_EQ(client_mux_->stream_count(), 0u);
}

TEST_F(MuxTunnelLoopbackTest, ServerDestroyingASessionBeforeItsReplyResetsItForTheClient) {
  connect_multiplexed(kDefaultSessionWindow, kDefaultSessionWindow);
  RecordingReader reader;
  MuxStream& stream = open_session(reader);
  server_streams_.erase(stream.id());  // no frame of it sent yet: the peer opened it
  ASSERT_TRUE(run_until([&] { return reader.errors == 1; }));
  EXPECT_EQ(client_mux_handler_.closed + server_mux_handler_.closed, 0);
}

// A session that left while the pool handed it its stream: the server never
// saw that id, so an RST for it would be a protocol error closing the tunnel
// and every session on it.
TEST_F(MuxTunnelLoopbackTest, AStreamThatNeverSentItsConnectGoesWithoutAnRst) {
  connect_multiplexed(kDefaultSessionWindow, kDefaultSessionWindow);
  client_mux_->open_next_stream().reset();
  RecordingReader reader;
  MuxStream& stream = open_session(reader);
  EXPECT_EQ(stream.id(), 3u);
  stream.write(as_bytes("after the unused one"));
  ASSERT_TRUE(run_until([&] { return server_readers_[3].data.size() == 20; }));
  EXPECT_EQ(client_mux_handler_.closed + server_mux_handler_.closed, 0)
      << server_mux_handler_.closed_why;
}

TEST_F(MuxTunnelLoopbackTest, TheTunnelsDeathReachesEverySession) {
  connect_multiplexed(kDefaultSessionWindow, kDefaultSessionWindow);
  RecordingReader a_reader, b_reader;
  open_session(a_reader);
  open_session(b_reader);
  server_streams_.clear();  // (their RSTs are on the way; the close follows them)
  server_->close();
  ASSERT_TRUE(run_until([&] { return client_mux_handler_.closed == 1; }));
  EXPECT_EQ(a_reader.errors, 1);
  EXPECT_EQ(b_reader.errors, 1);
  EXPECT_EQ(client_mux_->stream_count(), 0u);
}

TEST_F(MuxTunnelLoopbackTest, DataBeyondTheWindowClosesTheTunnel) {
  connect_multiplexed(kDefaultSessionWindow, 1000);
  RecordingReader reader;
  MuxStream& stream = open_session(reader);
  // Bypass the client's credit: 1,001 bytes against a window of 1,000.
  send_raw(frame::Type::Data, stream.id(), Bytes(1001, 0x41));
  ASSERT_TRUE(run_until([&] { return server_mux_handler_.closed == 1; }));
  EXPECT_NE(server_mux_handler_.closed_why.find("beyond its window"), std::string::npos)
      << server_mux_handler_.closed_why;
  EXPECT_EQ(server_readers_[stream.id()].errors, 1);
}

TEST_F(MuxTunnelLoopbackTest, AReusedOrEvenSessionIdIsAProtocolError) {
  connect_multiplexed(kDefaultSessionWindow, kDefaultSessionWindow);
  send_raw(frame::Type::Connect, 7, {});
  ASSERT_TRUE(run_until([&] { return server_mux_handler_.connects.size() == 1; }));
  send_raw(frame::Type::Connect, 5, {});  // below the last one
  ASSERT_TRUE(run_until([&] { return server_mux_handler_.closed == 1; }));
  EXPECT_NE(server_mux_handler_.closed_why.find("not a new odd id"), std::string::npos)
      << server_mux_handler_.closed_why;
}

TEST_F(MuxTunnelLoopbackTest, EvenIdsAreRefusedToo) {
  connect_multiplexed(kDefaultSessionWindow, kDefaultSessionWindow);
  send_raw(frame::Type::Connect, 2, {});
  ASSERT_TRUE(run_until([&] { return server_mux_handler_.closed == 1; }));
  EXPECT_EQ(server_mux_handler_.connects.size(), 0u);
}

TEST_F(MuxTunnelLoopbackTest, LateFramesOfAnEndedSessionAreDroppedButUnknownIdsAreErrors) {
  connect_multiplexed(kDefaultSessionWindow, kDefaultSessionWindow);
  RecordingReader reader;
  MuxStream& stream = open_session(reader);
  const uint32_t id = stream.id();
  server_streams_[id]->forget();
  server_streams_.erase(id);
  // A WINDOW and an RST for the ended session: dropped, the tunnel stays up.
  Bytes window;
  frame::encode_window(window, id, 100);
  client_->send(window);
  send_raw(frame::Type::Rst, id, {});
  client_->send(ping_frame({1}));
  ASSERT_TRUE(run_until([&] { return server_mux_handler_.frames.size() == 1; }));
  EXPECT_EQ(server_mux_handler_.closed, 0);
  // DATA for a session that never was: the peer is broken.
  send_raw(frame::Type::Data, 99, as_bytes("x"));
  ASSERT_TRUE(run_until([&] { return server_mux_handler_.closed == 1; }));
  EXPECT_NE(server_mux_handler_.closed_why.find("unknown session 99"), std::string::npos)
      << server_mux_handler_.closed_why;
}

TEST_F(MuxTunnelLoopbackTest, ASessionFrameWithoutAnIdClosesTheTunnel) {
  connect_multiplexed(kDefaultSessionWindow, kDefaultSessionWindow);
  Bytes out;
  frame::encode_frame(out, frame::Type::Fin, Bytes{0, 1});
  client_->send(out);
  ASSERT_TRUE(run_until([&] { return server_mux_handler_.closed == 1; }));
  EXPECT_NE(server_mux_handler_.closed_why.find("without a session id"), std::string::npos);
}

}  // namespace
}  // namespace mx::test
