// Tier (b): the relay pump against two mock Streams. The test plays both
// streams by calling the StreamReaders the pump installs, and states exactly
// which Stream calls each event must cause. A real Loop runs the idle timer.
#include "mxegress/relay/pump.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mxegress/loop/loop.h"
#include "mxegress/loop/timer.h"

namespace mx {
namespace {

using ::testing::_;
using ::testing::Expectation;
using ::testing::InSequence;
using ::testing::IsNull;
using ::testing::MockFunction;
using ::testing::NotNull;
using ::testing::ReturnPointee;
using ::testing::SaveArg;
using ::testing::StrictMock;

using namespace std::chrono_literals;

class MockStream : public Stream {
 public:
  MOCK_METHOD(void, set_reader, (StreamReader * reader), (override));
  MOCK_METHOD(void, write, (ByteView data), (override));
  MOCK_METHOD(size_t, pending_bytes, (), (const, override));
  MOCK_METHOD(bool, can_send_now, (), (const, override));
  MOCK_METHOD(void, shutdown_write, (), (override));
  MOCK_METHOD(void, abort, (), (override));
  MOCK_METHOD(void, pause_reading, (), (override));
  MOCK_METHOD(void, resume_reading, (), (override));
  MOCK_METHOD(std::string, describe, (), (const, override));
};

MATCHER_P(BytesAre, text, "bytes \"" + std::string(text) + "\"") {
  return std::string(reinterpret_cast<const char*>(arg.data()), arg.size()) == text;
}

constexpr size_t kHigh = 100;
constexpr size_t kLow = 50;

class PumpTest : public ::testing::Test {
 protected:
  ~PumpTest() override {
    pump_.reset();  // before the mocks verify their expectations, and before the loop
  }

  static PumpOptions small_options(std::chrono::milliseconds idle = 10min) {
    PumpOptions options;
    options.high_watermark = kHigh;
    options.low_watermark = kLow;
    options.idle_timeout = idle;
    return options;
  }

  // Starts the pump: each stream gets its reader before reading is resumed,
  // and over the pump's life each reader is removed exactly once.
  void start(PumpOptions options = small_options()) {
    EXPECT_CALL(a_, pending_bytes()).WillRepeatedly(ReturnPointee(&pending_a_));
    EXPECT_CALL(b_, pending_bytes()).WillRepeatedly(ReturnPointee(&pending_b_));
    EXPECT_CALL(a_, can_send_now()).WillRepeatedly(ReturnPointee(&can_send_a_));
    EXPECT_CALL(b_, can_send_now()).WillRepeatedly(ReturnPointee(&can_send_b_));
    const Expectation install_a =
        EXPECT_CALL(a_, set_reader(NotNull())).WillOnce(SaveArg<0>(&a_reader_));
    const Expectation install_b =
        EXPECT_CALL(b_, set_reader(NotNull())).WillOnce(SaveArg<0>(&b_reader_));
    EXPECT_CALL(a_, resume_reading()).After(install_a, install_b);
    EXPECT_CALL(b_, resume_reading()).After(install_a, install_b);
    EXPECT_CALL(a_, set_reader(IsNull())).After(install_a);
    EXPECT_CALL(b_, set_reader(IsNull())).After(install_b);
    pump_ = std::make_unique<Pump>(loop_, a_, b_, options, [this](const RelayOutcome& outcome) {
      ++done_calls_;
      outcome_ = outcome;
      done_at_ = uv_now(loop_.get());
    });
    pump_->start();
    ASSERT_NE(a_reader_, nullptr);
    ASSERT_NE(b_reader_, nullptr);
    ASSERT_NE(a_reader_, b_reader_);
  }

  // Runs the loop until nothing is left to wait for (the idle timer fired or was stopped).
  void run_loop() { uv_run(loop_.get(), UV_RUN_DEFAULT); }

