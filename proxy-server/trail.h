// The abuse trail: one JSON object per line for every connection the server
// was asked to make, refused and failed ones included. This is what a
// hosting provider searches when a complaint names a source address, a
// destination and a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "mxegress/util/time_format.h"
#include "tenant_usage.h"

namespace mx {

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
};

// One JSON line, '\n' included, fields in a fixed order (docs/abuse-desk.md).
// Valid JSON whatever bytes the fields hold: ill-formed UTF-8 becomes U+FFFD
// (trail_text.h). Built by hand into one string, not through a JSON
// library's document: docs/dependencies.md says why.
std::string to_json_line(const TrailRecord& record);

// Thread-safe: the server's loop threads share one writer.
class TrailWriter {
 public:
  TrailWriter() = default;
  ~TrailWriter();
  TrailWriter(const TrailWriter&) = delete;
  TrailWriter& operator=(const TrailWriter&) = delete;

  // (Re)opens the file for appending (created 0640). Called at start and on
  // every reload, so logrotate can move the file and send SIGHUP.
  // Returns an error text, empty on success.
  std::string open(const std::filesystem::path& file, bool to_stdout);
  // Whether lines go anywhere: without a file or stdout, callers need not
  // build a record at all.
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  void write(const TrailRecord& record);

 private:
  std::atomic<bool> enabled_{false};
  std::mutex mutex_;
  int fd_ = -1;
  bool to_stdout_ = false;
};

}  // namespace mx
