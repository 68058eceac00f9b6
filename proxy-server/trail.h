// The abuse trail: one JSON object per line for every connection the server
// was asked to make, refused and failed ones included. This is what a
// hosting provider searches when a complaint names a source address, a
// destination and a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "mxegress/config/server_config.h"
#include "mxegress/util/log_rate_limit.h"
#include "mxegress/util/time_format.h"
#include "tenant_usage.h"
#include "trail_file.h"
#include "trail_sink.h"

namespace mx {

// A trail line's SMTP fields: all four or none.
struct TrailSmtp {
  std::string provider;                  // "unknown" when not known
  int banner = 0;                        // the greeting's reply code
  std::optional<bool> starttls_offered;  // unset: no EHLO answer seen
  bool starttls_used = false;            // the MX answered STARTTLS with 2xx
  bool operator==(const TrailSmtp&) const = default;
};

struct TrailRecord {
  WallTime time;  // when the connection was asked for
  std::string tenant;
  std::string via;                       // "tunnel" or "socks5"
  std::string peer;                      // where the request came from (ip:port)
  std::string credential;                // tunnel: the client's public key; socks5: the user name
  std::string target;                    // as asked: host:port
  std::optional<std::string> connected;  // address:port dialed (last one tried)
  std::optional<std::string> source;     // our address:port on that connection
  // The SOCKS5 reply code sent; none when the requester went away (or the
  // tunnel closed) while the server was still dialing.
  std::optional<int> reply = 1;
  uint64_t bytes_up = 0;    // client → destination
  uint64_t bytes_down = 0;  // destination → client
  int64_t duration_ms = 0;
  std::string end;  // why it ended: "closed", a refusal reason, an error
  // What the MX said before TLS (docs/smtp-health.md), on observed ports
  // only, when a greeting came.
  std::optional<TrailSmtp> smtp;
};

// A session's STARTTLS in one word, for log and query lines: "used",
// "offered-unused", "not-offered", or "unknown" (no EHLO answer seen).
const char* starttls_word(const TrailSmtp& smtp);

// One JSON line, '\n' included, fields in a fixed order (docs/abuse-desk.md).
// Valid JSON whatever bytes the fields hold: ill-formed UTF-8 becomes U+FFFD
// (util/json_string). Built by hand into one string, not through a JSON
// library's document: docs/dependencies.md says why.
std::string to_json_line(const TrailRecord& record);

// Thread-safe: the server's loop threads share one writer. The file and
// its failures are TrailFile's; this adds the lock, stdout, the log lines
// and the admission rule of `on_trail_error`.
class TrailWriter {
 public:
  using OnError = ServerConfig::Trail::OnError;
  using SinkFactory = std::function<std::unique_ptr<TrailSink>()>;

  // `make_sink` makes the file's sink (tests: a fake).
  explicit TrailWriter(SinkFactory make_sink = [] { return std::make_unique<FileTrailSink>(); });
  // Tries the held lines a last time; says how many are lost if that fails.
  ~TrailWriter();
  TrailWriter(const TrailWriter&) = delete;
  TrailWriter& operator=(const TrailWriter&) = delete;

  // Opens the file for appending (created 0640), at start and on every
  // reload; the same path is reopened (logrotate moved it). On failure the
  // file open before stays. Returns an error text, empty on success.
  // `backlog`: the bytes of lines held while the file fails.
  std::string open(const std::filesystem::path& file, bool to_stdout,
                   OnError on_error = OnError::Refuse,
                   size_t backlog = TrailFile::kDefaultBacklogBytes);
  // Whether lines go anywhere: without a file or stdout, callers need not
  // build a record at all.
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  void write(const TrailRecord& record);
  // SIGUSR1 (logrotate's postrotate): the file at its path again.
  void reopen();
  // Every second: reopens a file moved or removed without a signal, and
  // retries the lines held while the file failed.
  void check();

  // The one admission question: nullopt when a new session may start, else
  // the refusal, naming the limit: "trail not writable (cannot write ...)".
  std::optional<std::string> refusal() const;

  struct Status {
    bool file = false;  // a file is configured
    bool writable = true;
    size_t backlog_lines = 0;
    size_t backlog_bytes = 0;
    uint64_t lost_lines = 0;
    uint64_t write_errors = 0;
  };
  Status status() const;

 private:
  void report(const TrailFile::Outcome& outcome);  // the log lines; mutex_ held
  void update_refusing();                          // mutex_ held

  SinkFactory make_sink_;
  std::atomic<bool> enabled_{false};
  std::atomic<bool> refusing_{false};
  mutable std::mutex mutex_;
  std::unique_ptr<TrailFile> file_;
  bool to_stdout_ = false;
  OnError on_error_ = OnError::Refuse;
  LogRateLimit error_log_;
};

}  // namespace mx
