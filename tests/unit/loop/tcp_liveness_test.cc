// TcpConnection::set_liveness on real loopback sockets: the options are read
// back with getsockopt, on a connected socket and on one set up before
// connect(), and 0 turns each off.
#include "mxegress/net/tcp_liveness.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>

#include "mxegress/loop/loop.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/loop/timer.h"

namespace mx {
namespace {

using namespace std::chrono_literals;

int option(int fd, int level, int name) {
  int value = -1;
  socklen_t len = sizeof value;
  EXPECT_EQ(::getsockopt(fd, level, name, &value, &len), 0) << name;
  return value;
}

// What the kernel holds for one socket.
struct Options {
  int keepalive, idle, interval, count, user_timeout;
  bool operator==(const Options&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Options& o) {
  return out << "{keepalive " << o.keepalive << ", idle " << o.idle << "s, interval " << o.interval
             << "s, count " << o.count << ", user_timeout " << o.user_timeout << "ms}";
}

Options options_of(int fd) {
  return {option(fd, SOL_SOCKET, SO_KEEPALIVE), option(fd, IPPROTO_TCP, TCP_KEEPIDLE),
          option(fd, IPPROTO_TCP, TCP_KEEPINTVL), option(fd, IPPROTO_TCP, TCP_KEEPCNT),
          option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT)};
}

class TcpLivenessTest : public ::testing::Test {
 protected:
  TcpLivenessTest() : listener_(loop_, [this](auto c) { accepted_ = std::move(c); }) {
    EXPECT_EQ(listener_.listen(*SocketAddress::parse("127.0.0.1:0")), "");
  }

  // Connects `client` to the listener (from `from` when given) and runs the
  // loop until both ends are up.
  void connect(TcpConnection& client, const std::optional<SocketAddress>& from = std::nullopt) {
    bool connected = false;
    ASSERT_EQ(client.connect(listener_.address(), from,
                             [&](int status) {
                               EXPECT_EQ(status, 0);
                               connected = true;
                             }),
              0);
    bool timed_out = false;
    Timer watchdog(loop_);
    watchdog.start(5s, [&] { timed_out = true; });
    while (!(connected && accepted_) && !timed_out) uv_run(loop_.get(), UV_RUN_ONCE);
    ASSERT_FALSE(timed_out) << "no connection within 5 s";
  }

  Loop loop_;
  TcpListener listener_;
  std::unique_ptr<TcpConnection> accepted_;
};

TEST_F(TcpLivenessTest, SetsEveryOptionOnAConnectedSocket) {
  TcpConnection client(loop_);
  ASSERT_NO_FATAL_FAILURE(connect(client));
  EXPECT_EQ(accepted_->set_liveness({30s, 30s}), "");
  EXPECT_EQ(options_of(accepted_->fd()), (Options{1, 30, 10, 3, 30'000}));
  EXPECT_EQ(client.set_liveness({90s, 2500ms}), "");
  EXPECT_EQ(options_of(client.fd()), (Options{1, 90, 30, 3, 2'500}));
}

TEST_F(TcpLivenessTest, ZeroTurnsEachOff) {
  TcpConnection client(loop_);
  ASSERT_NO_FATAL_FAILURE(connect(client));
  const int fd = accepted_->fd();
  ASSERT_EQ(accepted_->set_liveness({30s, 30s}), "");

  ASSERT_EQ(accepted_->set_liveness({0s, 30s}), "");
  EXPECT_EQ(option(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  EXPECT_EQ(option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 30'000);

  ASSERT_EQ(accepted_->set_liveness({30s, 0s}), "");
  EXPECT_EQ(option(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);

  ASSERT_EQ(accepted_->set_liveness({}), "");
  EXPECT_EQ(option(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  EXPECT_EQ(option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
}

// Before connect() there is no socket yet: the settings are kept, and
// connect() sets them on the socket it makes, before the SYN.
TEST_F(TcpLivenessTest, SettingsGivenBeforeConnectReachTheSocket) {
  TcpConnection client(loop_);
  ASSERT_EQ(client.fd(), -1);
  EXPECT_EQ(client.set_liveness({45s, 20s}), "");
  ASSERT_EQ(client.connect(listener_.address(), std::nullopt, [](int) {}), 0);
  EXPECT_EQ(options_of(client.fd()), (Options{1, 45, 15, 3, 20'000}));
}

TEST_F(TcpLivenessTest, SettingsGivenBeforeConnectSurviveTheConnection) {
  TcpConnection client(loop_);
  EXPECT_EQ(client.set_liveness({1s, 1s}), "");
  // From a bound source: connect() makes the socket for the bind as well.
  ASSERT_NO_FATAL_FAILURE(connect(client, SocketAddress::parse_ip("127.0.0.1", 0)));
  // The interval is never below 1 s.
  EXPECT_EQ(options_of(client.fd()), (Options{1, 1, 1, 3, 1'000}));
}

TEST_F(TcpLivenessTest, AClosedConnectionSaysSo) {
  TcpConnection client(loop_);
  client.close();
  EXPECT_NE(client.set_liveness({30s, 30s}), "");
}

TEST(TcpLiveness, ProbeIntervalIsAThirdOfTheIdleTimeAndAtLeastOneSecond) {
  EXPECT_EQ((TcpLiveness{30s, 0s}.probe_interval()), 10s);
  EXPECT_EQ((TcpLiveness{10s, 0s}.probe_interval()), 3s);
  EXPECT_EQ((TcpLiveness{2s, 0s}.probe_interval()), 1s);
  EXPECT_EQ((TcpLiveness{1s, 0s}.probe_interval()), 1s);
}

// Errors are values: what failed, by option name.
TEST(TcpLiveness, ReportsWhatFailedOnANonSocket) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const std::string error = apply_tcp_liveness(pipe_fds[0], {30s, 30s});
  EXPECT_EQ(error.rfind("TCP_KEEPIDLE: ", 0), 0u) << error;
  EXPECT_NE(error.find("TCP_USER_TIMEOUT: "), std::string::npos) << error;
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

}  // namespace
}  // namespace mx
