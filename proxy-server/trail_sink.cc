#include "trail_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace mx {
namespace {

// 0 or the errno; `written` says how much went out before an error.
int write_all(int fd, std::string_view bytes, size_t& written) {
  written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    written += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

FileTrailSink::~FileTrailSink() {
  if (fd_ >= 0) ::close(fd_);
}

int FileTrailSink::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return errno;
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  path_ = path;
  ends_mid_line_ = false;
  return 0;
}

int FileTrailSink::append(std::string_view line) {
  if (fd_ < 0) return EBADF;
  if (ends_mid_line_) {
    size_t written = 0;
    if (const int err = write_all(fd_, "\n", written); err != 0) return err;
    ends_mid_line_ = false;
  }
  size_t written = 0;
  const int err = write_all(fd_, line, written);
  if (err == 0 || written == 0) return err;
  // A full disk can take part of a line: cut it off again, so the file
  // holds whole lines only (the line is kept and written again later).
  // O_APPEND left the offset at the end of what was written.
  const off_t end = ::lseek(fd_, 0, SEEK_CUR);
  struct stat st {};
  if (end >= static_cast<off_t>(written) && ::fstat(fd_, &st) == 0 && st.st_size == end &&
      ::ftruncate(fd_, end - static_cast<off_t>(written)) == 0) {
    return err;
  }
  ends_mid_line_ = true;
  return err;
}

bool FileTrailSink::moved() {
  if (fd_ < 0) return false;
  struct stat open_file {};
  struct stat at_path {};
  if (::fstat(fd_, &open_file) != 0) return false;
  if (open_file.st_nlink == 0) return true;                          // removed
  if (::stat(path_.c_str(), &at_path) != 0) return errno == ENOENT;  // renamed away
  return at_path.st_dev != open_file.st_dev || at_path.st_ino != open_file.st_ino;
}

std::string check_trail_writable(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // Not there yet: the server will create it. Try an unnamed file in the
    // directory, which leaves nothing behind (and no file owned by whoever
    // ran --check).
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
    fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0640);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
      // A file system without O_TMPFILE (NFS): ask for write access.
      if (::access(dir.c_str(), W_OK) == 0) return {};
    }
  }
  if (fd < 0) return "cannot write " + path.string() + ": " + std::strerror(errno);
  ::close(fd);
  return {};
}

}  // namespace mx
