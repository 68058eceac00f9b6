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
#include "trail_filter.h"
#include "trail_summary.h"
#include "trail_text.h"

namespace mx {
namespace {

constexpr const char* kSynopsis =
    R"(usage: mxegress-server trail FILE... [--tenant NAME] [--source IP[:PORT]]
           [--dest HOST|IP[:PORT]] [--around TIME [--window DURATION]]
           [--since TIME] [--until TIME] [--provider NAME] [--banner CODE]
           [--json | --count-by FIELDS]
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
  --provider NAME      sessions to that provider (an MX's registrable domain,
                       or a rollup name such as microsoft, google, yahoo)
  --banner CODE        sessions whose MX greeted with CODE (554) or a class
                       of codes (5xx, 4xx, 2xx); only observed SMTP sessions
                       (docs/smtp-health.md) have a banner
  --json               print the matching trail lines unchanged
  --count-by FIELDS    instead of lines, count the matching sessions by
                       FIELDS (tenant, source, provider; comma-separated):
                       sessions, observed SMTP sessions, banners by class,
                       STARTTLS offered and used

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

struct Query {
  std::vector<std::string> files;
  TrailFilter filter;
  bool json = false;
  std::optional<std::vector<TrailSummary::Field>> count_by;
};

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
  if (r.smtp) {
    line += " provider=" + printable(r.smtp->provider);
    line += " banner=" + std::to_string(r.smtp->banner);
    line += std::string(" starttls=") + starttls_word(*r.smtp);
  }
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
    static constexpr std::string_view kValued[] = {
        "--tenant", "--source", "--dest",     "--around", "--window",
        "--since",  "--until",  "--provider", "--banner", "--count-by"};
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
      q.filter.tenant = value;
    } else if (name == "--source") {
      if (seen_source) return twice(true);
      seen_source = true;
      q.filter.source = parse_address_filter(value);
      if (!q.filter.source) return "--source: not an IP address (or IP:PORT): " + value;
    } else if (name == "--dest") {
      if (seen_dest) return twice(true);
      seen_dest = true;
      q.filter.dest = parse_dest_filter(value);
      if (!q.filter.dest)
        return "--dest: not a host name or IP address (with an optional :PORT): " + value;
    } else if (name == "--provider") {
      if (q.filter.provider) return twice(true);
      if (value.empty()) return "--provider needs a name";
      q.filter.provider = value;
    } else if (name == "--banner") {
      if (q.filter.banner) return twice(true);
      q.filter.banner = parse_banner_filter(value);
      if (!q.filter.banner) return "--banner: not a reply code (554) or class (5xx): " + value;
    } else if (name == "--count-by") {
      if (q.count_by) return twice(true);
      q.count_by = TrailSummary::parse_fields(value);
      if (!q.count_by) {
        return "--count-by: not a comma-separated list of tenant, source, provider: " + value;
      }
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
  if (q.json && q.count_by) return "--json and --count-by exclude each other";
  if (window && !around) return "--window needs --around";
  if (since && until && *since > *until) return "--since is after --until";
  if (around) {
    const int64_t half = (window ? *window : std::chrono::minutes(15)).count();
    q.filter.from_ms = saturating_add(*around, -half);
    q.filter.to_ms = saturating_add(*around, half);
  }
  if (since) q.filter.from_ms = q.filter.from_ms ? std::max(*q.filter.from_ms, *since) : *since;
  if (until) q.filter.to_ms = q.filter.to_ms ? std::min(*q.filter.to_ms, *until) : *until;
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

  std::optional<TrailSummary> summary;
  if (q.count_by) summary.emplace(*q.count_by);
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
      if (!record && !too_long) {
        if (auto note = parse_lost_note(line)) {
          err << kPrefix << label << ":" << number << ": " << note->lines
              << " trail lines were lost between " << printable(note->from) << " and "
              << printable(note->until) << " (the server could not write the trail)\n";
          continue;
        }
      }
      if (!record) {
        if (++malformed <= kMaxMalformedReports) {
          err << kPrefix << label << ":" << number
              << ": malformed line skipped: " << printable(problem) << "\n";
        }
        continue;
      }
      if (!matches(q.filter, *record)) continue;
      matched = true;
      if (summary) {
        summary->add(*record);
      } else if (q.json) {
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
  if (summary && matched) summary->print(out);
  out.flush();
  if (unreadable) return 2;
  return matched ? 0 : 1;
}

}  // namespace mx
