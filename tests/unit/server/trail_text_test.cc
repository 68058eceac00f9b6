#include "trail_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "trail.h"

namespace mx {
namespace {

using Json = nlohmann::json;

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
