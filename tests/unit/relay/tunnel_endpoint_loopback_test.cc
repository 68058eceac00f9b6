// Tier (c): a client and a server TunnelEndpoint over real TCP on loopback
// (tunnel_endpoint_fixture.h): several sessions at once, credit per session,
// resets that stay within their session, protocol errors that close the
// tunnel, as docs/PROTOCOL.md says. How a tunnel's end reaches its sessions
// is in tunnel_endpoint_end_test.cc.
#include "tunnel_endpoint_fixture.h"

namespace mx::test {
namespace {

using namespace std::chrono_literals;

TEST_F(TunnelEndpointTest, ClientSessionIdsAreOddAndIncreasing) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  auto a = client_ep_->open_stream();
  auto b = client_ep_->open_stream();
  auto c = client_ep_->open_stream();
  EXPECT_EQ(a->id(), 1u);
  EXPECT_EQ(b->id(), 3u);
  EXPECT_EQ(c->id(), 5u);
  EXPECT_EQ(client_ep_->session_count(), 3u);
  EXPECT_TRUE(b->live());
  b->forget();
  EXPECT_FALSE(b->live());
  b.reset();
  EXPECT_EQ(client_ep_->session_count(), 2u);
  EXPECT_EQ(client_owner_.streams_gone, 1);
}

// One session, a mebibyte each way (many DATA frames), then FIN each way:
// EOF at the reader, the half-close reported to the writer, and the other
// direction still flowing in between.
TEST_F(TunnelEndpointTest, OneMebibyteEachWayArrivesIntactAndFinBecomesEof) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  RecordingReader client_reader;
  TunnelStream& client = open_session(client_reader);
  TunnelStream& server = *server_streams_[client.id()];
  RecordingReader& server_reader = server_readers_[client.id()];

  const Bytes up = pattern(1024 * 1024, 1);
  const Bytes down = pattern(1024 * 1024 + 17, 2);  // not a multiple of the frame size
  client.write(up);
  const bool queued = client.pending_bytes() > 0;
  server.write(down);
  ASSERT_TRUE(run_until([&] {
    return server_reader.data.size() >= up.size() && client_reader.data.size() >= down.size();
  })) << "server got "
      << server_reader.data.size() << ", client got " << client_reader.data.size();
  EXPECT_TRUE(server_reader.data == up) << "bytes client → server differ";
  EXPECT_TRUE(client_reader.data == down) << "bytes server → client differ";
  EXPECT_GE(server_reader.data_calls, 1024 * 1024 / frame::kMaxDataPayload + 1)
      << "1 MiB is at least this many DATA frames";
  ASSERT_TRUE(run_until([&] { return client.pending_bytes() == 0; }));
  if (queued) {
    EXPECT_GE(client_reader.drained, 1) << "completed writes report to the reader";
  }

  client.shutdown_write();
  ASSERT_TRUE(
      run_until([&] { return server_reader.eof == 1 && client_reader.shutdown_done == 1; }));
  const Bytes after_fin = pattern(5000, 3);
  server.write(after_fin);
  ASSERT_TRUE(
      run_until([&] { return client_reader.data.size() == down.size() + after_fin.size(); }));
  EXPECT_TRUE(std::equal(after_fin.begin(), after_fin.end(),
                         client_reader.data.begin() + static_cast<ptrdiff_t>(down.size())));
  server.shutdown_write();
  ASSERT_TRUE(
      run_until([&] { return client_reader.eof == 1 && server_reader.shutdown_done == 1; }));
  EXPECT_EQ(server_reader.errors + client_reader.errors, 0)
      << server_reader.error << client_reader.error;
  EXPECT_EQ(client_owner_.closed + server_owner_.closed, 0);
}

// Once FIN has gone both ways the session is over on the wire: abort() (a
// late socket error at either end) and destroying the streams send no RST,
// and the tunnel carries the next session.
TEST_F(TunnelEndpointTest, AfterFinBothWaysTheSessionEndsWithoutAnRst) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  RecordingReader client_reader;
  TunnelStream& client = open_session(client_reader);
  const uint32_t id = client.id();
  RecordingReader& server_reader = server_readers_[id];
  client.shutdown_write();
  server_streams_[id]->shutdown_write();
  ASSERT_TRUE(run_until([&] { return client_reader.eof == 1 && server_reader.eof == 1; }));
  client.abort();
  client_streams_.clear();
  server_streams_.clear();
  EXPECT_EQ(client_ep_->session_count(), 0u);

  RecordingReader next_reader;
  TunnelStream& next = open_session(next_reader);
  next.write(as_bytes("next"));
  ASSERT_TRUE(run_until([&] { return server_readers_[next.id()].data.size() == 4; }));
  EXPECT_EQ(server_reader.errors + client_reader.errors, 0) << server_reader.error;
  EXPECT_EQ(client_owner_.closed + server_owner_.closed, 0) << server_owner_.closed_why;
}

