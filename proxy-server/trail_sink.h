// Where the trail's lines go: the file operations TrailFile needs, behind an
// interface so that its logic (backlog, writable or not, reopening) is tested
// with a fake, and the real file in FileTrailSink.
#pragma once

#include <filesystem>
#include <string_view>

namespace mx {

class TrailSink {
 public:
  virtual ~TrailSink() = default;
  // Opens `path` for appending (created 0640 when missing). 0 on success,
  // then the previous file is closed; else the errno, and the previous file
  // stays open.
  virtual int open(const std::filesystem::path& path) = 0;
  // Appends `line` whole: 0, or the errno, and then (as far as the sink
  // can) nothing of it is left in the file.
  virtual int append(std::string_view line) = 0;
  // True when the open file is no longer at the path it was opened at:
  // removed, renamed, or another file put there (rotated without a signal).
  virtual bool moved() = 0;
};

// The real file: O_WRONLY | O_APPEND, so each line lands at the end whoever
// else truncated the file (logrotate's copytruncate).
class FileTrailSink final : public TrailSink {
 public:
  FileTrailSink() = default;
  ~FileTrailSink() override;
  FileTrailSink(const FileTrailSink&) = delete;
  FileTrailSink& operator=(const FileTrailSink&) = delete;

  int open(const std::filesystem::path& path) override;
  int append(std::string_view line) override;
  bool moved() override;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  // A short write whose start could not be cut off again: the file ends
  // inside a line, so the next append starts with '\n' to end it (that
  // fragment is then a malformed line, which the query reports and skips,
  // instead of spoiling the next whole line).
  bool ends_mid_line_ = false;
};

// Whether the trail file `path` can be written, without creating it: an
// existing file is opened for appending, a missing one is tried as an
// unnamed file (O_TMPFILE) in its directory. Empty, or why not:
// "cannot write /var/log/mxegress/trail.jsonl: Read-only file system".
std::string check_trail_writable(const std::filesystem::path& path);

}  // namespace mx
