#include "trail.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "mxegress/util/log.h"
#include "mxegress/util/json_string.h"

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

void bool_field(std::string& out, const char* name, bool value) {
  out += out.size() > 1 ? ",\"" : "\"";
  out += name;
  out += value ? "\":true" : "\":false";
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

constexpr const char* kLog = "trail";

}  // namespace

const char* starttls_word(const TrailSmtp& smtp) {
  if (smtp.starttls_used) return "used";
  if (!smtp.starttls_offered) return "unknown";
  return *smtp.starttls_offered ? "offered-unused" : "not-offered";
}

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
  if (r.smtp) {
    field(out, "provider", r.smtp->provider);
    number_field(out, "smtp_banner", r.smtp->banner);
    if (r.smtp->starttls_offered) {
      bool_field(out, "starttls_offered", *r.smtp->starttls_offered);
    } else {
      null_field(out, "starttls_offered");
    }
    bool_field(out, "starttls_used", r.smtp->starttls_used);
  }
  out += "}\n";
  return out;
}

TrailWriter::TrailWriter(SinkFactory make_sink) : make_sink_(std::move(make_sink)) {}

TrailWriter::~TrailWriter() {
  std::lock_guard lock(mutex_);
  if (!file_ || file_->writable()) return;
  report(file_->retry(std::chrono::system_clock::now()));
  if (!file_->writable()) {
    MX_LOG(Error, kLog) << "stopping: " << file_->backlog_lines()
                        << " trail lines held in memory are lost (" << file_->error_text() << ")";
  }
}

std::string TrailWriter::open(const std::filesystem::path& file, bool to_stdout, OnError on_error,
                              size_t backlog) {
  std::lock_guard lock(mutex_);
  if (file.empty()) {
    if (file_ && file_->backlog_lines() > 0) {
      MX_LOG(Warn, kLog) << "trail file no longer configured: " << file_->backlog_lines()
                         << " lines held for " << file_->path().string() << " are lost";
    }
    file_.reset();
  } else if (file_ && file_->path() == file) {
    report(file_->reopen(std::chrono::system_clock::now()));
  } else {
    auto opened = file_ ? std::move(file_) : std::make_unique<TrailFile>(make_sink_());
    if (const int err = opened->open(file); err != 0) {
      if (opened->is_open()) file_ = std::move(opened);  // the file open before stays
      return "cannot open trail file " + file.string() + ": " + std::strerror(err);
    }
    file_ = std::move(opened);
  }
  if (file_) file_->set_backlog_bytes(backlog);
  to_stdout_ = to_stdout;
  on_error_ = on_error;
  enabled_.store(file_ != nullptr || to_stdout_, std::memory_order_relaxed);
  update_refusing();
  return {};
}

void TrailWriter::write(const TrailRecord& record) {
  if (!enabled()) return;  // formatting a line nobody reads costs a session ~1% of its CPU
  const std::string line = to_json_line(record);
  std::lock_guard lock(mutex_);
  // One write(2) per line with O_APPEND: lines never interleave.
  if (file_) {
    report(file_->append(line, record.time));
    update_refusing();
  }
  if (to_stdout_) write_all(STDOUT_FILENO, line);
}

void TrailWriter::reopen() {
  std::lock_guard lock(mutex_);
  if (!file_) return;
  report(file_->reopen(std::chrono::system_clock::now()));
  update_refusing();
}

void TrailWriter::check() {
  std::lock_guard lock(mutex_);
  if (!file_) return;
  report(file_->retry(std::chrono::system_clock::now()));
  update_refusing();
}

std::optional<std::string> TrailWriter::refusal() const {
  if (!refusing_.load(std::memory_order_relaxed)) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (!file_ || file_->writable()) return std::nullopt;
  // "trail" first: the limit's name (tenant_limit_of), as the tenant limits' texts.
  return "trail not writable (" + file_->error_text() + ")";
}

TrailWriter::Status TrailWriter::status() const {
  std::lock_guard lock(mutex_);
  Status status;
  if (!file_) return status;
  status.file = true;
  status.writable = file_->writable();
  status.backlog_lines = file_->backlog_lines();
  status.backlog_bytes = file_->backlog_bytes();
  status.lost_lines = file_->lost_total();
  status.write_errors = file_->write_errors();
  return status;
}

void TrailWriter::update_refusing() {
  const bool refusing = file_ && !file_->writable() && on_error_ == OnError::Refuse;
  refusing_.store(refusing, std::memory_order_relaxed);
}

void TrailWriter::report(const TrailFile::Outcome& outcome) {
  if (outcome.reopened && outcome.error == 0) {
    MX_LOG(Info, kLog) << "trail reopened: " << file_->path().string();
  }
  if (outcome.error != 0 || outcome.dropped) {
    if (auto left_out = error_log_.admit()) {
      MX_LOG(Error, kLog) << (outcome.error != 0 ? file_->error_text()
                                                 : "the trail is still not writable")
                          << "; " << file_->backlog_lines() << " lines held, "
                          << file_->lost_total() << " lost so far; "
                          << (on_error_ == OnError::Refuse ? "new sessions are refused"
                                                           : "sessions go on (on_trail_error = "
                                                             "\"continue\")")
                          << left_out_note(*left_out);
    }
  }
  if (outcome.recovered) {
    MX_LOG(Info, kLog) << "trail writable again: " << outcome.written << " held lines written"
                       << (outcome.lost > 0 ? ", " + std::to_string(outcome.lost) +
                                                  " lines lost (noted in the trail)"
                                            : std::string());
  }
}

}  // namespace mx
