// Helpers for unit tests that run real sockets on loopback with a real Loop
// (tier c): a fixture that runs the loop until a condition holds and checks,
// at the end, that every libuv handle was closed; destinations that accept
// (and optionally echo); a port whose SYNs go unanswered; a tenant allowed
// to reach 127.0.0.1. Used by tests/unit/server and tests/unit/client.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mxegress/config/server_config.h"
#include "mxegress/loop/loop.h"
#include "mxegress/loop/resolver.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/stream.h"

namespace mx::loopback {

namespace fs = std::filesystem;
using namespace std::chrono_literals;  // NOLINT: test-only header

inline std::string text(ByteView bytes) { return std::string(bytes.begin(), bytes.end()); }

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/mx-unit-loopback-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline std::vector<std::string> read_lines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class Recorder : public StreamReader {
 public:
  void on_stream_data(ByteView bytes) override { data += text(bytes); }
  void on_stream_eof() override { ++eof; }
  void on_stream_error(const std::string& why) override {
    ++errors;
    error = why;
  }
  void on_stream_shutdown_done() override { ++shutdown_done; }

  std::string data;
  int eof = 0;
  int errors = 0;
  std::string error;
  int shutdown_done = 0;
};

// A listener on 127.0.0.1 that keeps every connection it accepts; with
// `echo`, each writes back what it reads and half-closes after the peer.
class Destination {
 public:
  struct Peer final : StreamReader {
    std::unique_ptr<TcpConnection> connection;
    bool echo = false;
    std::string data;
    int eof = 0;
    int errors = 0;
    std::string error;
    void on_stream_data(ByteView bytes) override {
      data += text(bytes);
      if (echo) connection->write(bytes);
    }
    void on_stream_eof() override {
      ++eof;
      if (echo) connection->shutdown_write();
    }
    void on_stream_error(const std::string& why) override {
      ++errors;
      error = why;
    }
  };

  Destination(Loop& loop, bool echo)
      : listener_(loop, [this, echo](std::unique_ptr<TcpConnection> c) {
          auto peer = std::make_unique<Peer>();
          peer->connection = std::move(c);
          peer->echo = echo;
          peer->connection->set_reader(peer.get());
          peer->connection->start_reading();
          peers.push_back(std::move(peer));
        }) {
    EXPECT_EQ(listener_.listen(*SocketAddress::parse("127.0.0.1:0")), "");
  }
  ~Destination() { close(); }
  SocketAddress address() const { return listener_.address(); }
  uint16_t port() const { return listener_.address().port(); }
  void close() {
    listener_.close();
    peers.clear();
  }

  std::vector<std::unique_ptr<Peer>> peers;

 private:
  TcpListener listener_;
};

// A loopback port whose SYNs are dropped: a listener with a backlog of 0
// whose accept queue is full (Linux drops a SYN to a full queue), so a
// connect to it stays under way. ok() is false where the kernel answers
// anyway; tests that need it then skip.
class UnansweredPort {
 public:
  UnansweredPort() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 0) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    for (int i = 0; i < 4 && !ok_; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      fillers_.push_back(fd);
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      pollfd p{fd, POLLOUT, 0};
      // A filler that does not connect within 300 ms: the queue is full.
      ok_ = ::poll(&p, 1, 300) == 0;
    }
  }
  ~UnansweredPort() {
    for (int fd : fillers_) ::close(fd);
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  bool ok() const { return ok_; }
  uint16_t port() const { return port_; }
  SocketAddress address() const { return *SocketAddress::parse_ip("127.0.0.1", port_); }

 private:
  int listen_fd_ = -1;
  std::vector<int> fillers_;
  uint16_t port_ = 0;
  bool ok_ = false;
};

// A loopback port bound and not listening: the port stays ours, and a SYN
// to it is refused.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  uint16_t port() const { return port_; }  // 0: could not bind

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A resolver for tests that dial literals only: any lookup is a failure.
class NoResolver final : public NameResolver {
 public:
  std::unique_ptr<Resolution> resolve(const std::string&, uint16_t, Callback,
                                      ConcurrencyLimit::Slot) override {
    ADD_FAILURE() << "no name is resolved here";
    return nullptr;
  }
};

// A tenant that may reach 127.0.0.1 on `ports` (the built-in list denies loopback).
inline ServerConfig::Tenant loopback_tenant(std::vector<uint16_t> ports) {
  ServerConfig::Tenant tenant;
  tenant.name = "acme";
  tenant.policy.ports = std::move(ports);
  tenant.policy.allow = {*Cidr::parse("127.0.0.0/8")};
  return tenant;
}

inline Target loopback_target(uint16_t port) { return Target::ipv4({127, 0, 0, 1}, port); }

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }

  // Call last in TearDown, once the test's objects are gone: every close
  // callback runs, and only the Loop's own handles remain.
  void expect_every_handle_closed() {
    loop_.run_deferred();
    uv_run(loop_.get(), UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_alive(loop_.get()), 0);
    int handles = 0;
    uv_walk(
        loop_.get(), [](uv_handle_t*, void* count) { ++*static_cast<int*>(count); }, &handles);
    EXPECT_EQ(handles, 4) << "only the Loop's own handles (deferred-work timer, turn-end check and "
                             "idle, post async) may remain";
  }

  // Runs the loop until `done` holds or `limit` has passed; returns `done()`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    bool timed_out = false;
    // The loop's clock may be stale (a test blocked outside it): a guard
    // already due would fire at the start of a turn whose poll then
    // blocks until the next timer.
    uv_update_time(loop_.get());
    Timer guard(loop_);
    guard.start(limit, [&] { timed_out = true; });
    while (!done() && !timed_out) uv_run(loop_.get(), UV_RUN_ONCE);
    return done();
  }

  void run_for(std::chrono::milliseconds span) {
    run_until([] { return false; }, span);
  }

  Loop loop_;
};

}  // namespace mx::loopback
