#include "trail.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "mxegress/util/log.h"
#include "trail_text.h"

namespace mx {
namespace {

void field(std::string& out, const char* name, std::string_view value) {
  out += out.size() > 1 ? ",\"" : "\"";
  out += name;
  out += "\":";
  append_json_string(out, value);
}

void null_field(std::string& out, const char* name) {
  out += out.size() > 1 ? ",\"" : "\"";
  out += name;
  out += "\":null";
}

void optional_field(std::string& out, const char* name, const std::optional<std::string>& value) {
  if (value) {
    field(out, name, std::string_view(*value));
    return;
  }
  null_field(out, name);
}

void number_field(std::string& out, const char* name, int64_t value) {
  out += out.size() > 1 ? ",\"" : "\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string to_json_line(const TrailRecord& r) {
  std::string out;
  out.reserve(512);  // a line is about 350 bytes: one allocation, not a growth series
  out += '{';
  field(out, "time", rfc3339_ms(r.time));
  field(out, "tenant", r.tenant);
  field(out, "via", r.via);
  field(out, "peer", r.peer);
  field(out, r.via == "socks5" ? "user" : "key", r.credential);
  field(out, "target", r.target);
  optional_field(out, "connected", r.connected);
  optional_field(out, "source", r.source);
  if (r.reply) {
    number_field(out, "reply", *r.reply);
  } else {
    null_field(out, "reply");
  }
  number_field(out, "bytes_up", static_cast<int64_t>(r.bytes_up));
  number_field(out, "bytes_down", static_cast<int64_t>(r.bytes_down));
  number_field(out, "duration_ms", r.duration_ms);
  field(out, "end", r.end);
  out += "}\n";
  return out;
}

TrailWriter::~TrailWriter() {
  if (fd_ >= 0) ::close(fd_);
}

std::string TrailWriter::open(const std::filesystem::path& file, bool to_stdout) {
  int fd = -1;
  if (!file.empty()) {
    fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return "cannot open trail file " + file.string() + ": " + std::strerror(errno);
  }
  std::lock_guard lock(mutex_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  to_stdout_ = to_stdout;
  enabled_.store(fd_ >= 0 || to_stdout_, std::memory_order_relaxed);
  return {};
}

void TrailWriter::write(const TrailRecord& record) {
  if (!enabled()) return;  // formatting a line nobody reads costs a session ~1% of its CPU
  const std::string line = to_json_line(record);
  std::lock_guard lock(mutex_);
  if (fd_ < 0 && !to_stdout_) return;
  // One write(2) per line with O_APPEND: lines never interleave.
  if (fd_ >= 0 && !write_all(fd_, line)) {
    MX_LOG(Error, "trail") << "cannot write the trail: " << std::strerror(errno);
  }
  if (to_stdout_) write_all(STDOUT_FILENO, line);
}

}  // namespace mx