  Loop loop_;
  StrictMock<MockStream> a_;
  StrictMock<MockStream> b_;
  size_t pending_a_ = 0;
  size_t pending_b_ = 0;
  bool can_send_a_ = true;
  bool can_send_b_ = true;
  StreamReader* a_reader_ = nullptr;
  StreamReader* b_reader_ = nullptr;
  std::unique_ptr<Pump> pump_;
  int done_calls_ = 0;
  RelayOutcome outcome_;
  uint64_t done_at_ = 0;
};

TEST_F(PumpTest, StartInstallsBothReadersThenResumesBoth) {
  start();
  EXPECT_FALSE(pump_->finished());
  EXPECT_EQ(done_calls_, 0);
}

TEST_F(PumpTest, DestroyingAnUnfinishedPumpDetachesBothReadersAndStopsTheTimer) {
  start(small_options(20ms));
  pump_.reset();
  run_loop();  // an idle timer left running would fire and abort (a strict-mock failure)
  EXPECT_EQ(done_calls_, 0);
}

TEST_F(PumpTest, DataFromEachSideIsWrittenToTheOther) {
  start();
  {
    InSequence in_order;
    EXPECT_CALL(b_, write(BytesAre("EHLO gw\r\n")));
    EXPECT_CALL(a_, write(BytesAre("250 ok\r\n")));
    EXPECT_CALL(b_, write(BytesAre("QUIT\r\n")));
  }
  a_reader_->on_stream_data(as_bytes("EHLO gw\r\n"));
  b_reader_->on_stream_data(as_bytes("250 ok\r\n"));
  a_reader_->on_stream_data(as_bytes("QUIT\r\n"));
  EXPECT_EQ(done_calls_, 0);
}

// The tap sees each chunk after it was written, from the side it came
// from, until it says it wants no more; the bytes move the same either way.
TEST_F(PumpTest, TapSeesEachChunkAfterItsWriteUntilItDeclines) {
  struct RecordingTap final : RelayTap {
    std::vector<std::pair<int, std::string>> seen;
    size_t wanted = 2;
    bool on_relayed(int from, ByteView data) override {
      seen.emplace_back(from, std::string(reinterpret_cast<const char*>(data.data()), data.size()));
      return seen.size() < wanted;
    }
  } tap;
  PumpOptions options = small_options();
  options.tap = &tap;
  start(options);
  EXPECT_CALL(b_, write(BytesAre("EHLO gw\r\n"))).WillOnce([&] { EXPECT_TRUE(tap.seen.empty()); });
  EXPECT_CALL(a_, write(BytesAre("250 ok\r\n")));
  EXPECT_CALL(b_, write(BytesAre("QUIT\r\n")));
  a_reader_->on_stream_data(as_bytes("EHLO gw\r\n"));
  b_reader_->on_stream_data(as_bytes("250 ok\r\n"));
  a_reader_->on_stream_data(as_bytes("QUIT\r\n"));  // relayed, not shown: the tap declined
  ASSERT_EQ(tap.seen.size(), 2u);
  EXPECT_EQ(tap.seen[0], std::make_pair(0, std::string("EHLO gw\r\n")));
  EXPECT_EQ(tap.seen[1], std::make_pair(1, std::string("250 ok\r\n")));
}

TEST_F(PumpTest, SinkAtTheHighWatermarkPausesTheSourceExactlyOnce) {
  start();
  MockFunction<void(const char*)> step;
  {
    InSequence in_order;
    EXPECT_CALL(b_, write(_));
    EXPECT_CALL(step, Call("below high"));
    EXPECT_CALL(b_, write(_));
    EXPECT_CALL(a_, pause_reading());
    EXPECT_CALL(step, Call("at high"));
    EXPECT_CALL(b_, write(_)).Times(2);  // bytes already read still arrive; no second pause
    EXPECT_CALL(step, Call("above high"));
  }
  pending_b_ = kHigh - 1;
  a_reader_->on_stream_data(as_bytes("x"));
  step.Call("below high");
  pending_b_ = kHigh;
  a_reader_->on_stream_data(as_bytes("x"));
  step.Call("at high");
  pending_b_ = kHigh * 3;
  a_reader_->on_stream_data(as_bytes("x"));
  a_reader_->on_stream_data(as_bytes("x"));
  step.Call("above high");
}

TEST_F(PumpTest, SinkDrainedToTheLowWatermarkResumesTheSource) {
  start();
  MockFunction<void(const char*)> step;
  {
    InSequence in_order;
    EXPECT_CALL(b_, write(_));
    EXPECT_CALL(a_, pause_reading());
    EXPECT_CALL(step, Call("paused"));
    EXPECT_CALL(step, Call("above low"));
    EXPECT_CALL(a_, resume_reading());
    EXPECT_CALL(step, Call("resumed"));
    // The next upward crossing pauses again: both edges repeat.
    EXPECT_CALL(b_, write(_));
    EXPECT_CALL(a_, pause_reading());
    EXPECT_CALL(step, Call("paused again"));
  }
  pending_b_ = kHigh;
  a_reader_->on_stream_data(as_bytes("x"));
  step.Call("paused");
  pending_b_ = kLow + 1;
  b_reader_->on_stream_drained();
  step.Call("above low");
  pending_b_ = kLow;
  b_reader_->on_stream_drained();
  b_reader_->on_stream_drained();  // already resumed: nothing more
  step.Call("resumed");
  pending_b_ = kHigh + 1;
  a_reader_->on_stream_data(as_bytes("x"));
  step.Call("paused again");
}

// A sink that can only buffer (a multiplexed session out of credit) pauses
// the source with nothing queued, and it reads again only once the sink can
// send: the bytes wait in the source's socket, not in a buffer of ours.
TEST_F(PumpTest, ASinkThatCannotSendNowPausesTheSourceUntilItCan) {
  start();
  MockFunction<void(const char*)> step;
  {
    InSequence in_order;
    EXPECT_CALL(b_, write(_));
    EXPECT_CALL(a_, pause_reading());
    EXPECT_CALL(step, Call("out of credit"));
    EXPECT_CALL(step, Call("still out of credit"));
    EXPECT_CALL(a_, resume_reading());
    EXPECT_CALL(step, Call("credit back"));
  }
  pending_b_ = 0;
  can_send_b_ = false;
  a_reader_->on_stream_data(as_bytes("x"));
  step.Call("out of credit");
  b_reader_->on_stream_drained();
  step.Call("still out of credit");
  can_send_b_ = true;
  b_reader_->on_stream_drained();
  step.Call("credit back");
}

TEST_F(PumpTest, DrainedWithoutAPauseDoesNothing) {
  start();
  pending_a_ = 0;
  pending_b_ = 0;
  a_reader_->on_stream_drained();
  b_reader_->on_stream_drained();
}

TEST_F(PumpTest, EachDirectionHasItsOwnWatermark) {
  start();
  MockFunction<void(const char*)> step;
  {
    InSequence in_order;
    EXPECT_CALL(a_, write(_));
    EXPECT_CALL(b_, pause_reading());  // B→A is full: stop reading B, not A
    EXPECT_CALL(step, Call("b paused"));
    EXPECT_CALL(b_, write(_));  // A→B still flows
    EXPECT_CALL(step, Call("a flows"));
    EXPECT_CALL(b_, resume_reading());
  }
  pending_a_ = kHigh;
  b_reader_->on_stream_data(as_bytes("x"));
  step.Call("b paused");
  pending_b_ = 0;
  a_reader_->on_stream_data(as_bytes("x"));
  b_reader_->on_stream_drained();  // B's sink drained: B→A is measured at A, so no resume
  step.Call("a flows");
  pending_a_ = 0;
  a_reader_->on_stream_drained();
}

TEST_F(PumpTest, EofFromAHalfClosesBAndBToAKeepsFlowing) {
  start();
  MockFunction<void(const char*)> step;
  {
    InSequence in_order;
    EXPECT_CALL(b_, write(BytesAre("QUIT\r\n")));
    EXPECT_CALL(b_, shutdown_write());
    EXPECT_CALL(step, Call("a ended"));
    EXPECT_CALL(a_, write(BytesAre("221 bye\r\n")));
  }
  a_reader_->on_stream_data(as_bytes("QUIT\r\n"));
  a_reader_->on_stream_eof();
  a_reader_->on_stream_eof();  // a repeated EOF does not shut B down twice
  step.Call("a ended");
  b_reader_->on_stream_data(as_bytes("221 bye\r\n"));
  b_reader_->on_stream_shutdown_done();
  EXPECT_EQ(done_calls_, 0) << "B→A has not ended yet";
  EXPECT_FALSE(pump_->finished());
}

TEST_F(PumpTest, BothHalfClosesDoneFinishCleanWithTheByteCounts) {
  start(small_options(20ms));
  EXPECT_CALL(b_, write(_)).Times(2);
  EXPECT_CALL(a_, write(_));
  EXPECT_CALL(b_, shutdown_write());
  EXPECT_CALL(a_, shutdown_write());
  a_reader_->on_stream_data(as_bytes("12345"));
  a_reader_->on_stream_data(as_bytes("678"));
  b_reader_->on_stream_data(as_bytes("abcdefghij"));
  a_reader_->on_stream_eof();
  b_reader_->on_stream_eof();
  b_reader_->on_stream_shutdown_done();
  EXPECT_EQ(done_calls_, 0);
  a_reader_->on_stream_shutdown_done();
  ASSERT_EQ(done_calls_, 1);
  EXPECT_TRUE(outcome_.clean);
  EXPECT_EQ(outcome_.end, "closed");
  EXPECT_EQ(outcome_.bytes_a_to_b, 8u);
  EXPECT_EQ(outcome_.bytes_b_to_a, 10u);
  EXPECT_TRUE(pump_->finished());
  EXPECT_EQ(pump_->outcome().end, "closed");
  run_loop();  // the idle timer was stopped: it must not fire and abort
  EXPECT_EQ(done_calls_, 1);
}

TEST_F(PumpTest, ErrorOnAAbortsBAndReportsTheReason) {
  start();
  EXPECT_CALL(b_, write(_));
  EXPECT_CALL(b_, abort());
  a_reader_->on_stream_data(as_bytes("hello"));
  a_reader_->on_stream_error("connection reset by peer (ECONNRESET)");
  ASSERT_EQ(done_calls_, 1);
  EXPECT_FALSE(outcome_.clean);
  EXPECT_THAT(outcome_.end, ::testing::HasSubstr("connection reset by peer (ECONNRESET)"));
  EXPECT_EQ(outcome_.end, "a connection reset by peer (ECONNRESET)");
  EXPECT_EQ(outcome_.bytes_a_to_b, 5u);
  EXPECT_EQ(outcome_.bytes_b_to_a, 0u);
}

TEST_F(PumpTest, ErrorOnBAbortsAAndNamesB) {
  start();
  EXPECT_CALL(a_, abort());
  b_reader_->on_stream_error("session reset by peer");
  ASSERT_EQ(done_calls_, 1);
  EXPECT_FALSE(outcome_.clean);
  EXPECT_EQ(outcome_.end, "b session reset by peer");
}

// The end reason names the stream by what its owner called it.
TEST_F(PumpTest, TheEndReasonUsesTheStreamsNames) {
  PumpOptions options = small_options();
  options.names = {"client", "destination"};
  start(options);
  EXPECT_CALL(a_, abort());
  b_reader_->on_stream_error("connection reset by peer (ECONNRESET)");
  ASSERT_EQ(done_calls_, 1);
  EXPECT_EQ(outcome_.end, "destination connection reset by peer (ECONNRESET)");
}

TEST_F(PumpTest, ErrorAfterAHalfCloseIsNotClean) {
  start();
  EXPECT_CALL(b_, shutdown_write());
  EXPECT_CALL(a_, abort());
  a_reader_->on_stream_eof();
  b_reader_->on_stream_shutdown_done();
  b_reader_->on_stream_error("timed out");
  ASSERT_EQ(done_calls_, 1);
  EXPECT_FALSE(outcome_.clean);
  EXPECT_EQ(outcome_.end, "b timed out");
}

TEST_F(PumpTest, AWriteThatFailsAtOnceEndsTheRelay) {
  start();
  EXPECT_CALL(b_, write(_)).WillOnce([this](ByteView) {
    b_reader_->on_stream_error("write: broken pipe (EPIPE)");
  });
  EXPECT_CALL(a_, abort());
  pending_b_ = kHigh * 2;  // would pause A if the pump went on after the failed write
  a_reader_->on_stream_data(as_bytes("hello"));
  ASSERT_EQ(done_calls_, 1);
  EXPECT_EQ(outcome_.end, "b write: broken pipe (EPIPE)");
  EXPECT_EQ(outcome_.bytes_a_to_b, 5u);
}

TEST_F(PumpTest, AbortResetsBothStreamsAndReportsWhy) {
  start(small_options(20ms));
  EXPECT_CALL(b_, write(_));
  EXPECT_CALL(a_, abort());
  EXPECT_CALL(b_, abort());
  a_reader_->on_stream_data(as_bytes("abc"));
  pump_->abort("tenant disabled");
  ASSERT_EQ(done_calls_, 1);
  EXPECT_FALSE(outcome_.clean);
  EXPECT_EQ(outcome_.end, "tenant disabled");
  EXPECT_EQ(outcome_.bytes_a_to_b, 3u);
  pump_->abort("again");  // finished: no second abort of either stream, no second done
  run_loop();             // and the idle timer was stopped
  EXPECT_EQ(done_calls_, 1);
  EXPECT_EQ(outcome_.end, "tenant disabled");
}

TEST_F(PumpTest, AbortAfterTheRelayEndedCleanlyDoesNothing) {
  start();
  EXPECT_CALL(a_, shutdown_write());
  EXPECT_CALL(b_, shutdown_write());
  a_reader_->on_stream_eof();
  b_reader_->on_stream_eof();
  a_reader_->on_stream_shutdown_done();
  b_reader_->on_stream_shutdown_done();
  ASSERT_EQ(done_calls_, 1);
  pump_->abort("too late");
  EXPECT_EQ(done_calls_, 1);
  EXPECT_TRUE(outcome_.clean);
  EXPECT_EQ(outcome_.end, "closed");
}

TEST_F(PumpTest, IdleTimeoutAbortsBoth) {
  const uint64_t started = uv_now(loop_.get());
  start(small_options(50ms));
  EXPECT_CALL(a_, abort());
  EXPECT_CALL(b_, abort());
  run_loop();
  ASSERT_EQ(done_calls_, 1);
  EXPECT_FALSE(outcome_.clean);
  EXPECT_EQ(outcome_.end, "idle timeout");
  EXPECT_GE(done_at_ - started, 50u);
}

TEST_F(PumpTest, BytesEitherWayRestartTheIdleTimer) {
  uv_update_time(loop_.get());
  const uint64_t started = uv_now(loop_.get());
  start(small_options(50ms));
  EXPECT_CALL(b_, write(_));
  EXPECT_CALL(a_, write(_));
  Timer from_a(loop_);
  Timer from_b(loop_);
  from_a.start(30ms, [this] { a_reader_->on_stream_data(as_bytes("a")); });
  from_b.start(60ms, [this] { b_reader_->on_stream_data(as_bytes("b")); });
  EXPECT_CALL(a_, abort());
  EXPECT_CALL(b_, abort());
  run_loop();
  ASSERT_EQ(done_calls_, 1);
  EXPECT_EQ(outcome_.end, "idle timeout");
  // Timers never fire early: the last bytes came at 60 ms or later, so the
  // timeout cannot have fired before 60 + 50 ms.
  EXPECT_GE(done_at_ - started, 110u);
}

TEST_F(PumpTest, DoneRunsExactlyOnceAndLaterEventsAreIgnored) {
  start(small_options(20ms));
  EXPECT_CALL(b_, abort());
  a_reader_->on_stream_error("connection reset by peer (ECONNRESET)");
  ASSERT_EQ(done_calls_, 1);
  // Nothing below may reach a stream (strict mocks) or call done again.
  pending_a_ = kLow;
  pending_b_ = kLow;
  a_reader_->on_stream_data(as_bytes("late"));
  b_reader_->on_stream_data(as_bytes("late"));
  a_reader_->on_stream_eof();
  b_reader_->on_stream_eof();
  a_reader_->on_stream_drained();
  b_reader_->on_stream_drained();
  a_reader_->on_stream_shutdown_done();
  b_reader_->on_stream_shutdown_done();
  b_reader_->on_stream_error("late error");
  a_reader_->on_stream_error("late error");
  run_loop();  // nor may the idle timer
  EXPECT_EQ(done_calls_, 1);
  EXPECT_EQ(outcome_.end, "a connection reset by peer (ECONNRESET)");
}

}  // namespace
}  // namespace mx
