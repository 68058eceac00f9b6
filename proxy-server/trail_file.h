// The trail file and what happens when it cannot be written: lines that
// fail (a full disk, an I/O error) wait in a bounded backlog, in order, and
// are written first once the file takes lines again; what does not fit is
// counted, and a line saying how many were lost follows the backlog. Also
// the file's rotation: reopened on demand, or when it was moved or removed
// behind the server's back.
//
// Not thread-safe (TrailWriter holds the lock) and without a clock of its
// own: callers pass the time, tests use a fake TrailSink.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "mxegress/util/time_format.h"
#include "trail_sink.h"

namespace mx {

using WallTime = std::chrono::system_clock::time_point;  // as in tenant_usage.h

class TrailFile {
 public:
  static constexpr size_t kDefaultBacklogBytes = size_t{1} << 20;

  explicit TrailFile(std::unique_ptr<TrailSink> sink, size_t backlog_bytes = kDefaultBacklogBytes);

  // What a call did that its caller logs or counts.
  struct Outcome {
    int error = 0;           // a write (or reopen) failed with this errno
    bool reopened = false;   // the file was opened again at its path
    bool recovered = false;  // failing before, every held line written now
    size_t written = 0;      // held lines written by this call
    uint64_t lost = 0;       // lines lost beyond the backlog, reported in the file now
    bool dropped = false;    // this call's line did not fit in the backlog
  };

  // Opens `path` (the first time, or another path after a reload). On
  // failure the file open before stays, and the errno is returned.
  int open(const std::filesystem::path& path);
  bool is_open() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }

  // Appends one whole line ('\n' included). While the file is failing the
  // line joins the backlog without a write: only retry() tries the file.
  Outcome append(std::string line, WallTime now);
  // Opens the file at its path again (SIGUSR1, SIGHUP), then tries the backlog.
  Outcome reopen(WallTime now);
  // The periodic check: reopens when the file was moved or removed, and
  // while failing, writes what is held.
  Outcome retry(WallTime now);

  // Whether the last write worked (true with no file).
  bool writable() const { return !failing_; }
  // Why not: "cannot write /path: No space left on device".
  std::string error_text() const;
  // The backlog's bound from now on (what is held already stays).
  void set_backlog_bytes(size_t bytes) { backlog_cap_ = bytes; }
  size_t backlog_lines() const { return backlog_.size(); }
  size_t backlog_bytes() const { return backlog_size_; }
  uint64_t lost_total() const { return lost_total_; }
  uint64_t write_errors() const { return write_errors_; }

 private:
  // Writes the backlog, then the note of lost lines; stops at the first error.
  Outcome flush(WallTime now);
  void fail(int error);
  void hold(std::string line, WallTime now, Outcome& outcome);
  std::string lost_line(WallTime now) const;

  std::unique_ptr<TrailSink> sink_;
  size_t backlog_cap_;
  std::filesystem::path path_;
  bool failing_ = false;
  bool must_reopen_ = false;  // moved away and reopening failed: the old file is not written
  int error_ = 0;
  std::deque<std::string> backlog_;
  size_t backlog_size_ = 0;
  // Lost since the last note in the file, and when.
  uint64_t lost_ = 0;
  WallTime first_lost_{};
  WallTime last_lost_{};
  uint64_t lost_total_ = 0;
  uint64_t write_errors_ = 0;
};

}  // namespace mx
