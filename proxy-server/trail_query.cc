#include "trail_query.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <ostream>
#include <string_view>

#include "json_line.h"
#include "mxegress/config/duration.h"
#include "mxegress/net/socket_address.h"

namespace mx {
namespace {

constexpr const char* kSynopsis =
    R"(usage: mxegress-server trail FILE... [--tenant NAME] [--source IP[:PORT]]
           [--dest HOST|IP[:PORT]] [--around TIME [--window DURATION]]
           [--since TIME] [--until TIME] [--json]
)";

constexpr const char* kDetails = R"(
Searches the abuse trail (the JSON lines of [trail] file, one per connection)
for the connections that match every filter given, and prints one line each.

  FILE...              trail files, rotated ones too, read in the order given;
                       - reads standard input (compressed files:
                       zcat trail.json.2.gz | mxegress-server trail - ...)
  --tenant NAME        the tenant, by its exact name
  --source IP[:PORT]   our address the connection left from ("source")
  --dest HOST|IP[:PORT]
                       the destination: an IP matches the address dialed
                       ("connected") or the target asked for ("target"); a
                       host name matches the target, case-insensitively
  --around TIME        connections open at any moment within --window of TIME
  --window DURATION    half-width of the --around window, default 15m
                       (30s, 15m, 2h, 1d)
  --since TIME         connections still open at or after TIME
  --until TIME         connections asked for at or before TIME
  --json               print the matching trail lines unchanged

TIME is RFC 3339: 2026-11-22T20:30:00Z, 2026-11-22T20:30:00.123Z,
2026-11-22T21:30:00+01:00, or a date alone (2026-11-22 = 00:00:00Z).
A connection spans from its "time" (when it was asked for) to "time" plus
"duration_ms"; the time filters match when that span overlaps theirs, ends
included.

Exit status: 0 something matched, 1 nothing matched, 2 usage error or
unreadable input. A malformed line is reported on stderr and skipped.
)";

constexpr size_t kMaxLine = 1 << 20;
constexpr int kMaxMalformedReports = 20;

struct AddressFilter {
  SocketAddress ip;  // port unused
  std::optional<uint16_t> port;
};

struct DestFilter {
  std::optional<SocketAddress> ip;  // set for an IP literal
  std::string name;                 // else a host name, normalized
  std::optional<uint16_t> port;
};

struct Query {
  std::vector<std::string> files;
  std::optional<std::string> tenant;
  std::optional<AddressFilter> source;
  std::optional<DestFilter> dest;
  // The time span a connection must overlap, in ms since the epoch.
  std::optional<int64_t> from_ms;
  std::optional<int64_t> to_ms;
  bool json = false;
};

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

int64_t epoch_ms(WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

bool same_ip(const SocketAddress& a, const SocketAddress& b) {
  const SocketAddress x = a.unmapped();
  const SocketAddress y = b.unmapped();
  return x.family() == y.family() && std::ranges::equal(x.ip_bytes(), y.ip_bytes());
}

std::string normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A host and an optional port: "192.0.2.1", "192.0.2.1:25", "2001:db8::1",
// "[2001:db8::1]", "[2001:db8::1]:25", "mx.example.org", "mx.example.org:25".
// The host keeps its IPv6 brackets off. nullopt when malformed.
struct HostAndPort {
  std::string host;
  std::optional<uint16_t> port;
};

std::optional<HostAndPort> split_host_port(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    HostAndPort out{std::string(text.substr(1, close - 1)), std::nullopt};
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || !(out.port = parse_port(rest.substr(1)))) return std::nullopt;
    }
    return out;
  }
  // More than one colon and no brackets: a bare IPv6 literal, no port.
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || text.find(':') != colon) {
    return HostAndPort{std::string(text), std::nullopt};
  }
  const auto port = parse_port(text.substr(colon + 1));
  if (!port) return std::nullopt;
  return HostAndPort{std::string(text.substr(0, colon)), port};
}

