// Tier (c): a client Tunnel and a server Tunnel in one process, over real TCP
// connections on 127.0.0.1 and a real Loop: TLS 1.3 with the server identity
// that `mxegress-server init` writes, the client pinning it. Callbacks are
// counted and asserted; every test ends with every handle closed and freed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mxegress/crypto/server_identity.h"
#include "mxegress/crypto/tls_context.h"
#include "mxegress/loop/loop.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/tunnel.h"

namespace mx {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/mx-tunnel-loopback-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct ReceivedFrame {
  frame::Type type;
  Bytes payload;
};

class RecordingHandler : public TunnelHandler {
 public:
  void on_tunnel_ready() override { ++ready; }
  void on_tunnel_frame(const frame::Frame& f) override {
    frames.push_back({f.type, Bytes(f.payload.begin(), f.payload.end())});
    if (on_frame) on_frame(f);
  }
  void on_tunnel_closed(const std::string& why) override {
    ++closed;
    closed_why = why;
  }

  int ready = 0;
  std::vector<ReceivedFrame> frames;
  int closed = 0;
  std::string closed_why;
  std::function<void(const frame::Frame&)> on_frame;
};

class RecordingReader : public StreamReader {
 public:
  void on_stream_data(ByteView bytes) override {
    data.insert(data.end(), bytes.begin(), bytes.end());
    ++data_calls;
    if (on_data) on_data(bytes);
  }
  void on_stream_eof() override { ++eof; }
  void on_stream_error(const std::string& why) override {
    ++errors;
    error = why;
  }
  void on_stream_drained() override { ++drained; }
  void on_stream_shutdown_done() override { ++shutdown_done; }

  Bytes data;
  int data_calls = 0;
  int eof = 0;
  int errors = 0;
  std::string error;
  int drained = 0;
  int shutdown_done = 0;
  std::function<void(ByteView)> on_data;
};

Bytes pattern(size_t n, uint8_t seed) {
  Bytes out(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    out[i] = static_cast<uint8_t>(x >> 16);
  }
  return out;
}

Bytes ping_frame(const Bytes& payload) {
  Bytes out;
  frame::encode_frame(out, frame::Type::Ping, payload);
  return out;
}

class TunnelLoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    const auto pin_text = write_server_identity(dir_.path(), "127.0.0.1", err);
    ASSERT_TRUE(pin_text) << err;
    const auto parsed = parse_pin(*pin_text);
    ASSERT_TRUE(parsed) << *pin_text;
    pin_ = *parsed;
    server_ctx_ =
        make_server_tls_context(dir_.path() / kServerCertFile, dir_.path() / kServerKeyFile, err);
    ASSERT_TRUE(server_ctx_) << err;

    listener_ = std::make_unique<TcpListener>(loop_, [this](std::unique_ptr<TcpConnection> c) {
      ++accepted_;
      server_ =
          std::make_unique<Tunnel>(loop_, std::move(c), server_ctx_.get(), TlsEngine::Role::Server);
      server_->set_handler(&server_handler_);
      server_->start();
    });
    const auto any_port = SocketAddress::parse("127.0.0.1:0");
    ASSERT_TRUE(any_port);
    ASSERT_EQ(listener_->listen(*any_port), "");
    ASSERT_NE(listener_->address().port(), 0);
  }

  void TearDown() override {
    client_.reset();
    server_.reset();
    client_connection_.reset();
    listener_.reset();
    // Every close callback runs, and nothing is left to keep the loop alive: the
    // equivalent of libuv's MAKE_VALGRIND_HAPPY (the Loop's destructor then closes it).
    uv_run(loop_.get(), UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_alive(loop_.get()), 0);
    int handles = 0;
    uv_walk(
        loop_.get(), [](uv_handle_t*, void* count) { ++*static_cast<int*>(count); }, &handles);
    EXPECT_EQ(handles, 2) << "only the Loop's own handles (deferred-work timer, post async) may remain";
  }

  // Connects a client tunnel that trusts `pin`; `after_start` runs right after
  // Tunnel::start(), before any handshake byte has come back.
  void connect_client(const Sha256& pin, std::function<void(Tunnel&)> after_start = {}) {
    std::string err;
    client_ctx_ = make_client_tls_context({.pin = pin}, err);
    ASSERT_TRUE(client_ctx_) << err;
    client_connection_ = std::make_unique<TcpConnection>(loop_);
    const int rc = client_connection_->connect(
        listener_->address(), std::nullopt,
        [this, after_start = std::move(after_start)](int status) {
          connect_status_ = status;
          if (status != 0) return;
          client_ = std::make_unique<Tunnel>(loop_, std::move(client_connection_),
                                             client_ctx_.get(), TlsEngine::Role::Client);
          client_->set_handler(&client_handler_);
          client_->start();
          if (after_start) after_start(*client_);
        });
    ASSERT_EQ(rc, 0) << uv_error_text(rc);
  }

  void connect_and_handshake() {
    connect_client(pin_);
    ASSERT_TRUE(run_until([&] { return client_handler_.ready == 1 && server_handler_.ready == 1; }))
        << "client: " << client_handler_.closed_why << " server: " << server_handler_.closed_why;
    ASSERT_EQ(connect_status_, 0);
  }

  // Runs the loop until `done` holds or `limit` has passed; returns `done()`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    bool timed_out = false;
    Timer guard(loop_);
    guard.start(limit, [&] { timed_out = true; });
    while (!done() && !timed_out) uv_run(loop_.get(), UV_RUN_ONCE);
    return done();
  }

  // Runs the loop for `span`, whatever happens meanwhile.
  void run_for(std::chrono::milliseconds span) {
    run_until([] { return false; }, span);
  }

  Loop loop_;
  TempDir dir_;
  Sha256 pin_{};
  SslCtxPtr server_ctx_;
  SslCtxPtr client_ctx_;
  std::unique_ptr<TcpListener> listener_;
  std::unique_ptr<TcpConnection> client_connection_;
  std::unique_ptr<Tunnel> server_;
  std::unique_ptr<Tunnel> client_;
  RecordingHandler server_handler_;
  RecordingHandler client_handler_;
  int accepted_ = 0;
  int connect_status_ = 1;
};

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
}  // namespace mx
