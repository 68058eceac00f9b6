// Tier (c): a client Tunnel and a server Tunnel over real TCP on loopback
// (tunnel_loopback_fixture.h): the transport alone, without sessions. What
// each handler is told is counted and asserted.
#include "tunnel_loopback_fixture.h"

namespace mx::test {
namespace {

using namespace std::chrono_literals;

struct DataFrame {
  uint32_t session;
  Bytes body;
};

// The DATA frames among `frames`, with their session ids split off.
std::vector<DataFrame> data_frames(const std::vector<ReceivedFrame>& frames) {
  std::vector<DataFrame> out;
  for (const ReceivedFrame& f : frames) {
    if (f.type != frame::Type::Data) continue;
    const auto sf = frame::split_session(f.payload);
    EXPECT_TRUE(sf);
    if (sf) out.push_back({sf->session, Bytes(sf->body.begin(), sf->body.end())});
  }
  return out;
}

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
  EXPECT_FALSE(client_->closed());
  EXPECT_FALSE(server_->closed());
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
  EXPECT_EQ(client_->pending_bytes(), plaintext) << "the frames wait in the outbox";
  ASSERT_TRUE(run_until([&] { return server_handler_.frames.size() == kFrames; }));
  for (size_t i = 0; i < kFrames; ++i) {
    EXPECT_EQ(server_handler_.frames[i].payload, Bytes{static_cast<uint8_t>(i)});
  }
  const uint64_t sent = client_->tls().ciphertext_bytes() - before;
  EXPECT_LE(sent, plaintext + 22) << "one record: " << plaintext << " bytes of frames became "
                                  << sent << " of ciphertext";
}

// send_data() cuts bytes into DATA frames of the session (a large payload is
// encrypted in place, behind what the outbox holds), and frames sent around
// it in the same turn keep their order.
TEST_F(TunnelLoopbackTest, SendDataMakesDataFramesOfTheSessionInOrder) {
  connect_and_handshake();
  const Bytes up = pattern(1024 * 1024, 1);
  const Bytes down = pattern(1024 * 1024 + 17, 2);  // not a multiple of the frame size
  client_->send(ping_frame({1}));
  client_->send_data(5, up);
  client_->send(ping_frame({2}));
  server_->send_data(0xfffffffd, down);
  // What the kernel did not take at once is queued; its completion reaches
  // the handler (sessions paused on the tunnel resume on it).
  const bool queued = client_->pending_bytes() > 0;
  ASSERT_TRUE(run_until([&] {
    return server_handler_.frames.size() >= 2 + up.size() / frame::kMaxDataPayload + 1 &&
           client_handler_.frames.size() >= down.size() / frame::kMaxDataPayload + 1 &&
           server_handler_.frames.back().type == frame::Type::Ping;
  })) << "server got "
      << server_handler_.frames.size() << " frames, client " << client_handler_.frames.size();

  EXPECT_EQ(server_handler_.frames.front().type, frame::Type::Ping);
  EXPECT_EQ(server_handler_.frames.front().payload, Bytes{1});
  EXPECT_EQ(server_handler_.frames.back().payload, Bytes{2});
  Bytes got_up, got_down;
  for (const DataFrame& f : data_frames(server_handler_.frames)) {
    EXPECT_EQ(f.session, 5u);
    EXPECT_LE(f.body.size(), frame::kMaxDataPayload);
    got_up.insert(got_up.end(), f.body.begin(), f.body.end());
  }
  for (const DataFrame& f : data_frames(client_handler_.frames)) {
    EXPECT_EQ(f.session, 0xfffffffdu);
    got_down.insert(got_down.end(), f.body.begin(), f.body.end());
  }
  EXPECT_TRUE(got_up == up) << "bytes client → server differ";
  EXPECT_TRUE(got_down == down) << "bytes server → client differ";
  EXPECT_EQ(data_frames(server_handler_.frames).size(),
            (up.size() + frame::kMaxDataPayload - 1) / frame::kMaxDataPayload)
      << "full frames, one short one at the end";
  ASSERT_TRUE(run_until([&] { return client_->pending_bytes() == 0; }));
  if (queued) {
    EXPECT_GE(client_handler_.drained, 1) << "completed writes report a drain";
  }
  EXPECT_EQ(client_handler_.closed + server_handler_.closed, 0);
}

// close() sends close_notify; the peer reads it as the tunnel's end, and the
// handler of the side that closed is told too (one path for every end).
TEST_F(TunnelLoopbackTest, ClosingATunnelTellsThePeerAndItsOwnHandlerOnce) {
  connect_and_handshake();
  client_->send(ping_frame({1}));  // queued frames still leave, before close_notify
  client_->close("done here");
  EXPECT_TRUE(client_->closed());
  EXPECT_EQ(client_handler_.closed, 1);
  EXPECT_EQ(client_handler_.closed_why, "done here");
  client_->close("again");
  client_->send(ping_frame({2}));  // nothing is sent after the end
  EXPECT_EQ(client_handler_.closed, 1);
  EXPECT_EQ(client_handler_.closed_why, "done here");
  ASSERT_TRUE(run_until([&] { return server_handler_.closed == 1; }));
  EXPECT_EQ(server_handler_.closed_why, "peer closed the tunnel");
  ASSERT_EQ(server_handler_.frames.size(), 1u);
  EXPECT_EQ(server_handler_.frames[0].payload, Bytes{1});
  run_for(50ms);
  EXPECT_EQ(client_handler_.closed, 1);
  EXPECT_EQ(server_handler_.closed, 1);
}

TEST_F(TunnelLoopbackTest, ASocketClosedWithoutCloseNotifyIsReported) {
  connect_and_handshake();
  server_->transport().close();
  ASSERT_TRUE(run_until([&] { return client_handler_.closed == 1; }));
  EXPECT_EQ(client_handler_.closed_why, "connection closed without TLS close_notify");
  EXPECT_TRUE(client_->closed());
}

// Version 1's END (0x0b) is not a frame of version 2: the receiver closes.
TEST_F(TunnelLoopbackTest, AnUnknownFrameTypeIsAProtocolError) {
  connect_and_handshake();
  Bytes end;
  frame::encode_header(end, static_cast<frame::Type>(0x0b), 6);
  end.insert(end.end(), {'c', 'l', 'o', 's', 'e', 'd'});
  client_->send(end);
  ASSERT_TRUE(run_until([&] { return server_handler_.closed == 1; }));
  EXPECT_EQ(server_handler_.closed_why, "protocol error: unknown frame type 11");
  EXPECT_TRUE(server_handler_.frames.empty());
  ASSERT_TRUE(run_until([&] { return client_handler_.closed == 1; }));
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
  EXPECT_TRUE(client_->closed());
  EXPECT_TRUE(server_->closed());
}

// An owner that ends its tunnel from inside a frame callback hands it to
// destroy_later(): the tunnel finishes dispatching what it decrypted (it is
// alive until the next turn), then goes, and the peer sees the socket close.
TEST_F(TunnelLoopbackTest, AFrameHandlerMayHandItsTunnelToDestroyLater) {
  server_handler_.on_frame = [this](const frame::Frame&) {
    loop_.destroy_later(std::move(server_));
  };
  connect_and_handshake();
  client_->send(ping_frame({1}));
  client_->send(ping_frame({2}));  // the same record: dispatched in the same call
  ASSERT_TRUE(run_until([&] { return !server_; }));
  ASSERT_TRUE(run_until([&] { return client_handler_.closed == 1; }));
  EXPECT_EQ(server_handler_.frames.size(), 2u);
}

}  // namespace
}  // namespace mx::test
