// The metrics listener on real loopback sockets: a request is answered and
// the connection closed; a client that sends too much gets 431, one that
// sends too little is closed after the timeout, and one over the cap on
// open connections is closed at once, while the others are served.
#include "mxegress/metrics/metrics_http_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>

#include "mxegress/loop/timer.h"

namespace mx {
namespace {

using namespace std::chrono_literals;

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    bool timed_out = false;
    uv_update_time(loop_.get());
    Timer guard(loop_);
    guard.start(limit, [&] { timed_out = true; });
    while (!done() && !timed_out) uv_run(loop_.get(), UV_RUN_ONCE);
    return done();
  }

  void start(MetricsHttpServer::Limits limits) {
    server_ = std::make_unique<MetricsHttpServer>(
        loop_,
        MetricsEndpoints{[] { return std::string("mxegress_up 1\n"); },
                         [] {
                           return Readiness{false, "testing"};
                         }},
        limits);
    ASSERT_EQ(server_->listen(*SocketAddress::parse("127.0.0.1:0")), "");
  }

  int connect() {
    const SocketAddress to = server_->address();
    const int fd = ::socket(to.family(), SOCK_STREAM, 0);
    EXPECT_EQ(::connect(fd, to.sa(), to.len()), 0);
    return fd;
  }

  // Runs the loop until the peer closed `fd`; returns what it sent.
  std::string read_to_eof(int fd, std::chrono::milliseconds limit = 10s) {
    std::string text;
    bool eof = false;
    run_until(
        [&] {
          pollfd p{fd, POLLIN, 0};
          while (::poll(&p, 1, 0) > 0) {
            char buffer[4096];
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n <= 0) {
              eof = true;
              break;
            }
            text.append(buffer, static_cast<size_t>(n));
          }
          return eof;
        },
        limit);
    EXPECT_TRUE(eof);
    return text;
  }

  std::string exchange(const std::string& request) {
    const int fd = connect();
    EXPECT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
    std::string response = read_to_eof(fd);
    ::close(fd);
    return response;
  }

  Loop loop_;
  std::unique_ptr<MetricsHttpServer> server_;
};

TEST_F(MetricsHttpServerTest, AnswersAndCloses) {
  start({});
  EXPECT_EQ(exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 14\r\nConnection: close\r\n\r\nmxegress_up 1\n");
  EXPECT_EQ(exchange("GET /readyz HTTP/1.0\r\n\r\n"),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 19\r\nConnection: close\r\n\r\nnot ready: testing\n");
  EXPECT_TRUE(exchange("GET /nothing HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
  EXPECT_TRUE(exchange("DELETE /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
  EXPECT_TRUE(exchange("nonsense\r\n\r\n").starts_with("HTTP/1.1 400 "));
  // Each lingered until the client closed.
  EXPECT_TRUE(run_until([&] { return server_->connections() == 0; }));
}

TEST_F(MetricsHttpServerTest, AnOversizedHeadGets431) {
  start({.max_head = 64});
  EXPECT_TRUE(exchange("GET /metrics HTTP/1.1\r\nX: " + std::string(200, 'a'))
                  .starts_with("HTTP/1.1 431 "));
}

TEST_F(MetricsHttpServerTest, ASlowClientIsClosedAfterTheTimeout) {
  start({.timeout = 200ms});
  const int fd = connect();
  ASSERT_EQ(::send(fd, "GET /met", 8, 0), 8);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(read_to_eof(fd, 5s), "") << "closed without an answer";
  EXPECT_GE(std::chrono::steady_clock::now() - started, 150ms);
  ::close(fd);
  run_until([&] { return server_->connections() == 0; });
  EXPECT_EQ(server_->connections(), 0u);
}

TEST_F(MetricsHttpServerTest, OneOverTheCapIsClosedAtOnceAndOthersAreServed) {
  start({.max_connections = 1});
  const int idle = connect();
  run_until([&] { return server_->connections() == 1; });
  ASSERT_EQ(server_->connections(), 1u);
  const int refused = connect();
  EXPECT_EQ(read_to_eof(refused, 5s), "");
  ::close(refused);
  ::close(idle);  // its EOF frees the slot
  run_until([&] { return server_->connections() == 0; });
  EXPECT_TRUE(exchange("GET /healthz HTTP/1.1\r\n\r\n").ends_with("\r\n\r\nok\n"));
}

}  // namespace
}  // namespace mx
