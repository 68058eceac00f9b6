// The abuse trail's lines read back: the JSON parser (nlohmann::json under
// our flat-object rules), RFC 3339 times, and trail records.
#include "json_line.h"

#include <gtest/gtest.h>

#include <limits>

#include "trail.h"

namespace mx {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 2026-11-22T20:30:00Z
const WallTime kT = WallTime{} + seconds(1795379400);

// --- the JSON line parser ----------------------------------------------

JsonObject parse_ok(std::string_view line) {
  std::string error;
  auto object = parse_json_object(line, error);
  EXPECT_TRUE(object.has_value()) << line << ": " << error;
  return object.value_or(JsonObject{});
}

std::string parse_error(std::string_view line) {
  std::string error;
  auto object = parse_json_object(line, error);
  EXPECT_FALSE(object.has_value()) << line;
  EXPECT_FALSE(error.empty()) << line;
  return error;
}

TEST(JsonLine, ParsesStringsIntegersAndNull) {
  const auto o = parse_ok(R"({"a":"x","b":-42,"c":null,"d":0,"e":""})");
  ASSERT_EQ(o.size(), 5u);
  EXPECT_EQ(o[0].first, "a");
  EXPECT_EQ(o[0].second.kind, JsonValue::Kind::String);
  EXPECT_EQ(o[0].second.string, "x");
  EXPECT_EQ(o[1].second.kind, JsonValue::Kind::Integer);
  EXPECT_EQ(o[1].second.integer, -42);
  EXPECT_EQ(o[2].second.kind, JsonValue::Kind::Null);
  EXPECT_EQ(o[3].second.integer, 0);
  EXPECT_EQ(o[4].second.kind, JsonValue::Kind::String);
  EXPECT_EQ(o[4].second.string, "");
}

TEST(JsonLine, ParsesBooleans) {
  const auto o = parse_ok(R"({"a":true,"b":false})");
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o[0].second.kind, JsonValue::Kind::Boolean);
  EXPECT_TRUE(o[0].second.boolean);
  EXPECT_EQ(o[1].second.kind, JsonValue::Kind::Boolean);
  EXPECT_FALSE(o[1].second.boolean);
}

TEST(JsonLine, EmptyObjectAndWhitespace) {
  EXPECT_TRUE(parse_ok("{}").empty());
  EXPECT_TRUE(parse_ok(" \t{ }\r").empty());
  const auto o = parse_ok(" { \"a\" :\t1 , \"b\" : \"2\" } \r\n");
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o[0].second.integer, 1);
  EXPECT_EQ(o[1].second.string, "2");
}

TEST(JsonLine, StringEscapes) {
  const auto o = parse_ok(R"({"s":"q\" b\\ s\/ \b\f\n\r\t end"})");
  EXPECT_EQ(o.at(0).second.string, "q\" b\\ s/ \b\f\n\r\t end");
}

TEST(JsonLine, UnicodeEscapes) {
  EXPECT_EQ(parse_ok(R"({"s":"\u0041\u00e9\u20AC"})").at(0).second.string, "A\xc3\xa9\xe2\x82\xac");
  // A surrogate pair is one code point, four UTF-8 bytes.
  EXPECT_EQ(parse_ok(R"({"s":"\ud83d\ude00"})").at(0).second.string, "\xf0\x9f\x98\x80");
  // NUL and control characters, as trail.cc writes them.
  EXPECT_EQ(parse_ok(R"({"s":"a\u0000b\u001f"})").at(0).second.string, std::string("a\0b\x1f", 4));
  // Raw UTF-8 passes through.
  EXPECT_EQ(parse_ok("{\"s\":\"caf\xc3\xa9\"}").at(0).second.string, "caf\xc3\xa9");
}

