// Log lines: the JSON line (fields as members; util/json_string escapes), the text
// rendering (unchanged by structured fields), the journal's "<N>" prefix and
// when it applies.
#include "mxegress/util/log.h"

#include <gtest/gtest.h>

#include <optional>
#include <regex>
#include <string>

namespace mx {
namespace {

using testing::internal::CaptureStderr;
using testing::internal::GetCapturedStderr;

// The line a MX_LOG statement writes, made by `log` with format `format`.
template <class Log>
std::string captured_line(LogFormat format, Log log) {
  const LogFormat old_format = log_format();
  set_log_format(format);
  set_log_level(LogLevel::Debug);
  CaptureStderr();
  log();
  std::string line = GetCapturedStderr();
  set_log_format(old_format);
  set_log_level(LogLevel::Info);
  return line;
}

const std::string kTime = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)";

TEST(FormatLogLine, JsonHasTimeLevelComponentMessageAndFields) {
  LogRecord r;
  r.time = "2026-12-06T03:00:00.123Z";
  r.level = LogLevel::Warn;
  r.component = "tunnel";
  r.message = "auth failed";
  r.fields = {log_kv("peer", std::string("192.0.2.7:40112")), log_kv("sessions", 3),
              log_kv("reason", "unknown key \"x\""), log_kv("reply", std::optional<int>())};
  EXPECT_EQ(format_log_line(LogFormat::Json, false, r),
            R"({"time":"2026-12-06T03:00:00.123Z","level":"warn","component":"tunnel",)"
            R"("message":"auth failed","peer":"192.0.2.7:40112","sessions":3,)"
            R"("reason":"unknown key \"x\"","reply":null})"
            "\n");
  EXPECT_EQ(format_log_line(LogFormat::Json, true, r).substr(0, 4), "<4>{");
}

TEST(FormatLogLine, TextIsTimeLevelColumnComponentAndText) {
  LogRecord r;
  r.time = "2026-12-06T03:00:00.123Z";
  r.level = LogLevel::Info;
  r.component = "server";
  r.text = "listening on 127.0.0.1:8443";
  EXPECT_EQ(format_log_line(LogFormat::Text, false, r),
            "2026-12-06T03:00:00.123Z info  server: listening on 127.0.0.1:8443\n");
  r.level = LogLevel::Error;
  EXPECT_EQ(format_log_line(LogFormat::Text, true, r),
            "<3>2026-12-06T03:00:00.123Z error server: listening on 127.0.0.1:8443\n");
}

TEST(LogKv, TextRenderingIsTheOldKeyValueText) {
  const std::string peer = "192.0.2.7:40112";
  const std::string line = captured_line(LogFormat::Text, [&] {
    MX_LOG(Warn, "tunnel") << "auth failed" << log_kv("peer", peer)
                           << log_kv("reason", "unknown key abc=");
  });
  // As `"auth failed peer=" << peer << " reason=" << log_field(why)` wrote it.
  EXPECT_TRUE(std::regex_match(
      line, std::regex(kTime + R"( warn  tunnel: auth failed peer=192\.0\.2\.7:40112 )"
                               R"(reason="unknown key abc="\n)")))
      << line;
}

TEST(LogKv, TextFieldsAtTheStartAndNumbersOptionalsAndJsonOnlyFields) {
  const std::string line = captured_line(LogFormat::Text, [&] {
    MX_LOG(Info, "session") << log_kv("tenant", "acme") << log_kv("reply", std::optional<int>(0))
                            << log_kv("source", std::optional<std::string>())
                            << log_json_kv("key", "AAAA") << log_kv("bytes_up", uint64_t{12})
                            << " closed: " << "why";
  });
  EXPECT_TRUE(std::regex_match(
      line, std::regex(kTime + R"( info  session: tenant=acme reply=0 source=- bytes_up=12 )"
                               R"(closed: why\n)")))
      << line;
}

TEST(LogKv, JsonLineHasTheFieldsAsMembersAndTheRestAsMessage) {
  const std::string line = captured_line(LogFormat::Json, [&] {
    MX_LOG(Debug, "socks5") << log_kv("peer", "127.0.0.1:5000") << log_json_kv("user", "gw")
                            << " login failed for user \"gw\": bad password \xff";
  });
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\{"time":")" + kTime +
                       R"(","level":"debug","component":"socks5",)"
                       R"("message":"login failed for user \\"gw\\": bad password )" "\xef\xbf\xbd" R"(",)"
                       R"("peer":"127.0.0.1:5000","user":"gw"\}\n)")))
      << line;
}

TEST(LogLine, DisabledLevelsWriteNothing) {
  set_log_level(LogLevel::Warn);
  CaptureStderr();
  MX_LOG(Info, "x") << "not shown" << log_kv("a", 1);
  EXPECT_EQ(GetCapturedStderr(), "");
  set_log_level(LogLevel::Info);
}

TEST(JournalStream, MatchesOnlyStderrsOwnDeviceAndInode) {
  EXPECT_TRUE(journal_stream_matches("2049:123456", 2049, 123456));
  EXPECT_TRUE(journal_stream_matches("18446744073709551615:1", 18446744073709551615ull, 1));
  EXPECT_FALSE(journal_stream_matches(nullptr, 2049, 123456));       // not under systemd
  EXPECT_FALSE(journal_stream_matches("2049:123457", 2049, 123456));  // stderr redirected
  EXPECT_FALSE(journal_stream_matches("2048:123456", 2049, 123456));
  EXPECT_FALSE(journal_stream_matches("", 0, 0));
  EXPECT_FALSE(journal_stream_matches(":", 0, 0));
  EXPECT_FALSE(journal_stream_matches("2049", 2049, 0));
  EXPECT_FALSE(journal_stream_matches("2049:", 2049, 0));
  EXPECT_FALSE(journal_stream_matches("2049:123456x", 2049, 123456));
  EXPECT_FALSE(journal_stream_matches(" 2049:123456", 2049, 123456));
  EXPECT_FALSE(journal_stream_matches("-1:123456", 2049, 123456));
  EXPECT_FALSE(journal_stream_matches("2049:1:2", 2049, 1));
}

TEST(JournalStream, PrioritiesAreSdDaemonsLevels) {
  EXPECT_EQ(syslog_priority_prefix(LogLevel::Debug), "<7>");
  EXPECT_EQ(syslog_priority_prefix(LogLevel::Info), "<6>");
  EXPECT_EQ(syslog_priority_prefix(LogLevel::Warn), "<4>");
  EXPECT_EQ(syslog_priority_prefix(LogLevel::Error), "<3>");
}

}  // namespace
}  // namespace mx
