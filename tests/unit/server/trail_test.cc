#include "trail.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace mx {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// 2026-11-22T20:30:00Z
const WallTime kTime = WallTime{} + seconds(1795379400);

TrailRecord tunnel_record() {
  TrailRecord r;
  r.time = kTime + milliseconds(123);
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
  r.duration_ms = 2345;
  r.end = "closed";
  return r;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(TrailJson, SuccessfulTunnelConnection) {
  EXPECT_EQ(to_json_line(tunnel_record()),
            R"({"time":"2026-11-22T20:30:00.123Z","tenant":"acme","via":"tunnel",)"
            R"("peer":"198.51.100.7:40000","key":"Zm9vYmFy","target":"mx.example.org:25",)"
            R"("connected":"192.0.2.25:25","source":"203.0.113.10:41234","reply":0,)"
            R"("bytes_up":1234,"bytes_down":5678,"duration_ms":2345,"end":"closed"})"
            "\n");
}

TEST(TrailJson, RefusedSocks5ConnectionWithNullsAndEscapes) {
  TrailRecord r;
  r.time = kTime;
  r.tenant = "beta";
  r.via = "socks5";
  r.peer = "[2001:db8::7]:5000";
  r.credential = "we\"ird\\user";
  r.target = "[2001:db8::25]:25";
  r.reply = 2;
  r.end = "line1\nline2\r\ttab \x01\x1f end";
  EXPECT_EQ(to_json_line(r),
            R"({"time":"2026-11-22T20:30:00.000Z","tenant":"beta","via":"socks5",)"
            R"("peer":"[2001:db8::7]:5000","user":"we\"ird\\user","target":"[2001:db8::25]:25",)"
            R"("connected":null,"source":null,"reply":2,"bytes_up":0,"bytes_down":0,)"
            R"("duration_ms":0,"end":"line1\nline2\r\ttab \u0001\u001f end"})"
            "\n");
}

TEST(TrailJson, ADialCancelledBeforeTheReplyHasANullReply) {
  TrailRecord r = tunnel_record();
  r.reply.reset();
  r.bytes_up = 0;
  r.bytes_down = 0;
  r.end = "cancelled by the client before the reply";
  const std::string line = to_json_line(r);
  EXPECT_NE(line.find(R"("source":"203.0.113.10:41234","reply":null,"bytes_up":0,)"),
            std::string::npos)
      << line;
}

TEST(TrailJson, NonAsciiPassesThroughUnescaped) {
  TrailRecord r = tunnel_record();
  r.end = "caf\xc3\xa9 / slash";
  const std::string line = to_json_line(r);
  EXPECT_NE(line.find(R"("end":"caf)"
                      "\xc3\xa9"
                      R"( / slash"})"),
            std::string::npos)
      << line;
}

TEST(TrailJson, OneLineEachWhateverTheContent) {
  TrailRecord r = tunnel_record();
  r.target = "a\nb";
  r.end = "x\ny\r\n";
  const std::string line = to_json_line(r);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_EQ(line.find('\r'), std::string::npos);
}

TEST(Rfc3339Ms, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(rfc3339_ms(WallTime{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339_ms(kTime), "2026-11-22T20:30:00.000Z");
  EXPECT_EQ(rfc3339_ms(kTime + milliseconds(5)), "2026-11-22T20:30:00.005Z");
  EXPECT_EQ(rfc3339_ms(kTime + milliseconds(999)), "2026-11-22T20:30:00.999Z");
  // Finer than a millisecond: truncated, never rounded up into the next second.
  EXPECT_EQ(rfc3339_ms(kTime + nanoseconds(999'999'999)), "2026-11-22T20:30:00.999Z");
  EXPECT_EQ(rfc3339_ms(kTime + nanoseconds(1'999'999)), "2026-11-22T20:30:00.001Z");
  // 2024-02-29T23:59:59.250Z
  EXPECT_EQ(rfc3339_ms(WallTime{} + seconds(1709251199) + milliseconds(250)),
            "2024-02-29T23:59:59.250Z");
}

class TrailWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mx-trail-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
};

TEST_F(TrailWriterTest, AppendsOneLinePerRecord) {
  const fs::path file = dir_ / "trail.json";
  std::ofstream(file) << "earlier line\n";
  TrailWriter writer;
  ASSERT_EQ(writer.open(file, false), "");
  TrailRecord a = tunnel_record();
  TrailRecord b = tunnel_record();
  b.tenant = "beta";
  b.connected.reset();
  writer.write(a);
  writer.write(b);
  EXPECT_EQ(read_file(file), "earlier line\n" + to_json_line(a) + to_json_line(b));
}

TEST_F(TrailWriterTest, IsEnabledOnlyWithAFileOrStdout) {
  TrailWriter writer;
  EXPECT_FALSE(writer.enabled());
  writer.write(tunnel_record());  // goes nowhere, harmlessly
  ASSERT_EQ(writer.open(dir_ / "trail.json", false), "");
  EXPECT_TRUE(writer.enabled());
  ASSERT_EQ(writer.open({}, false), "");  // a reload that drops the trail
  EXPECT_FALSE(writer.enabled());
  ASSERT_EQ(writer.open({}, true), "");
  EXPECT_TRUE(writer.enabled());
}

TEST_F(TrailWriterTest, CreatesTheFileNotWorldReadable) {
  const fs::path file = dir_ / "trail.json";
  TrailWriter writer;
  ASSERT_EQ(writer.open(file, false), "");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0007, 0u) << std::oct << st.st_mode;
  EXPECT_EQ(st.st_mode & 0111, 0u) << std::oct << st.st_mode;
}

TEST_F(TrailWriterTest, ReopenAfterRenameWritesToTheNewFile) {
  const fs::path file = dir_ / "trail.json";
  const fs::path rotated = dir_ / "trail.json.1";
  TrailWriter writer;
  ASSERT_EQ(writer.open(file, false), "");
  TrailRecord first = tunnel_record();
  writer.write(first);

  fs::rename(file, rotated);  // logrotate moves it...
  TrailRecord second = tunnel_record();
  second.tenant = "after-rename";
  writer.write(second);  // ...the old descriptor still writes to the moved file
  EXPECT_FALSE(fs::exists(file));

  ASSERT_EQ(writer.open(file, false), "");  // ...and SIGHUP reopens
  TrailRecord third = tunnel_record();
  third.tenant = "after-reopen";
  writer.write(third);

  EXPECT_EQ(read_file(rotated), to_json_line(first) + to_json_line(second));
  EXPECT_EQ(read_file(file), to_json_line(third));
}

TEST_F(TrailWriterTest, FailedOpenKeepsTheOldFile) {
  const fs::path file = dir_ / "trail.json";
  TrailWriter writer;
  ASSERT_EQ(writer.open(file, false), "");
  const fs::path bad = dir_ / "missing-dir" / "trail.json";
  const std::string err = writer.open(bad, false);
  EXPECT_NE(err.find(bad.string()), std::string::npos) << err;
  EXPECT_NE(err.find("No such file"), std::string::npos) << err;
  writer.write(tunnel_record());
  EXPECT_EQ(read_file(file), to_json_line(tunnel_record()));
}

TEST_F(TrailWriterTest, NothingConfiguredWritesNothing) {
  TrailWriter writer;
  writer.write(tunnel_record());  // no file yet: a no-op, no crash
  ASSERT_EQ(writer.open({}, false), "");
  writer.write(tunnel_record());
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace mx
