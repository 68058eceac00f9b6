// Tier (c): a client Tunnel and a server Tunnel over real TCP on loopback
// (tunnel_loopback_fixture.h). Callbacks are counted and asserted.
#include "tunnel_loopback_fixture.h"

namespace mx::test {
namespace {

using namespace std::chrono_literals;

TEST_F(TunnelLoopbackTest, HandshakeCompletesAndAPingIsAnsweredWithAPong) {
  server_handler_.on_frame = [this](const frame::Frame& f) {
    if (f.type != frame::Type::Ping) return;
    Bytes pong;
    frame::encode_frame(pong, frame::Type::Pong, f.payload);
    server_->send(pong);
  };
  connect_and_handshake();
  EXPECT_EQ(accepted_, 1);
  EXPECT_EQ(client_->tls().protocol_version(), "TLSv1.3");
  EXPECT_EQ(client_->tls().alpn(), kAlpn);
  EXPECT_EQ(server_->tls().alpn(), kAlpn);

  const Bytes payload = {1, 2, 3, 4, 5, 6, 7, 8};
  client_->send(ping_frame(payload));
  ASSERT_TRUE(run_until([&] { return client_handler_.frames.size() == 1; }));
  ASSERT_EQ(server_handler_.frames.size(), 1u);
  EXPECT_EQ(server_handler_.frames[0].type, frame::Type::Ping);
  EXPECT_EQ(server_handler_.frames[0].payload, payload);
  EXPECT_EQ(client_handler_.frames[0].type, frame::Type::Pong);
  EXPECT_EQ(client_handler_.frames[0].payload, payload);

  EXPECT_EQ(client_handler_.ready, 1);
  EXPECT_EQ(server_handler_.ready, 1);
  EXPECT_EQ(client_handler_.closed, 0);
  EXPECT_EQ(server_handler_.closed, 0);
  EXPECT_FALSE(client_->dead());
  EXPECT_FALSE(server_->dead());
}

TEST_F(TunnelLoopbackTest, FramesSentBeforeTheHandshakeFollowItInOrder) {
  connect_client(pin_, [](Tunnel& client) {
    client.send(ping_frame({1}));
    client.send(ping_frame({2}));
  });
  ASSERT_TRUE(run_until([&] { return server_handler_.frames.size() == 2; }));
  EXPECT_EQ(server_handler_.ready, 1);
  EXPECT_EQ(server_handler_.frames[0].payload, Bytes{1});
  EXPECT_EQ(server_handler_.frames[1].payload, Bytes{2});
}

// Frames sent during one loop turn leave together at its end: one TLS record
// for all of them (22 bytes of record overhead once, not per frame), in order.
TEST_F(TunnelLoopbackTest, FramesSentInOneTurnShareOneRecordAndKeepTheirOrder) {
  connect_and_handshake();
  constexpr size_t kFrames = 100;
  const uint64_t before = client_->tls().ciphertext_bytes();
  size_t plaintext = 0;
  for (size_t i = 0; i < kFrames; ++i) {
    const Bytes frame = ping_frame({static_cast<uint8_t>(i)});
    plaintext += frame.size();
    client_->send(frame);
  }
  EXPECT_EQ(client_->tls().ciphertext_bytes(), before)
      << "nothing is encrypted before the turn ends";
  EXPECT_EQ(client_->transport_pending(), plaintext);
  ASSERT_TRUE(run_until([&] { return server_handler_.frames.size() == kFrames; }));
  for (size_t i = 0; i < kFrames; ++i) {
    EXPECT_EQ(server_handler_.frames[i].payload, Bytes{static_cast<uint8_t>(i)});
  }
  const uint64_t sent = client_->tls().ciphertext_bytes() - before;
  EXPECT_LE(sent, plaintext + 22) << "one record: " << plaintext << " bytes of frames became "
                                  << sent << " of ciphertext";
}

TEST_F(TunnelLoopbackTest, OneMebibyteEachWayArrivesIntactAndFinBecomesEof) {
  connect_and_handshake();
  RecordingReader client_reader;
  RecordingReader server_reader;
  client_->set_reader(&client_reader);
  server_->set_reader(&server_reader);

  const Bytes up = pattern(1024 * 1024, 1);
  const Bytes down = pattern(1024 * 1024 + 17, 2);  // not a multiple of the frame size
  client_->write(up);
  // What the kernel did not take at once is queued; its completion must
  // reach the session reader (the pump resumes its source on it).
  const bool queued = client_->pending_bytes() > 0;
  server_->write(down);
  ASSERT_TRUE(run_until([&] {
    return server_reader.data.size() >= up.size() && client_reader.data.size() >= down.size();
  })) << "server got "
      << server_reader.data.size() << ", client got " << client_reader.data.size();
  EXPECT_TRUE(server_reader.data == up) << "bytes client → server differ";
  EXPECT_TRUE(client_reader.data == down) << "bytes server → client differ";
  EXPECT_GE(server_reader.data_calls, 1024 * 1024 / frame::kMaxDataPayload + 1)
      << "1 MiB is at least this many DATA frames";
  ASSERT_TRUE(run_until([&] { return client_->pending_bytes() == 0; }));
  if (queued) {
    EXPECT_GE(client_reader.drained, 1) << "completed writes report to the session reader";
  }

  // The client half-closes; the server reads EOF and can still send.
  client_->shutdown_write();
  EXPECT_TRUE(client_->fin_sent());
  ASSERT_TRUE(
      run_until([&] { return server_reader.eof == 1 && client_reader.shutdown_done == 1; }));
  EXPECT_TRUE(server_->fin_received());
  const Bytes after_fin = pattern(5000, 3);
  server_->write(after_fin);
  ASSERT_TRUE(
      run_until([&] { return client_reader.data.size() == down.size() + after_fin.size(); }));
  EXPECT_TRUE(std::equal(after_fin.begin(), after_fin.end(),
                         client_reader.data.begin() + static_cast<ptrdiff_t>(down.size())));
  server_->shutdown_write();
  ASSERT_TRUE(
      run_until([&] { return client_reader.eof == 1 && server_reader.shutdown_done == 1; }));

  // The session ended cleanly: the tunnel lives on and carries control frames.
  client_->detach_session();
  server_->detach_session();
  client_->send(ping_frame({9}));
  ASSERT_TRUE(run_until([&] { return server_handler_.frames.size() == 1; }));
  EXPECT_EQ(server_reader.errors + client_reader.errors, 0)
      << server_reader.error << client_reader.error;
  EXPECT_EQ(server_reader.eof, 1);
  EXPECT_EQ(client_reader.eof, 1);
  EXPECT_EQ(client_handler_.closed + server_handler_.closed, 0);
}

TEST_F(TunnelLoopbackTest, APausedTunnelHoldsDecryptedFramesUntilResumed) {
  connect_and_handshake();
  RecordingReader server_reader;
  server_->set_reader(&server_reader);
  server_reader.on_data = [this](ByteView) { server_->pause_reading(); };

  const Bytes up = pattern(3 * frame::kMaxDataPayload, 4);  // three DATA frames, one write
  client_->write(up);
  ASSERT_TRUE(run_until([&] { return server_reader.data_calls == 1; }));
  run_for(100ms);
  EXPECT_EQ(server_reader.data_calls, 1) << "a paused tunnel delivered more frames";
  EXPECT_EQ(server_reader.data.size(), frame::kMaxDataPayload);

  server_reader.on_data = nullptr;
  server_->resume_reading();
  ASSERT_TRUE(run_until([&] { return server_reader.data.size() == up.size(); }));
  EXPECT_TRUE(server_reader.data == up);
}

TEST_F(TunnelLoopbackTest, AbortResetsThePeersSession) {
  connect_and_handshake();
  RecordingReader client_reader;
  RecordingReader server_reader;
  client_->set_reader(&client_reader);
  server_->set_reader(&server_reader);

  client_->abort();
  EXPECT_TRUE(client_->dead());
  ASSERT_TRUE(run_until([&] { return server_reader.errors == 1; }));
  EXPECT_EQ(server_reader.error, "session reset by peer");
  EXPECT_TRUE(server_->dead());
  run_for(50ms);
  EXPECT_EQ(client_reader.errors, 0) << "the side that aborted hears nothing back";
  EXPECT_EQ(server_reader.errors, 1);
}

// Once FIN has gone both ways the session is over on the wire: abort() (a late
// socket error at either end) sends no RST and the tunnel stays usable.
TEST_F(TunnelLoopbackTest, AbortAfterFinBothWaysLeavesTheTunnelUp) {
  connect_and_handshake();
  RecordingReader client_reader;
  RecordingReader server_reader;
  client_->set_reader(&client_reader);
  server_->set_reader(&server_reader);
  client_->shutdown_write();
  server_->shutdown_write();
  ASSERT_TRUE(run_until([&] { return client_reader.eof == 1 && server_reader.eof == 1; }));
  EXPECT_TRUE(client_->session_complete());
  EXPECT_TRUE(server_->session_complete());

  client_->abort();
  EXPECT_FALSE(client_->dead());
  client_->detach_session();
  server_->detach_session();
  client_->send(ping_frame({7}));
  ASSERT_TRUE(run_until([&] { return server_handler_.frames.size() == 1; }));
  EXPECT_EQ(server_handler_.frames[0].type, frame::Type::Ping);
  EXPECT_EQ(server_reader.errors, 0) << server_reader.error;
  EXPECT_EQ(server_handler_.closed, 0) << server_handler_.closed_why;
  EXPECT_FALSE(server_->dead());

  // The next session starts afresh: FIN state is reset, and abort() resets again.
  RecordingReader next_server_reader;
  client_->set_reader(&client_reader);
  server_->set_reader(&next_server_reader);
  EXPECT_FALSE(client_->fin_sent());
  EXPECT_FALSE(client_->session_complete());
  client_->abort();
  EXPECT_TRUE(client_->dead());
  ASSERT_TRUE(run_until([&] { return next_server_reader.errors == 1; }));
  EXPECT_EQ(next_server_reader.error, "session reset by peer");
}

TEST_F(TunnelLoopbackTest, EndFromTheServerIsRecordedAndHandedToTheHandler) {
  connect_and_handshake();
  RecordingReader client_reader;
  client_->set_reader(&client_reader);
  EXPECT_FALSE(client_->end_received());
  Bytes end;
  frame::encode_frame(end, frame::Type::End, as_bytes("closed"));
  server_->send(end);
  ASSERT_TRUE(run_until([&] { return client_handler_.frames.size() == 1; }));
  EXPECT_EQ(client_handler_.frames[0].type, frame::Type::End);
  EXPECT_TRUE(client_->end_received());
  client_->set_reader(&client_reader);  // a new session forgets the last END
  EXPECT_FALSE(client_->end_received());
}

TEST_F(TunnelLoopbackTest, ClosingATunnelTellsThePeer) {
  connect_and_handshake();
  client_->close();
  EXPECT_TRUE(client_->dead());
  ASSERT_TRUE(run_until([&] { return server_handler_.closed == 1; }));
  EXPECT_EQ(server_handler_.closed_why, "peer closed the tunnel");
  EXPECT_EQ(client_handler_.closed, 0) << "close() is ours: no callback";
}

TEST_F(TunnelLoopbackTest, AWrongPinFailsTheHandshakeBeforeAnyFrame) {
  Sha256 wrong_pin = pin_;
  wrong_pin[0] ^= 0x01;
  // Sent before the handshake: it must never reach an unverified server.
  connect_client(wrong_pin, [](Tunnel& client) { client.send(ping_frame({1, 2, 3})); });
  ASSERT_TRUE(run_until([&] { return client_handler_.closed == 1 && server_handler_.closed == 1; }))
      << "client closed " << client_handler_.closed << ", server closed " << server_handler_.closed;
  EXPECT_NE(client_handler_.closed_why.find("certificate"), std::string::npos)
      << client_handler_.closed_why;
  EXPECT_NE(client_handler_.closed_why.find(format_pin(pin_)), std::string::npos)
      << "the reason names the pin the server really has: " << client_handler_.closed_why;
  EXPECT_EQ(client_handler_.ready, 0);
  EXPECT_EQ(server_handler_.ready, 0);
  EXPECT_TRUE(server_handler_.frames.empty());
  EXPECT_TRUE(client_handler_.frames.empty());
  EXPECT_TRUE(client_->dead());
  EXPECT_TRUE(server_->dead());
}

// BUG (common/src/relay/tunnel.cc, Tunnel::on_stream_data): dispatch_frames()
// returns early when a frame callback destroyed the tunnel (it checks `alive_`),
// but on_stream_data then reads `dead_` and calls `tls_.peer_closed()` on the freed
// object: `if (!dead_ && tls_.peer_closed()) die(...)`. The on_tunnel_ready path
// just above guards the same case with `if (alive.expired() || dead_) return;`.
// A handler may destroy its tunnel inside a frame callback; the tunnel must
// not touch itself afterwards (found by this test under ASan, now fixed).
TEST_F(TunnelLoopbackTest, AFrameHandlerMayDestroyItsTunnel) {
  server_handler_.on_frame = [this](const frame::Frame&) { server_.reset(); };
  connect_and_handshake();
  client_->send(ping_frame({1}));
  ASSERT_TRUE(run_until([&] { return !server_; }));
  ASSERT_TRUE(run_until([&] { return client_handler_.closed == 1; }));
  EXPECT_EQ(server_handler_.frames.size(), 1u);
}

}  // namespace
}  // namespace mx::test
