#include "trail_query.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

#include "json_line.h"
#include "trail.h"

namespace mx {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// 2026-11-22T20:30:00Z
const WallTime kT = WallTime{} + seconds(1795379400);

TrailRecord record(std::string end, WallTime time = kT) {
  TrailRecord r;
  r.time = time;
  r.tenant = "acme";
  r.via = "tunnel";
  r.peer = "198.51.100.7:40000";
  r.credential = "Zm9vYmFy";
  r.target = "mx.example.org:25";
  r.connected = "192.0.2.25:25";
  r.source = "203.0.113.10:41234";
  r.reply = 0;
  r.bytes_up = 1234;
  r.bytes_down = 5678;
  r.duration_ms = 0;
  r.end = std::move(end);
  return r;
}

// --- the command -------------------------------------------------------

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class TrailQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mx-trailq-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  std::string write_records(const std::string& name, const std::vector<TrailRecord>& records) {
    std::string text;
    for (const auto& r : records) text += to_json_line(r);
    return write(name, text);
  }

  static Result run(const std::vector<std::string>& args) {
    std::ostringstream out, err;
    Result result;
    result.code = run_trail_query(args, out, err);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  // The "end" of each line a --json run printed: which records matched.
  static std::vector<std::string> ends(const Result& result) {
    std::vector<std::string> out;
    std::istringstream lines(result.out);
    std::string line, error;
    while (std::getline(lines, line)) {
      const auto r = parse_trail_line(line, error);
      EXPECT_TRUE(r) << line << ": " << error;
      if (r) out.push_back(r->end);
    }
    return out;
  }

  // Runs with --json on `file` plus the filter arguments; the ends matched.
  static std::vector<std::string> query(const std::string& file, std::vector<std::string> args) {
    args.insert(args.begin(), file);
    args.push_back("--json");
    const Result result = run(args);
    EXPECT_EQ(result.code, result.out.empty() ? 1 : 0) << result.err;
    EXPECT_EQ(result.err, "");
    return ends(result);
  }

  // Four connections of two tenants.
  std::string sample() {
    TrailRecord r1 = record("r1", kT);
    r1.duration_ms = 2000;
    TrailRecord r2 = record("r2", kT + minutes(1));
    r2.target = "[2001:db8::25]:25";
    r2.connected = "[2001:db8::25]:25";
    r2.source = "[2001:db8::10]:50000";
    TrailRecord r3 = record("r3", kT + minutes(2));
    r3.tenant = "beta";
    r3.via = "socks5";
    r3.credential = "exim";
    r3.target = "192.0.2.99:25";
    r3.connected.reset();
    r3.source.reset();
    r3.reply = 2;
    TrailRecord r4 = record("r4", kT - hours(1));
    r4.tenant = "beta";
    r4.target = "Mx.Example.ORG.:587";
    r4.connected = "192.0.2.26:587";
    r4.source = "203.0.113.20:1000";
    return write_records("trail.json", {r1, r2, r3, r4});
  }

  fs::path dir_;
};

using Ends = std::vector<std::string>;

TEST_F(TrailQueryTest, NoFilterPrintsEverything) {
  EXPECT_EQ(query(sample(), {}), (Ends{"r1", "r2", "r3", "r4"}));
}

TEST_F(TrailQueryTest, TenantFilterIsExact) {
  const std::string file = sample();
  EXPECT_EQ(query(file, {"--tenant", "acme"}), (Ends{"r1", "r2"}));
  EXPECT_EQ(query(file, {"--tenant=beta"}), (Ends{"r3", "r4"}));
  EXPECT_EQ(query(file, {"--tenant", "Acme"}), Ends{});
  EXPECT_EQ(query(file, {"--tenant", "acm"}), Ends{});
}

TEST_F(TrailQueryTest, SourceFilterMatchesTheEgressAddress) {
  const std::string file = sample();
  EXPECT_EQ(query(file, {"--source", "203.0.113.10"}), (Ends{"r1"}));
  EXPECT_EQ(query(file, {"--source", "203.0.113.10:41234"}), (Ends{"r1"}));
  EXPECT_EQ(query(file, {"--source", "203.0.113.10:41235"}), Ends{});
  EXPECT_EQ(query(file, {"--source", "203.0.113.20"}), (Ends{"r4"}));
  // IPv6 in any spelling, with or without brackets and port.
  EXPECT_EQ(query(file, {"--source", "2001:db8::10"}), (Ends{"r2"}));
  EXPECT_EQ(query(file, {"--source", "2001:0db8:0:0::10"}), (Ends{"r2"}));
  EXPECT_EQ(query(file, {"--source", "[2001:db8::10]"}), (Ends{"r2"}));
  EXPECT_EQ(query(file, {"--source", "[2001:db8::10]:50000"}), (Ends{"r2"}));
  EXPECT_EQ(query(file, {"--source", "[2001:db8::10]:1"}), Ends{});
  // The source is our address, not the destination nor the peer.
  EXPECT_EQ(query(file, {"--source", "192.0.2.25"}), Ends{});
  EXPECT_EQ(query(file, {"--source", "198.51.100.7"}), Ends{});
}

TEST_F(TrailQueryTest, SourceFilterSeesThroughIpv4MappedAddresses) {
  TrailRecord r = record("mapped");
  r.source = "[::ffff:203.0.113.30]:4000";
  const std::string file = write_records("mapped.json", {r});
  EXPECT_EQ(query(file, {"--source", "203.0.113.30"}), (Ends{"mapped"}));
  EXPECT_EQ(query(file, {"--source", "::ffff:203.0.113.30"}), (Ends{"mapped"}));
}

TEST_F(TrailQueryTest, DestFilterMatchesConnectedOrTarget) {
  const std::string file = sample();
  // The address dialed (the target was a name).
  EXPECT_EQ(query(file, {"--dest", "192.0.2.25"}), (Ends{"r1"}));
  EXPECT_EQ(query(file, {"--dest", "192.0.2.25:25"}), (Ends{"r1"}));
  EXPECT_EQ(query(file, {"--dest", "192.0.2.25:26"}), Ends{});
  // The target as asked (refused: nothing dialed).
  EXPECT_EQ(query(file, {"--dest", "192.0.2.99"}), (Ends{"r3"}));
  EXPECT_EQ(query(file, {"--dest", "192.0.2.99:25"}), (Ends{"r3"}));
  // IPv6 spellings.
  EXPECT_EQ(query(file, {"--dest", "2001:db8::25"}), (Ends{"r2"}));
  EXPECT_EQ(query(file, {"--dest", "[2001:db8:0::25]"}), (Ends{"r2"}));
  EXPECT_EQ(query(file, {"--dest", "[2001:db8::25]:25"}), (Ends{"r2"}));
  EXPECT_EQ(query(file, {"--dest", "[2001:db8::25]:587"}), Ends{});
}

TEST_F(TrailQueryTest, DestFilterByHostName) {
  const std::string file = sample();
  // Case-insensitive, a trailing dot ignored, on both sides.
  EXPECT_EQ(query(file, {"--dest", "mx.example.org"}), (Ends{"r1", "r4"}));
  EXPECT_EQ(query(file, {"--dest", "MX.EXAMPLE.ORG."}), (Ends{"r1", "r4"}));
  EXPECT_EQ(query(file, {"--dest", "mx.example.org:587"}), (Ends{"r4"}));
  EXPECT_EQ(query(file, {"--dest", "mx.example.org:25"}), (Ends{"r1"}));
  // Whole names only.
  EXPECT_EQ(query(file, {"--dest", "example.org"}), Ends{});
  EXPECT_EQ(query(file, {"--dest", "mx.example"}), Ends{});
}

TEST_F(TrailQueryTest, FiltersCombine) {
  const std::string file = sample();
  EXPECT_EQ(query(file, {"--tenant", "acme", "--dest", "192.0.2.99"}), Ends{});
  EXPECT_EQ(query(file, {"--tenant", "beta", "--dest", "mx.example.org"}), (Ends{"r4"}));
  EXPECT_EQ(query(file, {"--source", "203.0.113.10", "--dest", "192.0.2.25", "--around",
                         "2026-11-22T20:40:00Z"}),
            (Ends{"r1"}));
  EXPECT_EQ(query(file, {"--source", "203.0.113.10", "--dest", "192.0.2.25", "--around",
                         "2026-11-22T20:50:00Z"}),
            Ends{});
}

class TrailWindowTest : public TrailQueryTest {
 protected:
  std::string edges() {
    auto at = [](std::string end, WallTime time, milliseconds duration) {
      TrailRecord r = record(std::move(end), time);
      r.duration_ms = duration.count();
      return r;
    };
    return write_records(
        "edges.json", {
                          at("ends-before", kT - minutes(15) - milliseconds(1), milliseconds(0)),
                          at("starts-at-low-edge", kT - minutes(15), milliseconds(0)),
                          at("ends-at-low-edge", kT - minutes(20), minutes(5)),
                          at("ends-just-before", kT - minutes(20), minutes(5) - milliseconds(1)),
                          at("starts-at-high-edge", kT + minutes(15), milliseconds(0)),
                          at("starts-after", kT + minutes(15) + milliseconds(1), milliseconds(0)),
                          at("spans-it", kT - hours(2), hours(3)),
                          at("plus-30s", kT + seconds(30), milliseconds(0)),
                          at("minus-31s", kT - seconds(31), milliseconds(0)),
                      });
  }
};

TEST_F(TrailWindowTest, AroundDefaultsToFifteenMinutesEachSideEdgesIncluded) {
  EXPECT_EQ(query(edges(), {"--around", "2026-11-22T20:30:00Z"}),
            (Ends{"starts-at-low-edge", "ends-at-low-edge", "starts-at-high-edge", "spans-it",
                  "plus-30s", "minus-31s"}));
}

TEST_F(TrailWindowTest, AroundInAnyOffsetOrPrecision) {
  const std::string file = edges();
  const Ends expected = query(file, {"--around", "2026-11-22T20:30:00Z"});
  EXPECT_EQ(query(file, {"--around", "2026-11-22T21:30:00+01:00"}), expected);
  EXPECT_EQ(query(file, {"--around", "2026-11-22T20:30:00.000Z"}), expected);
  EXPECT_EQ(query(file, {"--around", "2026-11-22T20:30:00Z", "--window", "15m"}), expected);
  EXPECT_EQ(query(file, {"--around", "2026-11-22T20:30:00Z", "--window", "900s"}), expected);
}

TEST_F(TrailWindowTest, WindowNarrowsAndWidens) {
  const std::string file = edges();
  EXPECT_EQ(query(file, {"--around", "2026-11-22T20:30:00Z", "--window", "30s"}),
            (Ends{"spans-it", "plus-30s"}));
  EXPECT_EQ(query(file, {"--around", "2026-11-22T20:30:00Z", "--window", "0s"}),
            (Ends{"spans-it"}));
  EXPECT_EQ(query(file, {"--around", "2026-11-22T20:30:00Z", "--window", "1d"}).size(), 9u);
  // The window moves with the time: a minute later, "plus-30s" is still in,
  // "minus-31s" drops out of a 60 s window.
  EXPECT_EQ(query(file, {"--around", "2026-11-22T20:31:00Z", "--window=60s"}),
            (Ends{"spans-it", "plus-30s"}));
}

TEST_F(TrailWindowTest, SinceAndUntil) {
  const std::string file = edges();
  EXPECT_EQ(query(file, {"--since", "2026-11-22T20:45:00Z"}),
            (Ends{"starts-at-high-edge", "starts-after", "spans-it"}));
  EXPECT_EQ(query(file, {"--until", "2026-11-22T20:15:00Z"}),
            (Ends{"ends-before", "starts-at-low-edge", "ends-at-low-edge", "ends-just-before",
                  "spans-it"}));
  EXPECT_EQ(query(file, {"--since", "2026-11-22T20:29:00Z", "--until", "2026-11-22T20:30:30Z"}),
            (Ends{"spans-it", "plus-30s", "minus-31s"}));
  // With --around: both apply.
  EXPECT_EQ(query(file, {"--around", "2026-11-22T20:30:00Z", "--since", "2026-11-22T20:30:00Z"}),
            (Ends{"starts-at-high-edge", "spans-it", "plus-30s"}));
  // A date alone is its midnight UTC.
  EXPECT_EQ(query(file, {"--since", "2026-11-23"}), Ends{});
  EXPECT_EQ(query(file, {"--until", "2026-11-22"}), Ends{});
  EXPECT_EQ(query(file, {"--since", "2026-11-22"}).size(), 9u);
}

TEST_F(TrailQueryTest, HumanOutput) {
  TrailRecord r = record("closed", kT + milliseconds(123));
  r.duration_ms = 62005;
  TrailRecord s = record("max_connections 2 reached");
  s.tenant = "beta";
  s.via = "socks5";
  s.credential = "exim";
  s.connected.reset();
  s.source.reset();
  s.reply = 2;
  s.bytes_up = 0;
  s.bytes_down = 0;
  TrailRecord c = record("cancelled by the client before the reply");
  c.reply.reset();
  c.bytes_up = 0;
  c.bytes_down = 0;
  const Result result = run({write_records("t.json", {r, s, c})});
  EXPECT_EQ(result.code, 0);
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out,
            "2026-11-22T20:30:00.123Z tenant=acme via=tunnel peer=198.51.100.7:40000 key=Zm9vYmFy "
            "target=mx.example.org:25 -> 192.0.2.25:25 from 203.0.113.10:41234 reply=0x00 "
            "up=1234 down=5678 duration=62.005s end=closed\n"
            "2026-11-22T20:30:00.000Z tenant=beta via=socks5 peer=198.51.100.7:40000 user=exim "
            "target=mx.example.org:25 -> - from - reply=0x02 up=0 down=0 duration=0.000s "
            "end=max_connections 2 reached\n"
            "2026-11-22T20:30:00.000Z tenant=acme via=tunnel peer=198.51.100.7:40000 key=Zm9vYmFy "
            "target=mx.example.org:25 -> 192.0.2.25:25 from 203.0.113.10:41234 reply=- up=0 "
            "down=0 duration=0.000s end=cancelled by the client before the reply\n");
}

