// JSON strings of any bytes (util/json_string): escapes, UTF-8 kept or
// replaced, and agreement with nlohmann::json's own writer.
#include "mxegress/util/json_string.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mxegress/util/utf8.h"

namespace mx {
namespace {

using Json = nlohmann::json;

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

TEST(JsonString, EscapesQuotesBackslashAndControlCharacters) {
  EXPECT_EQ(json_string(""), R"("")");
  EXPECT_EQ(json_string("plain text"), R"("plain text")");
  EXPECT_EQ(json_string("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_string("\n\r\t\b\f"), R"("\n\r\t\u0008\u000c")");
  EXPECT_EQ(json_string(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
  EXPECT_EQ(json_string("</script>"), R"("</script>")");
}

TEST(JsonString, KeepsValidUtf8) {
  EXPECT_EQ(json_string("caf\xc3\xa9"), "\"caf\xc3\xa9\"");           // é
  EXPECT_EQ(json_string("\xe2\x82\xac"), "\"\xe2\x82\xac\"");          // €
  EXPECT_EQ(json_string("\xf0\x9f\x93\xa7"), "\"\xf0\x9f\x93\xa7\"");  // U+1F4E7
  EXPECT_EQ(json_string("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"");  // U+10FFFF
  EXPECT_EQ(json_string("\xed\x9f\xbf"), "\"\xed\x9f\xbf\"");          // U+D7FF
}

// One U+FFFD per maximal subpart of an ill-formed sequence.
TEST(JsonString, ReplacesIllFormedSequencesWithReplacementCharacter) {
  const std::string r = "\xef\xbf\xbd";  // U+FFFD
  auto quoted = [](const std::string& text) { return '"' + text + '"'; };
  EXPECT_EQ(json_string("\xff"), quoted(r));
  EXPECT_EQ(json_string("a\x80z"), quoted("a" + r + "z"));        // stray continuation
  EXPECT_EQ(json_string("\xc3"), quoted(r));                      // truncated at the end
  EXPECT_EQ(json_string("\xc3z"), quoted(r + "z"));               // truncated in the middle
  EXPECT_EQ(json_string("\xc0\xaf"), quoted(r + r));              // overlong '/'
  EXPECT_EQ(json_string("\xe0\x80\xaf"), quoted(r + r + r));      // overlong
  EXPECT_EQ(json_string("\xed\xa0\x80"), quoted(r + r + r));      // surrogate D800
  EXPECT_EQ(json_string("\xf4\x90\x80\x80"), quoted(r + r + r + r));  // > U+10FFFF
  EXPECT_EQ(json_string("\xf5"), quoted(r));
  EXPECT_EQ(json_string("\xe2\x82"), quoted(r));                  // cut short: one subpart
}

TEST(JsonString, EveryByteGivesAValidJsonString) {
  for (int b = 0; b < 256; ++b) {
    const std::string in(1, static_cast<char>(b));
    const std::string out = json_string(in);
    const Json parsed = Json::parse(out, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(parsed.is_string()) << b << " -> " << out;
    EXPECT_TRUE(is_valid_utf8(out)) << b;
    EXPECT_EQ(parsed.get<std::string>(), b < 0x80 ? in : "\xef\xbf\xbd") << b;
  }
}

}  // namespace
}  // namespace mx
