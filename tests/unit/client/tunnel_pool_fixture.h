// The fixture of the TunnelPool loopback tests: a real TunnelPool against
// in-process egress servers on loopback (fake_egress_server.h), and a fake
// PoolWaiter for the sessions.
#pragma once

#include <deque>

#include "fake_egress_server.h"
#include "tunnel_pool.h"

namespace mx::loopback {

inline bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

// A session waiting for a tunnel; also the control of the stream it gets.
class FakeWaiter final : public PoolWaiter, public TunnelStreamControl {
 public:
  void on_tunnel_stream(std::unique_ptr<TunnelStream> s, bool r, const std::string& name) override {
    ++calls;
    stream = std::move(s);
    reused = r;
    server = name;
  }
  void on_no_tunnel(const std::string& why) override {
    ++calls;
    no_tunnel = why;
  }
  void on_session_frame(frame::Type, ByteView) override { ++frames; }
  void on_session_lost(const std::string& why) override {
    ++lost;
    lost_why = why;
  }
  // Sends a CONNECT on the stream it was given, with itself as the control.
  void send_connect() {
    ASSERT_TRUE(stream);
    stream->set_control(this);
    stream->send_connect(loopback_target(25));
  }

  int calls = 0;
  bool reused = false;
  std::string server;
  std::string no_tunnel;
  int frames = 0;
  int lost = 0;
  std::string lost_why;
  Recorder reader;
  std::unique_ptr<TunnelStream> stream;  // last: it goes before what it calls
};

class TunnelPoolLoopbackTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(make_loopback_keys(dir_.path(), keys_));
    config_.client.handshake_timeout = 5s;
    config_.client.keepalive_interval = 1s;
    config_.client.keepalive_timeout = 800ms;
    config_.client.retry_interval = 300ms;
  }

  void TearDown() override {
    if (pool_) pool_->stop();
    waiters_.clear();
    pool_.reset();
    servers_.clear();
    expect_every_handle_closed();
  }

  FakeEgressServer& add_server(uint32_t priority, uint32_t pool, uint32_t sessions_per_tunnel) {
    servers_.push_back(std::make_unique<FakeEgressServer>(loop_, keys_.server_tls.get(),
                                                          keys_.client->public_key));
    ClientConfig::Server s;
    s.address = {"127.0.0.1", servers_.back()->port()};
    s.pins = {keys_.pin};
    s.server_name = "127.0.0.1";
    s.priority = priority;
    s.pool = pool;
    s.sessions_per_tunnel = sessions_per_tunnel;
    config_.servers.push_back(s);
    return *servers_.back();
  }

  void start_pool(std::function<void()> first_answer = {}) {
    std::string err;
    pool_ = TunnelPool::create(loop_, config_, *keys_.client, err);
    ASSERT_TRUE(pool_) << err;
    pool_->start(std::move(first_answer));
  }

  FakeWaiter& acquire(bool fresh = false) {
    waiters_.push_back(std::make_unique<FakeWaiter>());
    pool_->acquire(*waiters_.back(), fresh);
    return *waiters_.back();
  }

  TempDir dir_;
  LoopbackKeys keys_;
  ClientConfig config_;
  std::vector<std::unique_ptr<FakeEgressServer>> servers_;
  std::unique_ptr<TunnelPool> pool_;
  std::deque<std::unique_ptr<FakeWaiter>> waiters_;
};

}  // namespace mx::loopback