std::optional<AddressFilter> parse_address_filter(std::string_view text) {
  const auto split = split_host_port(text);
  if (!split) return std::nullopt;
  const auto ip = SocketAddress::parse_ip(split->host, 0);
  if (!ip) return std::nullopt;
  return AddressFilter{*ip, split->port};
}

std::optional<DestFilter> parse_dest_filter(std::string_view text) {
  const auto split = split_host_port(text);
  if (!split || split->host.empty()) return std::nullopt;
  DestFilter filter;
  filter.port = split->port;
  if (auto ip = SocketAddress::parse_ip(split->host, 0)) {
    filter.ip = *ip;
    return filter;
  }
  if (text.front() == '[') return std::nullopt;  // brackets hold IPv6 literals only
  for (const char c : split->host) {
    if (c == ':' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return std::nullopt;
  }
  filter.name = normalize_name(split->host);
  return filter.name.empty() ? std::nullopt : std::optional<DestFilter>(filter);
}

// TIME for the filters: RFC 3339, or a date alone meaning its midnight UTC.
std::optional<int64_t> parse_time_arg(std::string_view text) {
  if (auto time = parse_rfc3339(text)) return epoch_ms(*time);
  if (text.size() == 10) {
    if (auto time = parse_rfc3339(std::string(text) + "T00:00:00Z")) return epoch_ms(*time);
  }
  return std::nullopt;
}

bool address_matches(const std::optional<std::string>& field, const SocketAddress& ip,
                     const std::optional<uint16_t>& port) {
  if (!field) return false;
  const auto address = SocketAddress::parse(*field);
  if (!address || !same_ip(*address, ip)) return false;
  return !port || address->port() == *port;
}

bool dest_matches(const DestFilter& filter, const TrailRecord& record) {
  if (filter.ip && address_matches(record.connected, *filter.ip, filter.port)) return true;
  const auto target = split_host_port(record.target);
  if (!target) return false;
  if (filter.port && target->port != filter.port) return false;
  const auto target_ip = SocketAddress::parse_ip(target->host, 0);
  if (filter.ip) return target_ip && same_ip(*target_ip, *filter.ip);
  return !target_ip && normalize_name(target->host) == filter.name;
}

bool matches(const Query& q, const TrailRecord& r) {
  if (q.tenant && r.tenant != *q.tenant) return false;
  if (q.source && !address_matches(r.source, q.source->ip, q.source->port)) return false;
  if (q.dest && !dest_matches(*q.dest, r)) return false;
  const int64_t start = epoch_ms(r.time);
  const int64_t end = saturating_add(start, r.duration_ms);
  if (q.from_ms && end < *q.from_ms) return false;
  if (q.to_ms && start > *q.to_ms) return false;
  return true;
}

// Text from the trail, safe for a terminal: control characters, C1 controls
// and invalid UTF-8 become \xNN.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char c) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  };
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f || c == '\\') {
        c == '\\' ? void(out += "\\\\") : escape(c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    }
    bool valid = len != 0 && i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) valid = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (valid) {
      // Overlong forms, surrogates, beyond U+10FFFF, C1 controls.
      if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
          (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F)) {
        valid = false;
      }
    }
    if (!valid) {
      escape(c);
      ++i;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  return out;
}

std::string format_duration_ms(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03llds", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  return buf;
}

std::string human_line(const TrailRecord& r) {
  char reply[8] = "-";  // no reply was sent
  if (r.reply) std::snprintf(reply, sizeof reply, "0x%02x", *r.reply);
  std::string line = rfc3339_ms(r.time);
  line += " tenant=" + printable(r.tenant);
  line += " via=" + printable(r.via);
  line += " peer=" + printable(r.peer);
  line += (r.via == "socks5" ? " user=" : " key=") + printable(r.credential);
  line += " target=" + printable(r.target);
  line += " -> " + (r.connected ? printable(*r.connected) : std::string("-"));
  line += " from " + (r.source ? printable(*r.source) : std::string("-"));
  line += std::string(" reply=") + reply;
  line += " up=" + std::to_string(r.bytes_up);
  line += " down=" + std::to_string(r.bytes_down);
  line += " duration=" + format_duration_ms(r.duration_ms);
  line += " end=" + printable(r.end);
  return line;
}