TEST(JsonLine, IntegerRange) {
  EXPECT_EQ(parse_ok(R"({"n":9223372036854775807})").at(0).second.integer,
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parse_ok(R"({"n":-9223372036854775808})").at(0).second.integer,
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(parse_ok(R"({"n":-0})").at(0).second.integer, 0);
  EXPECT_NE(parse_error(R"({"n":9223372036854775808})").find("out of range"), std::string::npos);
  EXPECT_NE(parse_error(R"({"n":-9223372036854775809})").find("out of range"), std::string::npos);
  EXPECT_NE(parse_error(R"({"n":99999999999999999999999})").find("out of range"),
            std::string::npos);
}

TEST(JsonLine, RejectsMalformedLines) {
  const char* const bad[] = {
      "",
      "   ",
      "{",
      "}",
      "[]",
      "\"a\"",
      "null",
      R"({"a":1)",
      R"({"a":1,})",
      R"({,"a":1})",
      R"({"a":1}x)",
      R"({"a":1}{"b":2})",
      R"({"a":1} ,)",
      R"({a:1})",
      R"({'a':1})",
      R"({"a" 1})",
      R"({"a":})",
      R"({"a":1.5})",
      R"({"a":1e3})",
      R"({"a":1E3})",
      R"({"a":01})",
      R"({"a":-})",
      R"({"a":+1})",
      R"({"a":- 1})",
      R"({"a":nul})",
      R"({"a":NULL})",
      R"({"a":nullx})",
      R"({"a":{}})",
      R"({"a":[1]})",
      R"({"a":"x)",
      R"({"a":"x\"})",
      R"({"a":"\x"})",
      R"({"a":"\U0041"})",
      R"({"a":"\u12"})",
      R"({"a":"\u12g4"})",
      R"({"a":"\ud800"})",
      R"({"a":"\ud800x"})",
      R"({"a":"\ud800\u0041"})",
      R"({"a":"\udc00"})",
      R"({"a":1,"a":2})",
      "{\"a\":\"tab\there\"}",
      "{\"a\":\"new\nline\"}",
      "{\"a\":1}\x01",
  };
  for (const char* line : bad) parse_error(line);
  // A raw NUL byte anywhere (string_view, not C string).
  parse_error(std::string_view("{\"a\":\"x\0y\"}", 11));
  parse_error(std::string_view("{\"a\":1}\0", 8));
}

TEST(JsonLine, ErrorsSayWhereAndWhat) {
  // Syntax errors: where, and nlohmann's words for what.
  EXPECT_EQ(parse_error(R"({"a" 1})"),
            "at byte 6: syntax error while parsing object separator - unexpected number "
            "literal; expected ':'");
  EXPECT_EQ(parse_error(R"({"a":1)"),
            "at the end of the line: syntax error while parsing object - unexpected end of "
            "input; expected '}'");
  EXPECT_EQ(parse_error(R"({"a":"\q"})"),
            R"(at byte 8: syntax error while parsing value - invalid string: forbidden )"
            R"(character after backslash; last read: '"\q')");
  EXPECT_EQ(parse_error(R"({"a":1} x)"),
            "at byte 9: syntax error while parsing value - invalid literal; last read: '1} "
            "x'; expected end of input");
  EXPECT_EQ(parse_error("x"), "at byte 1: expected '{'");
  EXPECT_EQ(parse_error("  x"), "at byte 3: expected '{'");
  EXPECT_EQ(parse_error(" "), "at the end of the line: expected '{'");
  // nlohmann alone would take a NUL byte for the end of the line.
  EXPECT_EQ(parse_error(std::string_view("{\"a\":1}\0{", 9)), "at byte 8: a NUL byte");
  // What a trail line may not hold: which field.
  EXPECT_EQ(parse_error(R"({"a":1,"a":2})"), "duplicate field \"a\"");
  EXPECT_EQ(parse_error(R"({"a":1.5})"), "field \"a\": only integers are allowed");
  EXPECT_EQ(parse_error(R"({"a":[]})"), "field \"a\": nested objects and arrays are not allowed");
  EXPECT_EQ(parse_error(R"({"b":{}})"), "field \"b\": nested objects and arrays are not allowed");
}

TEST(JsonLine, IllFormedUtf8IsReadAsReplacementCharacters) {
  // Trails written before the writer replaced ill-formed UTF-8 hold raw bytes;
  // nlohmann reads UTF-8 only, so such a line is read with U+FFFD for them.
  const auto o = parse_ok(
      "{\"s\":\"mx\xff.ex\xe2\x82"
      "ample\",\"n\":1}");
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o[0].second.string,
            "mx\xef\xbf\xbd.ex\xef\xbf\xbd"
            "ample");
  EXPECT_EQ(o[1].second.integer, 1);
  // Still malformed for another reason: that reason.
  EXPECT_EQ(parse_error("{\"s\":\"\xff\",\"s\":1}"), "duplicate field \"s\"");
}

// --- RFC 3339 ----------------------------------------------------------

