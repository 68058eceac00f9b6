#include "trail_file.h"

#include <cstring>

#include "mxegress/util/json_string.h"

namespace mx {

TrailFile::TrailFile(std::unique_ptr<TrailSink> sink, size_t backlog_bytes)
    : sink_(std::move(sink)), backlog_cap_(backlog_bytes) {}

int TrailFile::open(const std::filesystem::path& path) {
  if (const int err = sink_->open(path); err != 0) return err;
  path_ = path;
  must_reopen_ = false;
  // A failing file stays failing until retry() has written what is held.
  return 0;
}

TrailFile::Outcome TrailFile::append(std::string line, WallTime now) {
  Outcome outcome;
  if (!is_open()) return outcome;
  if (failing_) {
    // In order: nothing overtakes the held lines.
    hold(std::move(line), now, outcome);
    return outcome;
  }
  if (const int err = sink_->append(line); err != 0) {
    fail(err);
    outcome.error = err;
    hold(std::move(line), now, outcome);
  }
  return outcome;
}

TrailFile::Outcome TrailFile::reopen(WallTime now) {
  Outcome outcome;
  if (!is_open()) return outcome;
  if (const int err = sink_->open(path_); err != 0) {
    // The old file may be gone: write nothing more to it.
    must_reopen_ = true;
    fail(err);
    outcome.error = err;
    return outcome;
  }
  must_reopen_ = false;
  outcome = flush(now);
  outcome.reopened = true;
  return outcome;
}

TrailFile::Outcome TrailFile::retry(WallTime now) {
  if (!is_open()) return {};
  if (must_reopen_ || sink_->moved()) return reopen(now);
  if (failing_) return flush(now);
  return {};
}

TrailFile::Outcome TrailFile::flush(WallTime now) {
  Outcome outcome;
  while (!backlog_.empty()) {
    if (const int err = sink_->append(backlog_.front()); err != 0) {
      fail(err);
      outcome.error = err;
      return outcome;
    }
    backlog_size_ -= backlog_.front().size();
    backlog_.pop_front();
    ++outcome.written;
  }
  if (lost_ > 0) {
    if (const int err = sink_->append(lost_line(now)); err != 0) {
      fail(err);
      outcome.error = err;
      return outcome;
    }
    outcome.lost = lost_;
    lost_ = 0;
  }
  if (failing_) {
    failing_ = false;
    error_ = 0;
    outcome.recovered = true;
  }
  return outcome;
}

void TrailFile::fail(int error) {
  failing_ = true;
  error_ = error;
  ++write_errors_;
}

void TrailFile::hold(std::string line, WallTime now, Outcome& outcome) {
  if (backlog_size_ + line.size() > backlog_cap_) {
    if (lost_ == 0) first_lost_ = now;
    last_lost_ = now;
    ++lost_;
    ++lost_total_;
    outcome.dropped = true;
    return;
  }
  backlog_size_ += line.size();
  backlog_.push_back(std::move(line));
}

// Not a connection: a note in the trail's own format (docs/abuse-desk.md),
// which `mxegress-server trail` reports on standard error.
std::string TrailFile::lost_line(WallTime now) const {
  std::string out = "{\"time\":\"" + rfc3339_ms(now) + "\",\"lost_lines\":";
  out += std::to_string(lost_);
  out += ",\"lost_from\":\"" + rfc3339_ms(first_lost_) + "\",\"lost_until\":\"" +
         rfc3339_ms(last_lost_) + "\",\"end\":";
  append_json_string(out, "trail lines lost: the file could not be written");
  out += "}\n";
  return out;
}

std::string TrailFile::error_text() const {
  if (!failing_) return {};
  return "cannot write " + path_.string() + ": " + std::strerror(error_);
}

}  // namespace mx
