// TunnelEndpoints over the loopback Tunnels of tunnel_loopback_fixture.h:
// once the TLS handshake is done, the fixture hands each Tunnel to an
// endpoint (which owns it from then on), or leaves one of them raw to play
// a peer that sends exactly what a test wants and answers nothing by itself.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mxegress/relay/tunnel_endpoint.h"
#include "mxegress/relay/tunnel_stream.h"
#include "tunnel_loopback_fixture.h"

namespace mx::test {

class RecordingOwner : public TunnelEndpointOwner {
 public:
  void on_session_request(uint32_t id, ByteView body) override {
    requests.push_back({id, Bytes(body.begin(), body.end())});
    if (on_request) on_request(id);
  }
  void on_goaway() override { ++goaways; }
  void on_endpoint_closed(const std::string& why, size_t sessions) override {
    ++closed;
    closed_why = why;
    closed_sessions = sessions;
  }
  void on_stream_gone() override { ++streams_gone; }

  std::vector<std::pair<uint32_t, Bytes>> requests;
  std::function<void(uint32_t)> on_request;
  int goaways = 0;
  int closed = 0;
  std::string closed_why;
  size_t closed_sessions = 0;
  int streams_gone = 0;
};

class RecordingControl : public TunnelStreamControl {
 public:
  void on_session_frame(frame::Type type, ByteView body) override {
    frames.push_back({type, Bytes(body.begin(), body.end())});
  }
  void on_session_lost(const std::string& why) override {
    ++lost;
    lost_why = why;
  }

  std::vector<ReceivedFrame> frames;
  int lost = 0;
  std::string lost_why;
};

class TunnelEndpointTest : public TunnelLoopbackTest {
 protected:
  using Side = TunnelEndpoint::Side;

  // Both ends as endpoints: the client grants `client_window` per session,
  // the server `server_window`. Every CONNECT is accepted by the server
  // (accept_stream), whose stream reads at once.
  void connect_endpoints(uint32_t client_window = kDefaultSessionWindow,
                         uint32_t server_window = kDefaultSessionWindow,
                         Liveness::Settings client_liveness = {},
                         Liveness::Settings server_liveness = {}) {
    connect_and_handshake();
    ASSERT_TRUE(client_ && server_);
    wrap_client(client_window, server_window, client_liveness);
    wrap_server(server_window, client_window, server_liveness);
  }

  void wrap_client(uint32_t receive_window = kDefaultSessionWindow,
                   uint32_t send_window = kDefaultSessionWindow, Liveness::Settings liveness = {}) {
    client_ep_ =
        std::make_unique<TunnelEndpoint>(loop_, std::move(client_), Side::Client, receive_window,
                                         send_window, liveness, client_owner_);
  }

  void wrap_server(uint32_t receive_window = kDefaultSessionWindow,
                   uint32_t send_window = kDefaultSessionWindow, Liveness::Settings liveness = {}) {
    server_ep_ =
        std::make_unique<TunnelEndpoint>(loop_, std::move(server_), Side::Server, receive_window,
                                         send_window, liveness, server_owner_);
    server_owner_.on_request = [this](uint32_t id) {
      server_streams_[id] = server_ep_->accept_stream(id);
      server_streams_[id]->set_reader(&server_readers_[id]);
    };
  }

  // A client session before its reply: CONNECT sent, its control set, and
  // (when the server is an endpoint) the server's stream open.
  TunnelStream& open_pending(RecordingControl& control) {
    client_streams_.push_back(client_ep_->open_stream());
    TunnelStream& stream = *client_streams_.back();
    stream.set_control(&control);
    stream.send_connect(Target::ipv4({192, 0, 2, 1}, 25));
    const uint32_t id = stream.id();
    if (server_ep_) {
      EXPECT_TRUE(run_until([&] { return server_streams_.count(id) == 1; }));
    }
    return stream;
  }

  // A client session in its data phase: CONNECT, the server's success
  // reply, and the client's reader set, as the client's session does it.
  TunnelStream& open_session(RecordingReader& reader) {
    RecordingControl& control = controls_.emplace_back();
    TunnelStream& stream = open_pending(control);
    server_streams_[stream.id()]->send_reply({0x00, Target::ipv4({192, 0, 2, 9}, 40000)});
    EXPECT_TRUE(run_until([&] { return !control.frames.empty(); }));
    EXPECT_EQ(control.frames.size(), 1u);
    if (!control.frames.empty()) {
      EXPECT_EQ(control.frames[0].type, frame::Type::ConnectReply);
    }
    stream.set_reader(&reader);
    return stream;
  }

  // Encoded session frames from the client, past its streams' bookkeeping.
  void send_raw(frame::Type type, uint32_t session, ByteView body) {
    Bytes out;
    frame::encode_session_frame(out, type, session, body);
    client_ep_->tunnel().send(out);
  }

  void TearDown() override {
    client_streams_.clear();
    server_streams_.clear();
    client_ep_.reset();
    server_ep_.reset();
    TunnelLoopbackTest::TearDown();
  }

  RecordingOwner client_owner_;
  RecordingOwner server_owner_;
  std::map<uint32_t, RecordingReader> server_readers_;
  std::deque<RecordingControl> controls_;
  std::unique_ptr<TunnelEndpoint> client_ep_;
  std::unique_ptr<TunnelEndpoint> server_ep_;
  std::vector<std::unique_ptr<TunnelStream>> client_streams_;
  std::map<uint32_t, std::unique_ptr<TunnelStream>> server_streams_;
};

}  // namespace mx::test