TEST_F(TrailQueryTest, HumanOutputIsSafeForATerminal) {
  // The writer turns the ill-formed \xff into U+FFFD; the rest comes back as
  // it was and is escaped for the terminal.
  TrailRecord r = record(
      "evil\x1b]0;title\x07 \xc2\x9b"
      "31m \xff caf\xc3\xa9 back\\slash\nnext");
  const Result result = run({write_records("t.json", {r})});
  EXPECT_EQ(result.code, 0);
  const std::string tail = result.out.substr(result.out.find(" end=") + 5);
  EXPECT_EQ(
      tail,
      "evil\\x1b]0;title\\x07 \\xc2\\x9b31m \xef\xbf\xbd caf\xc3\xa9 back\\\\slash\\x0anext\n");
}

TEST_F(TrailQueryTest, AnOlderLineWithRawIllFormedBytesIsReadNotSkipped) {
  // What the writer wrote before it replaced ill-formed UTF-8: a raw 0xff.
  std::string line = to_json_line(record("closed"));
  line.replace(line.find("mx.example.org"), 2, "mx\xff");
  ASSERT_NE(line.find("\"target\":\"mx\xff.example.org:25\""), std::string::npos) << line;
  const std::string file = write("old.json", line);
  Result result = run({file, "--dest", "mx\xef\xbf\xbd.example.org"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_NE(result.out.find(" target=mx\xef\xbf\xbd.example.org:25 "), std::string::npos)
      << result.out;
  // --json prints the line as it is in the file.
  result = run({file, "--json"});
  EXPECT_EQ(result.code, 0);
  EXPECT_EQ(result.out, line);
}

TEST_F(TrailQueryTest, MalformedLineReportsAreSafeForATerminal) {
  const Result result =
      run({write("t.json", "{\"\\u001b[31m\":1,\"\\u001b[31m\":2}\n" + to_json_line(record("x")))});
  EXPECT_EQ(result.code, 0);
  EXPECT_NE(result.err.find("duplicate field \"\\x1b[31m\""), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find('\x1b'), std::string::npos) << result.err;
}

TEST_F(TrailQueryTest, JsonPrintsTheOriginalLines) {
  const std::string a = R"({ "time" : "2026-11-22T21:30:00+01:00", "tenant":"acme","via":"tunnel",)"
                        R"("peer":"p","key":"k","target":"mx.example.org:25","connected":null,)"
                        R"("source":null,"reply":2,"bytes_up":0,"bytes_down":0,"duration_ms":0,)"
                        R"("end":"caf\u00e9", "extra": 1 })";
  const std::string b = to_json_line(record("b"));
  const std::string file = write("t.json", a + "\n" + b);
  const Result result = run({file, "--json"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, a + "\n" + b);
  EXPECT_EQ(result.err, "");
}

TEST_F(TrailQueryTest, SeveralFilesInOrder) {
  const std::string old_file = write_records("trail.json.1", {record("old-1"), record("old-2")});
  const std::string new_file = write_records("trail.json", {record("new-1")});
  const Result result = run({old_file, new_file, "--json"});
  EXPECT_EQ(result.code, 0);
  EXPECT_EQ(ends(result), (Ends{"old-1", "old-2", "new-1"}));
  // Options may come before, between and after the files; -- ends them.
  const Result mixed = run({"--json", old_file, "--tenant", "acme", "--", new_file});
  EXPECT_EQ(ends(mixed), (Ends{"old-1", "old-2", "new-1"}));
}

TEST_F(TrailQueryTest, ReadsStandardInput) {
  std::istringstream input(to_json_line(record("from-stdin")) + "garbage\n");
  std::streambuf* saved = std::cin.rdbuf(input.rdbuf());
  const Result result = run({"-", "--json"});
  std::cin.rdbuf(saved);
  std::cin.clear();
  EXPECT_EQ(result.code, 0);
  EXPECT_EQ(ends(result), (Ends{"from-stdin"}));
  EXPECT_EQ(result.err,
            "mxegress-server trail: (stdin):2: malformed line skipped: at byte 1: expected '{'\n");
}

TEST_F(TrailQueryTest, MalformedLinesAreReportedAndSkipped) {
  const std::string file = write(
      "t.json", to_json_line(record("one")) + "not json\n" + "\n" +
                    R"({"time":"2026-11-22T20:30:00Z"})" + "\n" + to_json_line(record("two")) +
                    "{\"partial\":");  // the last line, cut short, no newline
  const Result result = run({file, "--json"});
  EXPECT_EQ(result.code, 0);
  EXPECT_EQ(ends(result), (Ends{"one", "two"}));
  EXPECT_EQ(
      result.err,
      "mxegress-server trail: " + file + ":2: malformed line skipped: at byte 1: expected '{'\n" +
          "mxegress-server trail: " + file +
          ":4: malformed line skipped: field \"tenant\" missing\n" +
          "mxegress-server trail: " + file +
          ":6: malformed line skipped: at the end of the line: syntax error while parsing value - "
          "unexpected end of input; expected '[', '{', or a literal\n");
}

TEST_F(TrailQueryTest, OnlyMalformedLinesMatchNothing) {
  const Result result = run({write("t.json", "x\ny\n")});
  EXPECT_EQ(result.code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("t.json:2: malformed"), std::string::npos) << result.err;
}

TEST_F(TrailQueryTest, ReportsOfMalformedLinesAreCapped) {
  std::string text;
  for (int i = 0; i < 25; ++i) text += "bad\n";
  text += to_json_line(record("good"));
  const Result result = run({write("t.json", text), "--json"});
  EXPECT_EQ(result.code, 0);
  EXPECT_EQ(ends(result), (Ends{"good"}));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 21);
  EXPECT_NE(result.err.find("t.json:20: malformed"), std::string::npos);
  EXPECT_EQ(result.err.find("t.json:21: malformed"), std::string::npos);
  EXPECT_NE(result.err.find("5 more malformed lines skipped"), std::string::npos) << result.err;
}

TEST_F(TrailQueryTest, OverlongLineIsMalformed) {
  const std::string file =
      write("t.json", std::string(2 << 20, 'x') + "\n" + to_json_line(record("after")));
  const Result result = run({file, "--json"});
  EXPECT_EQ(result.code, 0);
  EXPECT_EQ(ends(result), (Ends{"after"}));
  EXPECT_NE(result.err.find(":1: malformed line skipped: longer than 1048576 bytes"),
            std::string::npos)
      << result.err;
}

TEST_F(TrailQueryTest, ExitCodes) {
  const std::string file = sample();
  EXPECT_EQ(run({file}).code, 0);
  EXPECT_EQ(run({file, "--tenant", "nobody"}).code, 1);
  EXPECT_EQ(run({write("empty.json", "")}).code, 1);
  EXPECT_EQ(run({file, "--bogus"}).code, 2);
}

TEST_F(TrailQueryTest, Help) {
  for (const char* flag : {"--help", "-h"}) {
    const Result result = run({flag});
    EXPECT_EQ(result.code, 0);
    EXPECT_EQ(result.err, "");
    EXPECT_EQ(result.out.rfind("usage: mxegress-server trail FILE...", 0), 0u) << result.out;
    EXPECT_NE(result.out.find("--around TIME"), std::string::npos);
    EXPECT_NE(result.out.find("--window DURATION"), std::string::npos);
  }
}

TEST_F(TrailQueryTest, UsageErrors) {
  const std::string file = sample();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "no trail FILE given"},
      {{"--tenant", "acme"}, "no trail FILE given"},
      {{file, "--bogus"}, "unknown option --bogus"},
      {{file, "--tenant"}, "--tenant needs a value"},
      {{file, "--tenant", "a", "--tenant", "b"}, "--tenant given twice"},
      {{file, "--source", "mx.example.org"}, "--source: not an IP address"},
      {{file, "--source", "203.0.113.10:99999"}, "--source: not an IP address"},
      {{file, "--dest", ""}, "--dest: not a host name"},
      {{file, "--dest", "[mx.example.org]:25"}, "--dest: not a host name"},
      {{file, "--dest", "mx.example.org:x"}, "--dest: not a host name"},
      {{file, "--around", "yesterday"}, "--around: not an RFC 3339 time"},
      {{file, "--around", "2026-11-22T20:30:00"}, "--around: not an RFC 3339 time"},
      {{file, "--since", "2026-02-30"}, "--since: not an RFC 3339 time"},
      {{file, "--window", "15m"}, "--window needs --around"},
      {{file, "--around", "2026-11-22T20:30:00Z", "--window", "15"}, "--window: not a duration"},
      {{file, "--around", "2026-11-22T20:30:00Z", "--window", "-5m"}, "--window: not a duration"},
      {{file, "--since", "2026-11-23T00:00:00Z", "--until", "2026-11-22T00:00:00Z"},
       "--since is after --until"},
      {{"-", "-"}, "- (standard input) given more than once"},
      {{file, "--json=yes"}, "unknown option --json=yes"},
  };
  for (const auto& [args, message] : cases) {
    const Result result = run(args);
    EXPECT_EQ(result.code, 2) << message;
    EXPECT_EQ(result.out, "") << message;
    EXPECT_NE(result.err.find("mxegress-server trail: " + message), std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("usage: mxegress-server trail"), std::string::npos) << message;
  }
}

TEST_F(TrailQueryTest, UnreadableInputFailsBeforePrintingAnything) {
  const std::string file = sample();
  const std::string missing = (dir_ / "missing.json").string();
  Result result = run({file, missing});
  EXPECT_EQ(result.code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err,
            "mxegress-server trail: cannot read " + missing + ": No such file or directory\n");

  result = run({file, dir_.string()});
  EXPECT_EQ(result.code, 2);
  EXPECT_EQ(result.err,
            "mxegress-server trail: cannot read " + dir_.string() + ": is a directory\n");

  const std::string gz = write("trail.json.1.gz", std::string("\x1f\x8b\x08\x00junk", 8));
  result = run({gz});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find(gz + " is gzip-compressed"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("zcat"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace mx