TEST_F(TunnelEndpointTest, ThreeSessionsInterleaveIntactBothWaysAndFinIsPerSession) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints(64 * 1024, 64 * 1024));  // many WINDOW frames
  RecordingReader readers[3];
  std::vector<TunnelStream*> streams;
  for (auto& reader : readers) streams.push_back(&open_session(reader));
  ASSERT_EQ(server_owner_.requests.size(), 3u);
  bool bad_address_type = false;
  const auto target = frame::parse_connect(server_owner_.requests[0].second, bad_address_type);
  ASSERT_TRUE(target) << "the owner gets the CONNECT's body";
  EXPECT_EQ(target->to_string(), "192.0.2.1:25");

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
  EXPECT_FALSE(streams[0]->can_send_now());
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
  EXPECT_EQ(client_owner_.closed + server_owner_.closed, 0);
}

// The point of credit: a session whose reader stops does not stall the
// others on the same tunnel, and its sender holds the bytes instead.
TEST_F(TunnelEndpointTest, ASessionWhoseReaderPausedDoesNotStallItsNeighbour) {
  constexpr uint32_t kWindow = 128 * 1024;
  ASSERT_NO_FATAL_FAILURE(connect_endpoints(kWindow, kWindow));
  RecordingReader stalled_reader, busy_reader;
  TunnelStream& stalled = open_session(stalled_reader);
  TunnelStream& busy = open_session(busy_reader);
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

TEST_F(TunnelEndpointTest, AResetEndsOneSessionAndTheTunnelCarriesOn) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  RecordingReader a_reader, b_reader;
  TunnelStream& a = open_session(a_reader);
  TunnelStream& b = open_session(b_reader);
  a.abort();
  ASSERT_TRUE(run_until([&] { return server_readers_[a.id()].errors == 1; }));
  EXPECT_EQ(server_readers_[a.id()].error, "reset by peer");
  EXPECT_FALSE(server_streams_[a.id()]->live());
  EXPECT_FALSE(a.live());
  a.write(as_bytes("dropped"));  // a reset session sends nothing more

  const Bytes payload = pattern(10000, 7);
  b.write(payload);
  ASSERT_TRUE(run_until([&] { return server_readers_[b.id()].data.size() == payload.size(); }));
  EXPECT_EQ(server_readers_[a.id()].data.size(), 0u);
  EXPECT_EQ(a_reader.errors, 0) << "the side that aborted hears nothing back";
  EXPECT_EQ(b_reader.errors + server_readers_[b.id()].errors, 0);
  EXPECT_EQ(client_owner_.closed + server_owner_.closed, 0);
  EXPECT_FALSE(client_ep_->closed());
}

TEST_F(TunnelEndpointTest, DestroyingAnUnfinishedSessionResetsItForThePeer) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  RecordingReader reader;
  const uint32_t id = open_session(reader).id();
  client_streams_.clear();
  ASSERT_TRUE(run_until([&] { return server_readers_[id].errors == 1; }));
  EXPECT_EQ(server_readers_[id].error, "reset by peer");
  EXPECT_EQ(client_ep_->session_count(), 0u);
  EXPECT_EQ(client_owner_.streams_gone, 1);
}

// Before its reply, an RST goes to the session's control, not to a reader.
TEST_F(TunnelEndpointTest, ServerDestroyingASessionBeforeItsReplyResetsItForTheClient) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  RecordingControl control;
  TunnelStream& stream = open_pending(control);
  server_streams_.erase(stream.id());  // no frame of it sent yet: the peer opened it
  ASSERT_TRUE(run_until([&] { return !control.frames.empty(); }));
  EXPECT_EQ(control.frames[0].type, frame::Type::Rst);
  EXPECT_FALSE(stream.live());
  EXPECT_EQ(control.lost, 0);
  EXPECT_EQ(client_owner_.closed + server_owner_.closed, 0);
}

// A session that left while the pool handed it its stream: the server never
// saw that id, so an RST for it would be a protocol error closing the tunnel
// and every session on it.
TEST_F(TunnelEndpointTest, AStreamThatNeverSentItsConnectGoesWithoutAnRst) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  client_ep_->open_stream().reset();
  RecordingReader reader;
  TunnelStream& stream = open_session(reader);
  EXPECT_EQ(stream.id(), 3u);
  stream.write(as_bytes("after the unused one"));
  ASSERT_TRUE(run_until([&] { return server_readers_[3].data.size() == 20; }));
  EXPECT_EQ(client_owner_.closed + server_owner_.closed, 0) << server_owner_.closed_why;
}

// The same for a stream aborted before its CONNECT (its session's gateway
// reset the connection while the pool handed the stream over).
TEST_F(TunnelEndpointTest, AStreamAbortedBeforeItsConnectGoesWithoutAnRst) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  auto unused = client_ep_->open_stream();
  unused->abort();
  unused.reset();
  RecordingReader reader;
  TunnelStream& stream = open_session(reader);
  stream.write(as_bytes("after the aborted one"));
  ASSERT_TRUE(run_until([&] { return server_readers_[stream.id()].data.size() == 21; }));
  EXPECT_EQ(client_owner_.closed + server_owner_.closed, 0) << server_owner_.closed_why;
}