TEST(Rfc3339Parse, UtcWithAndWithoutFraction) {
  EXPECT_EQ(parse_rfc3339("2026-11-22T20:30:00Z"), kT);
  EXPECT_EQ(parse_rfc3339("2026-11-22T20:30:00.123Z"), kT + milliseconds(123));
  EXPECT_EQ(parse_rfc3339("2026-11-22T20:30:00.5Z"), kT + milliseconds(500));
  EXPECT_EQ(parse_rfc3339("2026-11-22T20:30:00.05Z"), kT + milliseconds(50));
  // Finer than milliseconds: truncated.
  EXPECT_EQ(parse_rfc3339("2026-11-22T20:30:00.123999999Z"), kT + milliseconds(123));
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), WallTime{});
  EXPECT_EQ(parse_rfc3339("2026-11-22t20:30:00z"), kT);
  EXPECT_EQ(parse_rfc3339("2026-11-22 20:30:00Z"), kT);
}

TEST(Rfc3339Parse, Offsets) {
  EXPECT_EQ(parse_rfc3339("2026-11-22T21:30:00+01:00"), kT);
  EXPECT_EQ(parse_rfc3339("2026-11-22T15:00:00-05:30"), kT);
  EXPECT_EQ(parse_rfc3339("2026-11-22T20:30:00+00:00"), kT);
  EXPECT_EQ(parse_rfc3339("2026-11-22T20:30:00-00:00"), kT);
  EXPECT_EQ(parse_rfc3339("2026-11-23T05:30:00.250+09:00"), kT + milliseconds(250));
  // Across the date line and a month end.
  EXPECT_EQ(parse_rfc3339("2026-12-01T00:30:00+01:00"), parse_rfc3339("2026-11-30T23:30:00Z"));
}

TEST(Rfc3339Parse, CalendarChecks) {
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2100-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2000-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-04-31T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-00-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-00T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-22T24:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-22T20:60:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-22T20:30:61Z"));
  // A leap second is the first second of the next minute.
  EXPECT_EQ(parse_rfc3339("2016-12-31T23:59:60Z"), parse_rfc3339("2017-01-01T00:00:00Z"));
}

TEST(Rfc3339Parse, RejectsOtherForms) {
  for (const char* text :
       {"", "2026-11-22", "2026-11-22T20:30:00", "2026-11-22T20:30Z", "2026-11-22T20:30:00.Z",
        "2026-11-22T20:30:00+0100", "2026-11-22T20:30:00+01", "2026-11-22T20:30:00+24:00",
        "2026-11-22T20:30:00Zjunk", " 2026-11-22T20:30:00Z", "26-11-22T20:30:00Z",
        "2026-1-22T20:30:00Z", "2026/11/22T20:30:00Z", "2026-11-22X20:30:00Z", "1795379400",
        "9999-12-31T23:59:59Z"}) {
    EXPECT_FALSE(parse_rfc3339(text)) << text;
  }
}

// --- trail lines -------------------------------------------------------

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

TEST(TrailLine, RoundTripsWhatTheWriterWrites) {
  TrailRecord r = record("peer closed \"early\"\n\x01", kT + milliseconds(7));
  r.duration_ms = 2345;
  TrailRecord s = record("max_connections 2 reached");
  s.via = "socks5";
  s.credential = "exim";
  s.connected.reset();
  s.source.reset();
  s.reply = 2;
  TrailRecord cancelled = record("cancelled by the client before the reply");
  cancelled.reply.reset();
  TrailRecord smtp = record("closed");
  smtp.smtp = TrailSmtp{"google", 220, true, true};
  TrailRecord refused_banner = smtp;
  // No EHLO answer: the MX refused at once.
  refused_banner.smtp = TrailSmtp{"google", 554, std::nullopt, false};
  for (const TrailRecord& original : {r, s, cancelled, smtp, refused_banner}) {
    const std::string line = to_json_line(original);
    std::string error;
    const auto parsed = parse_trail_line(line, error);
    ASSERT_TRUE(parsed) << line << ": " << error;
    EXPECT_EQ(to_json_line(*parsed), line);
    EXPECT_EQ(parsed->time, original.time);
    EXPECT_EQ(parsed->credential, original.credential);
    EXPECT_EQ(parsed->connected, original.connected);
    EXPECT_EQ(parsed->source, original.source);
    EXPECT_EQ(parsed->reply, original.reply);
    EXPECT_EQ(parsed->end, original.end);
    EXPECT_EQ(parsed->smtp, original.smtp);
  }
}

std::string with(std::string line, const std::string& from, const std::string& to) {
  const size_t at = line.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) line.replace(at, from.size(), to);
  return line;
}

