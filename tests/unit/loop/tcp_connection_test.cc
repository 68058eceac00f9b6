// TcpConnection on real loopback sockets: a FIN that is already queued behind
// a short read is reported in the same loop turn when asked for (an SMTP
// server's 221 and its close then leave in one tunnel record), and not
// otherwise.
#include "mxegress/loop/tcp_connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mxegress/loop/loop.h"
#include "mxegress/loop/tcp_listener.h"
#include "mxegress/loop/timer.h"

namespace mx {
namespace {

using namespace std::chrono_literals;

// A blocking socket playing the destination's side of the conversation.
class Peer {
 public:
  explicit Peer(const SocketAddress& to) : fd_(::socket(to.family(), SOCK_STREAM, 0)) {
    EXPECT_EQ(::connect(fd_, to.sa(), to.len()), 0);
  }
  ~Peer() { ::close(fd_); }
  void send(const std::string& text) {
    EXPECT_EQ(::write(fd_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  void finish() { ::shutdown(fd_, SHUT_WR); }

 private:
  int fd_;
};

// Logs what the connection reports and where each loop turn that delivered
// data ended.
class TurnLog : public StreamReader, public TurnEndTask {
 public:
  explicit TurnLog(Loop& loop) : loop_(loop) {}
  void on_stream_data(ByteView bytes) override {
    events.push_back("data " + std::string(bytes.begin(), bytes.end()));
    if (!turn_end_scheduled_) loop_.at_turn_end(this);
    turn_end_scheduled_ = true;
    if (on_data) on_data();
  }
  void on_stream_eof() override {
    events.push_back("eof");
    if (on_eof) on_eof();
  }
  void on_stream_error(const std::string& why) override { events.push_back("error " + why); }
  void on_turn_end() override {
    turn_end_scheduled_ = false;
    events.push_back("turn end");
    if (on_turn_end_then) on_turn_end_then();
  }

  std::vector<std::string> events;
  std::function<void()> on_data, on_eof, on_turn_end_then;

 private:
  Loop& loop_;
  bool turn_end_scheduled_ = false;
};

class TcpConnectionEofTest : public ::testing::Test {
 protected:
  TcpConnectionEofTest() : listener_(loop_, [this](auto c) { on_accept(std::move(c)); }) {
    EXPECT_EQ(listener_.listen(*SocketAddress::parse("127.0.0.1:0")), "");
    watchdog_.start(5s, [this] {
      ADD_FAILURE() << "the loop did not finish";
      finish();
    });
    log_.on_eof = [this] { finish(); };
  }

  // The destination's last reply and its close, queued before the loop runs.
  void peer_replies_and_closes() {
    peer_ = std::make_unique<Peer>(listener_.address());
    peer_->send("221 bye\r\n");
    peer_->finish();
  }

  // The connection reads from its first turn; the peer's bytes (and FIN) may
  // already be queued, as a destination's are when it answers at once.
  void on_accept(std::unique_ptr<TcpConnection> c) {
    conn_ = std::move(c);
    if (report_eof_behind_short_reads_) conn_->report_eof_behind_short_reads();
    conn_->set_reader(&log_);
    conn_->start_reading();
  }

  void finish() {
    watchdog_.stop();
    listener_.close();
    if (conn_) conn_->close();
  }

  void run() { uv_run(loop_.get(), UV_RUN_DEFAULT); }

  Loop loop_;
  TcpListener listener_;
  Timer watchdog_{loop_};
  std::unique_ptr<TcpConnection> conn_;
  std::unique_ptr<Peer> peer_;
  TurnLog log_{loop_};
  bool report_eof_behind_short_reads_ = true;
};

TEST_F(TcpConnectionEofTest, TheFinBehindALastReplyComesInTheSameTurn) {
  peer_replies_and_closes();
  run();
  EXPECT_EQ(log_.events, (std::vector<std::string>{"data 221 bye\r\n", "eof", "turn end"}));
}

// Off by default: libuv itself stops at a short read, so the FIN waits for
// the next turn (and its own tunnel record).
TEST_F(TcpConnectionEofTest, WithoutTheOptionTheFinWaitsForTheNextTurn) {
  report_eof_behind_short_reads_ = false;
  peer_replies_and_closes();
  run();
  EXPECT_EQ(log_.events, (std::vector<std::string>{"data 221 bye\r\n", "turn end", "eof"}));
}

// A short read with nothing behind it is not an end; the conversation goes on.
TEST_F(TcpConnectionEofTest, AShortReadWithoutAFinIsNotAnEnd) {
  Peer peer(listener_.address());
  peer.send("220 ready\r\n");
  log_.on_turn_end_then = [&] {
    if (log_.events.size() != 2) return;
    peer.send("221 bye\r\n");
    peer.finish();
  };
  run();
  EXPECT_EQ(log_.events, (std::vector<std::string>{"data 220 ready\r\n", "turn end",
                                                   "data 221 bye\r\n", "eof", "turn end"}));
}

// A reader that pauses while it handles the data (its sink is full) hears of
// the FIN only after it resumes, in order.
TEST_F(TcpConnectionEofTest, AReaderThatPausedHearsOfTheFinOnlyAfterItResumes) {
  peer_replies_and_closes();
  log_.on_data = [this] { conn_->pause_reading(); };
  log_.on_turn_end_then = [this] {
    log_.on_data = nullptr;
    conn_->resume_reading();
  };
  run();
  EXPECT_EQ(log_.events, (std::vector<std::string>{"data 221 bye\r\n", "turn end", "eof"}));
}

// The reader may close the connection from its data callback; the check
// behind the read must not touch it then.
TEST_F(TcpConnectionEofTest, AReaderMayCloseTheConnectionInItsDataCallback) {
  peer_replies_and_closes();
  log_.on_data = [this] {
    conn_.reset();
    finish();
  };
  run();
  EXPECT_EQ(log_.events, (std::vector<std::string>{"data 221 bye\r\n", "turn end"}));
}

}  // namespace
}  // namespace mx