// Lines of at most kMaxLine bytes from a stream, without their '\n'.
class LineReader {
 public:
  explicit LineReader(std::istream& in) : in_(in) {}

  // False at the end of the input. A longer line is cut and `too_long` set.
  bool next(std::string& line, bool& too_long) {
    line.clear();
    too_long = false;
    bool any = false;
    for (;;) {
      if (pos_ == len_) {
        if (done_) return any;
        in_.read(buf_, sizeof buf_);
        len_ = static_cast<size_t>(in_.gcount());
        pos_ = 0;
        if (in_.bad()) failed_ = true;
        if (!in_) done_ = true;
        if (len_ == 0) return any;
        continue;
      }
      any = true;
      const char* start = buf_ + pos_;
      const auto* newline = static_cast<const char*>(std::memchr(start, '\n', len_ - pos_));
      const size_t n = newline ? static_cast<size_t>(newline - start) : len_ - pos_;
      if (!too_long) {
        const size_t room = kMaxLine - line.size();
        line.append(start, std::min(n, room));
        too_long = n > room;
      }
      pos_ += n;
      if (newline) {
        ++pos_;
        return true;
      }
    }
  }

  bool failed() const { return failed_; }

 private:
  std::istream& in_;
  char buf_[64 * 1024];
  size_t pos_ = 0;
  size_t len_ = 0;
  bool done_ = false;
  bool failed_ = false;
};

bool is_gzip(std::string_view head) {
  return head.size() >= 2 && head[0] == '\x1f' && head[1] == '\x8b';
}

std::string gzip_hint(const std::string& file) {
  return file + " is gzip-compressed: run  zcat " + file + " | mxegress-server trail - ...";
}

// Checks each FILE before printing anything, so a typo fails fast.
std::string check_file(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return "cannot read " + file + ": " + std::strerror(errno);
  if (S_ISDIR(st.st_mode)) return "cannot read " + file + ": is a directory";
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot read " + file + ": " + std::strerror(errno);
  char head[2] = {};
  in.read(head, 2);
  if (in.bad()) return "cannot read " + file + ": " + std::strerror(errno);
  if (is_gzip(std::string_view(head, static_cast<size_t>(in.gcount())))) return gzip_hint(file);
  return {};
}

// The usage error text, or empty with `q` filled in.
std::string parse_args(const std::vector<std::string>& args, Query& q, bool& help) {
  std::optional<int64_t> around, since, until;
  std::optional<std::chrono::milliseconds> window;
  bool seen_tenant = false, seen_source = false, seen_dest = false, options_done = false;

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg == "-" || arg.empty() || arg[0] != '-') {
      if (arg.empty()) return "an empty file name";
      q.files.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      help = true;
      return {};
    }
    if (arg == "--json") {
      q.json = true;
      continue;
    }
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    static constexpr std::string_view kValued[] = {"--tenant", "--source", "--dest", "--around",
                                                   "--window", "--since",  "--until"};
    if (std::find(std::begin(kValued), std::end(kValued), name) == std::end(kValued)) {
      return "unknown option " + arg;
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= args.size()) return name + " needs a value";
      value = args[++i];
    }
    auto twice = [&](bool seen) { return seen ? name + " given twice" : std::string(); };
    if (name == "--tenant") {
      if (seen_tenant) return twice(true);
      seen_tenant = true;
      if (value.empty()) return "--tenant needs a name";
      q.tenant = value;
    } else if (name == "--source") {
      if (seen_source) return twice(true);
      seen_source = true;
      q.source = parse_address_filter(value);
      if (!q.source) return "--source: not an IP address (or IP:PORT): " + value;
    } else if (name == "--dest") {
      if (seen_dest) return twice(true);
      seen_dest = true;
      q.dest = parse_dest_filter(value);
      if (!q.dest)
        return "--dest: not a host name or IP address (with an optional :PORT): " + value;
    } else if (name == "--window") {
      if (window) return twice(true);
      window = parse_duration(value);
      if (!window) return "--window: not a duration (30s, 15m, 2h, 1d): " + value;
    } else {
      auto& slot = name == "--around" ? around : name == "--since" ? since : until;
      if (slot) return twice(true);
      slot = parse_time_arg(value);
      if (!slot) {
        return name + ": not an RFC 3339 time (2026-11-22T20:30:00Z, " +
               "2026-11-22T21:30:00.250+01:00): " + value;
      }
    }
  }

  if (q.files.empty()) return "no trail FILE given (- for standard input)";
  if (window && !around) return "--window needs --around";
  if (since && until && *since > *until) return "--since is after --until";
  if (around) {
    const int64_t half = (window ? *window : std::chrono::minutes(15)).count();
    q.from_ms = saturating_add(*around, -half);
    q.to_ms = saturating_add(*around, half);
  }
  if (since) q.from_ms = q.from_ms ? std::max(*q.from_ms, *since) : *since;
  if (until) q.to_ms = q.to_ms ? std::min(*q.to_ms, *until) : *until;
  int stdin_count = 0;
  for (const auto& file : q.files) stdin_count += file == "-";
  if (stdin_count > 1) return "- (standard input) given more than once";
  return {};
}

}  // namespace

