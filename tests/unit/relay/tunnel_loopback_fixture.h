// The loopback fixture of tier (c): a client Tunnel and a server Tunnel in
// one process, over real TCP connections on 127.0.0.1 and a real Loop: TLS
// 1.3 with the server identity that `mxegress-server init` writes, the client
// pinning it. Tests of TunnelEndpoint take the Tunnels over once the
// handshake is done (tunnel_endpoint_fixture.h). Every test ends with every
// handle closed and freed.
#pragma once

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

namespace mx::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;  // NOLINT: test-only header

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
  void on_tunnel_drained() override { ++drained; }

  int ready = 0;
  int drained = 0;
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

inline Bytes pattern(size_t n, uint8_t seed) {
  Bytes out(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    out[i] = static_cast<uint8_t>(x >> 16);
  }
  return out;
}

inline Bytes ping_frame(const Bytes& payload) {
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
    loop_.run_deferred();  // what a test handed to destroy_later()
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
    EXPECT_EQ(handles, 4) << "only the Loop's own handles (deferred-work timer, turn-end check and "
                             "idle, post async) may remain";
  }

  // Connects a client tunnel that trusts `pin`; `after_start` runs right after
  // Tunnel::start(), before any handshake byte has come back.
  void connect_client(const Sha256& pin, std::function<void(Tunnel&)> after_start = {}) {
    std::string err;
    client_ctx_ = make_client_tls_context({.pins = {pin}}, err);
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

}  // namespace mx::test
