#include "mxegress/relay/pump.h"

namespace mx {
Pump::Pump(Loop& loop, Stream& a, Stream& b, PumpOptions options, DoneCallback done)
    : loop_(loop),
      streams_{&a, &b},
      sides_{Side(*this, 0), Side(*this, 1)},
      options_(options),
      idle_timer_(loop),
      done_(std::move(done)) {}

Pump::~Pump() {
  if (!finished_) {
    streams_[0]->set_reader(nullptr);
    streams_[1]->set_reader(nullptr);
  }
}

void Pump::start() {
  streams_[0]->set_reader(&sides_[0]);
  streams_[1]->set_reader(&sides_[1]);
  streams_[0]->resume_reading();
  streams_[1]->resume_reading();
  last_activity_ms_ = uv_now(loop_.get());
  arm_idle_timer(options_.idle_timeout);
}

void Pump::arm_idle_timer(std::chrono::milliseconds after) {
  idle_timer_.start(after, [this] { on_idle_timer(); });
}

void Pump::on_idle_timer() {
  const uint64_t idle_for = uv_now(loop_.get()) - last_activity_ms_;
  const auto timeout = static_cast<uint64_t>(options_.idle_timeout.count());
  if (idle_for >= timeout) {
    abort("idle timeout");
    return;
  }
  arm_idle_timer(std::chrono::milliseconds(timeout - idle_for));
}

void Pump::abort(const std::string& why) {
  if (finished_) return;
  streams_[0]->abort();
  streams_[1]->abort();
  finish(false, why);
}

void Pump::on_data(int from, ByteView data) {
  if (finished_) return;
  const int to = 1 - from;
  Direction& dir = directions_[from];
  dir.bytes += data.size();
  streams_[to]->write(data);
  if (finished_) return;  // the write failed and ended the relay
  if (options_.tap != nullptr && !options_.tap->on_relayed(from, data)) options_.tap = nullptr;
  last_activity_ms_ = uv_now(loop_.get());
  if (!dir.source_paused &&
      (streams_[to]->pending_bytes() >= options_.high_watermark || !streams_[to]->can_send_now())) {
    dir.source_paused = true;
    streams_[from]->pause_reading();
  }
}

void Pump::on_drained(int sink) {
  if (finished_) return;
  Direction& dir = directions_[1 - sink];
  if (dir.source_paused && streams_[sink]->pending_bytes() <= options_.low_watermark &&
      streams_[sink]->can_send_now()) {
    dir.source_paused = false;
    streams_[1 - sink]->resume_reading();
  }
}

void Pump::on_eof(int from) {
  if (finished_ || directions_[from].eof) return;
  directions_[from].eof = true;
  streams_[1 - from]->shutdown_write();
}

void Pump::on_shutdown_done(int sink) {
  if (finished_) return;
  directions_[1 - sink].sink_shut_down = true;
  if (directions_[0].sink_shut_down && directions_[1].sink_shut_down) finish(true, "closed");
}

void Pump::on_error(int from, const std::string& why) {
  if (finished_) return;
  streams_[1 - from]->abort();
  finish(false, std::string(options_.names[from]) + " " + why);
}

void Pump::finish(bool clean, std::string end) {
  if (finished_) return;
  finished_ = true;
  idle_timer_.stop();
  streams_[0]->set_reader(nullptr);
  streams_[1]->set_reader(nullptr);
  outcome_.clean = clean;
  outcome_.end = std::move(end);
  outcome_.bytes_a_to_b = directions_[0].bytes;
  outcome_.bytes_b_to_a = directions_[1].bytes;
  if (done_) {
    auto done = std::move(done_);
    done(outcome_);
  }
}

}  // namespace mx