std::string trail_error(const std::string& line) {
  std::string error;
  EXPECT_FALSE(parse_trail_line(line, error)) << line;
  return error;
}

TEST(TrailLine, FieldsAreCheckedByNameAndType) {
  const std::string good = to_json_line(record("closed"));
  EXPECT_EQ(trail_error(with(good, R"("tenant":"acme",)", "")), "field \"tenant\" missing");
  EXPECT_EQ(trail_error(with(good, R"("tenant":"acme")", R"("tenant":7)")),
            "field \"tenant\" must be a string");
  EXPECT_EQ(trail_error(with(good, R"("connected":"192.0.2.25:25")", R"("connected":5)")),
            "field \"connected\" must be a string or null");
  EXPECT_EQ(trail_error(with(good, R"("source":"203.0.113.10:41234",)", "")),
            "field \"source\" missing");
  EXPECT_EQ(trail_error(with(good, R"("reply":0)", R"("reply":256)")),
            "field \"reply\" must be an integer from 0 to 255");
  EXPECT_EQ(trail_error(with(good, R"("reply":0)", R"("reply":"0")")),
            "field \"reply\" must be an integer from 0 to 255");
  EXPECT_EQ(trail_error(with(good, R"("reply":0,)", "")), "field \"reply\" missing");
  EXPECT_NE(trail_error(with(good, R"("bytes_up":1234)", R"("bytes_up":-1)")).find("bytes_up"),
            std::string::npos);
  EXPECT_EQ(trail_error(with(good, R"("duration_ms":0,)", "")), "field \"duration_ms\" missing");
  EXPECT_EQ(
      trail_error(with(good, R"("time":"2026-11-22T20:30:00.000Z")", R"("time":"yesterday")")),
      "field \"time\" must be an RFC 3339 time");
  EXPECT_EQ(trail_error(with(good, R"("key":"Zm9vYmFy",)", "")),
            "field \"key\" (or \"user\") missing");
  EXPECT_EQ(trail_error(with(good, R"("key":"Zm9vYmFy",)", R"("key":"a","user":"b",)")),
            "fields \"key\" and \"user\" both present");
  EXPECT_EQ(trail_error(with(good, R"("end":"closed")", R"("end":null)")),
            "field \"end\" must be a string");
  // Not JSON at all: the JSON error.
  EXPECT_EQ(trail_error("2026-11-22 acme"), "at byte 1: expected '{'");
}

TEST(TrailLine, UnknownFieldsAndOrderAreFine) {
  const std::string line =
      R"({"end":"closed","duration_ms":1,"bytes_down":2,"bytes_up":3,"reply":0,"source":null,)"
      R"("connected":null,"target":"a.example:25","user":"u","peer":"p","via":"socks5",)"
      R"("tenant":"t","time":"2026-11-22T20:30:00Z","future":"x","count":5,"maybe":null})";
  std::string error;
  const auto r = parse_trail_line(line, error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->time, kT);
  EXPECT_EQ(r->tenant, "t");
  EXPECT_EQ(r->credential, "u");
  EXPECT_EQ(r->bytes_up, 3u);
  EXPECT_EQ(r->bytes_down, 2u);
  EXPECT_EQ(r->duration_ms, 1);
}

TEST(TrailLine, SmtpFieldsAreCheckedTogether) {
  TrailRecord r = record("closed");
  r.smtp = TrailSmtp{"example.net", 220, false, false};
  const std::string good = to_json_line(r);
  EXPECT_NE(good.find(R"("provider":"example.net","smtp_banner":220,"starttls_offered":false,)"
                      R"("starttls_used":false})"),
            std::string::npos)
      << good;
  EXPECT_EQ(trail_error(with(good, R"("smtp_banner":220)", R"("smtp_banner":42)")),
            "field \"smtp_banner\" must be an integer from 100 to 599");
  EXPECT_EQ(trail_error(with(good, R"("provider":"example.net",)", "")),
            "field \"provider\" missing");
  EXPECT_EQ(trail_error(with(good, R"("starttls_offered":false)", R"("starttls_offered":1)")),
            "field \"starttls_offered\" must be true, false or null");
  EXPECT_EQ(trail_error(with(good, R"(,"starttls_used":false)", "")),
            "field \"starttls_used\" must be true or false");
  // Without a banner, no SMTP fields at all.
  EXPECT_EQ(to_json_line(record("closed")).find("smtp_banner"), std::string::npos);
}

}  // namespace
}  // namespace mx