int run_trail_query(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  constexpr std::string_view kPrefix = "mxegress-server trail: ";
  Query q;
  bool help = false;
  if (std::string usage_error = parse_args(args, q, help); !usage_error.empty()) {
    err << kPrefix << usage_error << "\n" << kSynopsis;
    return 2;
  }
  if (help) {
    out << kSynopsis << kDetails;
    return 0;
  }
  for (const auto& file : q.files) {
    if (file == "-") continue;
    if (std::string problem = check_file(file); !problem.empty()) {
      err << kPrefix << problem << "\n";
      return 2;
    }
  }

  bool matched = false;
  bool unreadable = false;
  int malformed = 0;
  for (const auto& file : q.files) {
    const std::string label = file == "-" ? "(stdin)" : file;
    std::ifstream opened;
    std::istream* in = &std::cin;
    if (file != "-") {
      opened.open(file, std::ios::binary);
      if (!opened) {
        err << kPrefix << "cannot read " << file << ": " << std::strerror(errno) << "\n";
        unreadable = true;
        continue;
      }
      in = &opened;
    }
    LineReader reader(*in);
    std::string line;
    bool too_long = false;
    uint64_t number = 0;
    while (reader.next(line, too_long)) {
      ++number;
      if (number == 1 && is_gzip(line)) {
        err << kPrefix
            << (file == "-" ? "standard input is gzip-compressed: pipe it through zcat"
                            : gzip_hint(file))
            << "\n";
        unreadable = true;
        break;
      }
      std::string problem;
      std::optional<TrailRecord> record;
      if (too_long) {
        problem = "longer than " + std::to_string(kMaxLine) + " bytes";
      } else if (line.find_first_not_of(" \t\r") == std::string::npos) {
        continue;  // blank
      } else {
        record = parse_trail_line(line, problem);
      }
      if (!record) {
        if (++malformed <= kMaxMalformedReports) {
          err << kPrefix << label << ":" << number << ": malformed line skipped: " << problem
              << "\n";
        }
        continue;
      }
      if (!matches(q, *record)) continue;
      matched = true;
      if (q.json) {
        out << line << "\n";
      } else {
        out << human_line(*record) << "\n";
      }
    }
    if (reader.failed()) {
      err << kPrefix << "cannot read " << label << " after line " << number << ": "
          << std::strerror(errno) << "\n";
      unreadable = true;
    }
  }
  if (malformed > kMaxMalformedReports) {
    err << kPrefix << (malformed - kMaxMalformedReports) << " more malformed lines skipped\n";
  }
  out.flush();
  if (unreadable) return 2;
  return matched ? 0 : 1;
}

}  // namespace mx
