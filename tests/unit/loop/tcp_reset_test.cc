// TcpConnection::reset_by_peer on real loopback sockets: a RST whose error a
// write took first makes the next read say end of stream; the socket's TCP
// state still tells it from the peer's FIN (which the tunnel reports as
// "connection closed without TLS close_notify", a reset as a reset).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mxegress/loop/loop.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/loop/timer.h"

namespace mx {
namespace {

using namespace std::chrono_literals;

class Events : public StreamReader {
 public:
  void on_stream_data(ByteView) override { events.push_back("data"); }
  void on_stream_eof() override { events.push_back("eof"); }
  void on_stream_error(const std::string& why) override { events.push_back("error " + why); }
  std::vector<std::string> events;
};

class TcpResetTest : public ::testing::Test {
 protected:
  TcpResetTest() : listener_(loop_, [this](auto c) { conn_ = std::move(c); }) {
    EXPECT_EQ(listener_.listen(*SocketAddress::parse("127.0.0.1:0")), "");
    const SocketAddress to = listener_.address();
    peer_ = ::socket(to.family(), SOCK_STREAM, 0);
    EXPECT_EQ(::connect(peer_, to.sa(), to.len()), 0);
    run_until([this] { return conn_ != nullptr; });
  }
  ~TcpResetTest() override {
    if (peer_ >= 0) ::close(peer_);
    if (conn_) conn_->close();
    listener_.close();
    uv_run(loop_.get(), UV_RUN_DEFAULT);
  }

  template <typename Done>
  void run_until(Done done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      uv_run(loop_.get(), UV_RUN_NOWAIT);
      std::this_thread::sleep_for(2ms);
    }
    ASSERT_TRUE(done());
  }

  // The peer goes away with a RST (SO_LINGER 0), as a firewall's reject or
  // a crashed host's kernel answers.
  void peer_resets() {
    linger off{1, 0};
    ASSERT_EQ(setsockopt(peer_, SOL_SOCKET, SO_LINGER, &off, sizeof off), 0);
    ::close(peer_);
    peer_ = -1;
    std::this_thread::sleep_for(20ms);  // loopback: the RST has arrived
  }

  void read_events() {
    conn_->set_reader(&events_);
    conn_->start_reading();
    run_until([this] { return !events_.events.empty(); });
  }

  Loop loop_;
  TcpListener listener_;
  std::unique_ptr<TcpConnection> conn_;
  int peer_ = -1;
  Events events_;
};

TEST_F(TcpResetTest, AReadAfterAWriteTookTheResetSaysEofButTheStateSaysReset) {
  peer_resets();
  // The write meets the reset and takes its error...
  ASSERT_EQ(::send(conn_->fd(), "x", 1, MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, ECONNRESET);
  // ...so the read sees only the end of the stream.
  read_events();
  EXPECT_EQ(events_.events, std::vector<std::string>{"eof"});
  EXPECT_TRUE(conn_->reset_by_peer());
}

TEST_F(TcpResetTest, AResetReadFirstIsAnErrorAndAResetToo) {
  peer_resets();
  read_events();
  ASSERT_EQ(events_.events.size(), 1u);
  EXPECT_EQ(events_.events[0], "error connection reset by peer (ECONNRESET)");
  EXPECT_TRUE(conn_->reset_by_peer());
}

TEST_F(TcpResetTest, ThePeersFinIsNoReset) {
  ASSERT_EQ(::shutdown(peer_, SHUT_WR), 0);
  read_events();
  EXPECT_EQ(events_.events, std::vector<std::string>{"eof"});
  EXPECT_FALSE(conn_->reset_by_peer());
}

TEST_F(TcpResetTest, BothFinsAreNoResetEither) {
  // Our FIN first, then the peer's: the full socket ends in CLOSE as after a
  // reset (its TIME_WAIT lives on in the kernel), which is why our own FIN
  // rules the state out.
  conn_->shutdown_write();
  char byte;
  run_until([&] { return ::recv(peer_, &byte, 1, MSG_DONTWAIT) == 0; });
  ASSERT_EQ(::shutdown(peer_, SHUT_WR), 0);
  read_events();
  EXPECT_EQ(events_.events.back(), "eof");
  EXPECT_FALSE(conn_->reset_by_peer());
}

}  // namespace
}  // namespace mx