TEST_F(TunnelEndpointTest, DataBeyondTheWindowClosesTheTunnel) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints(kDefaultSessionWindow, 1000));
  RecordingReader reader;
  TunnelStream& stream = open_session(reader);
  // Bypass the client's credit: 1,001 bytes against a window of 1,000.
  send_raw(frame::Type::Data, stream.id(), Bytes(1001, 0x41));
  ASSERT_TRUE(run_until([&] { return server_owner_.closed == 1; }));
  EXPECT_NE(server_owner_.closed_why.find("beyond its window"), std::string::npos)
      << server_owner_.closed_why;
  EXPECT_EQ(server_readers_[stream.id()].errors, 1);
}

TEST_F(TunnelEndpointTest, AReusedSessionIdIsAProtocolError) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  send_raw(frame::Type::Connect, 7, {});
  ASSERT_TRUE(run_until([&] { return server_owner_.requests.size() == 1; }));
  send_raw(frame::Type::Connect, 5, {});  // below the last one
  ASSERT_TRUE(run_until([&] { return server_owner_.closed == 1; }));
  EXPECT_EQ(server_owner_.closed_why, "protocol error: CONNECT for session 5, not a new odd id");
}

TEST_F(TunnelEndpointTest, EvenIdsAreRefusedToo) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  send_raw(frame::Type::Connect, 2, {});
  ASSERT_TRUE(run_until([&] { return server_owner_.closed == 1; }));
  EXPECT_EQ(server_owner_.requests.size(), 0u);
  EXPECT_NE(server_owner_.closed_why.find("not a new odd id"), std::string::npos);
}

TEST_F(TunnelEndpointTest, LateFramesOfAnEndedSessionAreDroppedButUnknownIdsAreErrors) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  RecordingReader reader;
  const uint32_t id = open_session(reader).id();
  server_streams_[id]->forget();
  server_streams_.erase(id);
  // A WINDOW and an RST for the ended session: dropped, the tunnel stays up
  // (the next session's CONNECT comes after them, and is served).
  Bytes window;
  frame::encode_window(window, id, 100);
  client_ep_->tunnel().send(window);
  send_raw(frame::Type::Rst, id, {});
  RecordingReader next_reader;
  open_session(next_reader);
  EXPECT_EQ(server_owner_.closed, 0) << server_owner_.closed_why;
  // DATA for a session that never was: the peer is broken.
  send_raw(frame::Type::Data, 99, as_bytes("x"));
  ASSERT_TRUE(run_until([&] { return server_owner_.closed == 1; }));
  EXPECT_EQ(server_owner_.closed_why, "protocol error: DATA for unknown session 99");
}

TEST_F(TunnelEndpointTest, ASessionFrameWithoutAnIdClosesTheTunnel) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  Bytes out;
  frame::encode_frame(out, frame::Type::Fin, Bytes{0, 1});
  client_ep_->tunnel().send(out);
  ASSERT_TRUE(run_until([&] { return server_owner_.closed == 1; }));
  EXPECT_EQ(server_owner_.closed_why, "protocol error: FIN without a session id");
}

// DATA on the server before its stream has a reader (before its reply).
TEST_F(TunnelEndpointTest, DataBeforeTheDataPhaseClosesTheTunnel) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  server_owner_.on_request = [this](uint32_t id) {
    server_streams_[id] = server_ep_->accept_stream(id);  // dialling: no reader yet
  };
  RecordingControl control;
  const uint32_t id = open_pending(control).id();
  send_raw(frame::Type::Data, id, as_bytes("early"));
  ASSERT_TRUE(run_until([&] { return server_owner_.closed == 1; }));
  EXPECT_EQ(server_owner_.closed_why, "protocol error: DATA before the reply in session 1");
}

// GOAWAY is for the client; AUTH and AUTH_RESULT only open a tunnel.
TEST_F(TunnelEndpointTest, GoAwayReachesTheClientsOwnerAndIsAnErrorAtTheServer) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  Bytes goaway;
  frame::encode_frame(goaway, frame::Type::GoAway, {});
  server_ep_->send(goaway);
  ASSERT_TRUE(run_until([&] { return client_owner_.goaways == 1; }));
  EXPECT_EQ(client_owner_.closed, 0);
  client_ep_->send(goaway);
  ASSERT_TRUE(run_until([&] { return server_owner_.closed == 1; }));
  EXPECT_EQ(server_owner_.closed_why, "protocol error: unexpected GOAWAY");
  EXPECT_EQ(server_owner_.goaways, 0);
}

TEST_F(TunnelEndpointTest, AnAuthAfterTheHandshakeIsAProtocolError) {
  ASSERT_NO_FATAL_FAILURE(connect_endpoints());
  Bytes auth;
  frame::encode_auth(auth, {});
  client_ep_->send(auth);
  ASSERT_TRUE(run_until([&] { return server_owner_.closed == 1; }));
  EXPECT_EQ(server_owner_.closed_why, "protocol error: unexpected AUTH");
}

}  // namespace
}  // namespace mx::test
