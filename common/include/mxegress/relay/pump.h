// The one relay pump: joins two streams and moves bytes both ways until both
// directions have ended. Backpressure is measured at the sink and acted on at
// the source (read stops above the high-water mark, resumes at or below the
// low one). EOF on one side becomes a half-close of the other; an error or
// reset on one side aborts the other; no bytes either way for idle_timeout
// aborts both.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "mxegress/loop/loop.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/stream.h"

namespace mx {

// Sees the bytes the pump moves, as it moves them (after the write, so it
// never delays them): an observer of the plaintext start of a protocol.
// `from` is the index of the stream they came from (0: a, 1: b). Returns
// whether it wants more; after false it is not called again.
class RelayTap {
 public:
  virtual bool on_relayed(int from, ByteView data) = 0;

 protected:
  ~RelayTap() = default;
};

struct PumpOptions {
  // What the two streams are, for the end reason ("destination connection
  // reset by peer", "tunnel lost: ...").
  std::array<const char*, 2> names = {"a", "b"};
  size_t high_watermark = 1024 * 1024;
  size_t low_watermark = 512 * 1024;
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(10);
  RelayTap* tap = nullptr;  // outlives the pump; null: none
};

struct RelayOutcome {
  bool clean = false;  // both directions ended with a half-close, no error
  std::string end;     // why it ended: "closed", "idle timeout", "b connection reset by peer", ...
  uint64_t bytes_a_to_b = 0;
  uint64_t bytes_b_to_a = 0;
};

class Pump {
 public:
  using DoneCallback = std::function<void(const RelayOutcome&)>;

  Pump(Loop& loop, Stream& a, Stream& b, PumpOptions options, DoneCallback done);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  void start();
  // Ends the relay now: both streams are aborted (reset), done reports `why`.
  void abort(const std::string& why);
  bool finished() const { return finished_; }
  const RelayOutcome& outcome() const { return outcome_; }

 private:
  // Events from one of the two streams; `index` says which.
  class Side final : public StreamReader {
   public:
    Side(Pump& pump, int index) : pump_(pump), index_(index) {}
    void on_stream_data(ByteView data) override { pump_.on_data(index_, data); }
    void on_stream_eof() override { pump_.on_eof(index_); }
    void on_stream_error(const std::string& why) override { pump_.on_error(index_, why); }
    void on_stream_drained() override { pump_.on_drained(index_); }
    void on_stream_shutdown_done() override { pump_.on_shutdown_done(index_); }

   private:
    Pump& pump_;
    int index_;
  };

  struct Direction {  // bytes flowing from streams_[i] to streams_[1 - i]
    uint64_t bytes = 0;
    bool source_paused = false;
    bool eof = false;             // the source half-closed
    bool sink_shut_down = false;  // and the sink's half-close completed
  };

  void on_data(int from, ByteView data);
  void on_eof(int from);
  void on_error(int from, const std::string& why);
  void on_drained(int sink);
  void on_shutdown_done(int sink);
  void arm_idle_timer(std::chrono::milliseconds after);
  void on_idle_timer();
  void finish(bool clean, std::string end);

  Loop& loop_;
  Stream* streams_[2];
  Side sides_[2];
  Direction directions_[2];
  PumpOptions options_;
  // Bytes do not restart the timer (a heap update per read); they stamp the
  // loop's time, and the timer, when it fires, waits again for what is left.
  Timer idle_timer_;
  uint64_t last_activity_ms_ = 0;  // uv_now() of the last bytes either way
  DoneCallback done_;
  RelayOutcome outcome_;
  bool finished_ = false;
};

}  // namespace mx
