// The one UTF-8 decoder: well-formed sequences, the maximal subparts of
// ill-formed ones, and the replacement by U+FFFD.
#include "mxegress/util/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace mx {
namespace {

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

}  // namespace
}  // namespace mx
