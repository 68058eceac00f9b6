#include "trail_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "trail.h"

namespace mx {
namespace {

using Json = nlohmann::json;

TEST(Utf8Step, WellFormedSequences) {
  struct Case {
    std::string_view text;
    size_t size;
    uint32_t code_point;
  };
  for (const Case& c :
       {Case{"A", 1, 0x41}, Case{"\x7f", 1, 0x7f}, Case{"\xc2\x80", 2, 0x80},
        Case{"\xdf\xbf", 2, 0x7ff}, Case{"\xe0\xa0\x80", 3, 0x800}, Case{"\xed\x9f\xbf", 3, 0xd7ff},
        Case{"\xef\xbf\xbd", 3, 0xfffd}, Case{"\xf0\x90\x80\x80", 4, 0x10000},
        Case{"\xf4\x8f\xbf\xbf", 4, 0x10ffff}}) {
    const Utf8Step step = utf8_step(c.text, 0);
    EXPECT_TRUE(step.valid) << c.code_point;
    EXPECT_EQ(step.size, c.size) << c.code_point;
    EXPECT_EQ(step.code_point, c.code_point);
  }
}

TEST(Utf8Step, IllFormedSequencesAndTheirMaximalSubparts) {
  struct Case {
    std::string_view text;
    size_t size;
  };
  for (const Case& c : {
           Case{"\x80", 1},              // a continuation byte alone
           Case{"\xff", 1},              // never in UTF-8
           Case{"\xc0\xaf", 1},          // overlong lead
           Case{"\xc2", 1},              // cut short at the end
           Case{"\xc2x", 1},             //   or by another byte
           Case{"\xe0\x80\x80", 1},      // overlong: E0 needs A0..BF next
           Case{"\xed\xa0\x80", 1},      // a surrogate
           Case{"\xe2\x82", 2},          // two of three bytes
           Case{"\xe2\x82x", 2},         //
           Case{"\xf0\x8f\xbf\xbf", 1},  // overlong
           Case{"\xf4\x90\x80\x80", 1},  // above U+10FFFF
           Case{"\xf5\x80\x80\x80", 1},  //
           Case{"\xf0\x9f\x98", 3},      // three of four bytes
       }) {
    const Utf8Step step = utf8_step(c.text, 0);
    EXPECT_FALSE(step.valid) << testing::PrintToString(std::string(c.text));
    EXPECT_EQ(step.size, c.size) << testing::PrintToString(std::string(c.text));
  }
  EXPECT_FALSE(is_valid_utf8("caf\xc3"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9"));
  EXPECT_EQ(replace_invalid_utf8("a\xe2\x82z\xff\xff"), "a\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd");
}

// Every string of up to three bytes from an alphabet of the interesting ones
// (controls, quote, backslash, every kind of lead and continuation byte,
// bytes never in UTF-8): what the writer makes of it is valid JSON (nlohmann
// parses it, strictly) and reads back as nlohmann's own dump with
// error_handler_t::replace does.
TEST(JsonString, AgreesWithNlohmannReplace) {
  const std::string alphabet(
      "\x00\x01\x08\x0a\x0c\x0d\x1f \"\\/a\x7f\x80\x8f\x90\x9b\x9f\xa0\xbf\xc0\xc1\xc2\xdf\xe0"
      "\xe2\xed\xef\xf0\xf4\xf5\xff",
      32);
  std::vector<std::string> inputs{""};
  for (size_t from = 0, length = 1; length <= 3; ++length) {
    const size_t to = inputs.size();
    for (size_t i = from; i < to; ++i) {
      for (const char c : alphabet) inputs.push_back(inputs[i] + c);
    }
    from = to;
  }
  inputs.push_back("mx\xff.example:25");
  inputs.push_back("\xf0\x9f\x98\x80 \xf0\x9f\x98 \xe2\x82\xac\xe2\x82");
  ASSERT_GT(inputs.size(), 30000u);
  for (const std::string& s : inputs) {
    std::string ours;
    append_json_string(ours, s);
    const std::string theirs = Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
    const Json parsed = Json::parse(ours, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(parsed.is_string()) << testing::PrintToString(s) << " -> " << ours;
    EXPECT_EQ(parsed.get<std::string>(), Json::parse(theirs).get<std::string>())
        << testing::PrintToString(s);
    EXPECT_EQ(parsed.get<std::string>(), replace_invalid_utf8(s)) << testing::PrintToString(s);
    EXPECT_EQ(ours.find('\n'), std::string::npos);
  }
}

TEST(JsonString, KeepsTheEscapesOfTheTrailFormat) {
  std::string out;
  append_json_string(out, "q\" b\\ \n\r\t \x01\x1f\b\x7f caf\xc3\xa9 /");
  EXPECT_EQ(out, "\"q\\\" b\\\\ \\n\\r\\t \\u0001\\u001f\\u0008\x7f caf\xc3\xa9 /\"");
}

TEST(TrailJsonLine, ADomainWithByteFFIsValidJson) {
  TrailRecord r;
  r.tenant = "acme";
  r.via = "tunnel";
  r.peer = "198.51.100.7:40000";
  r.credential = "Zm9vYmFy";
  r.target = "mx\xff.example:25";
  r.end = "host \xff\xfe unreachable";
  const std::string line = to_json_line(r);
  EXPECT_NE(line.find("\"target\":\"mx\xef\xbf\xbd.example:25\""), std::string::npos) << line;
  const Json parsed = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(parsed.is_object()) << line;
  EXPECT_EQ(parsed["target"], "mx\xef\xbf\xbd.example:25");
  EXPECT_EQ(parsed["end"], "host \xef\xbf\xbd\xef\xbf\xbd unreachable");
}

TEST(Printable, EscapesControlsAndIllFormedBytes) {
  EXPECT_EQ(printable("plain caf\xc3\xa9 \xe2\x82\xac"), "plain caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(printable("a\x1b[31m\x07\x7f"), "a\\x1b[31m\\x07\\x7f");
  EXPECT_EQ(printable("c1 \xc2\x9b"), "c1 \\xc2\\x9b");
  EXPECT_EQ(printable("bad \xff \xe2\x82 \xed\xa0\x80"), "bad \\xff \\xe2\\x82 \\xed\\xa0\\x80");
  EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
}

}  // namespace
}  // namespace mx
