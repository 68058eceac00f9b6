#include "check/spf_macro.h"

#include <gtest/gtest.h>

namespace mx::check::spf {
namespace {

struct Expanded {
  std::string text;
  MacroResult::Error error;
  char letter;
};

Expanded expand(std::string_view spec, const char* ip = "192.0.2.3",
                std::string_view domain = "email.example.com") {
  const SocketAddress address = *SocketAddress::parse_ip(ip, 0);
  MacroResult r = expand_macros(spec, {address, "postmaster", "example.com", domain});
  return {r.text, r.error, r.letter};
}

// The examples of RFC 7208 §7.4, with sender postmaster@example.com.
TEST(SpfMacro, LettersAndTransformers) {
  EXPECT_EQ(expand("%{s}").text, "postmaster@example.com");
  EXPECT_EQ(expand("%{o}").text, "example.com");
  EXPECT_EQ(expand("%{d}").text, "email.example.com");
  EXPECT_EQ(expand("%{d4}").text, "email.example.com");
  EXPECT_EQ(expand("%{d3}").text, "email.example.com");
  EXPECT_EQ(expand("%{d2}").text, "example.com");
  EXPECT_EQ(expand("%{d1}").text, "com");
  EXPECT_EQ(expand("%{dr}").text, "com.example.email");
  EXPECT_EQ(expand("%{d2r}").text, "example.email");
  EXPECT_EQ(expand("%{l}").text, "postmaster");
  EXPECT_EQ(expand("%{l-}").text, "postmaster");
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}").text, "3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp._spf.%{d2}").text, "postmaster.lp._spf.example.com");
}

TEST(SpfMacro, DelimitersSplitAndJoinWithDots) {
  const SocketAddress ip = *SocketAddress::parse_ip("192.0.2.3", 0);
  MacroResult r =
      expand_macros("%{l-}.%{lr-}.%{l1r-}", {ip, "first-last", "example.com", "d.example"});
  EXPECT_EQ(r.text, "first.last.last.first.first");
}

TEST(SpfMacro, Ipv6IsDottedNibbles) {
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01").text,
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST(SpfMacro, EscapesAndUpperCase) {
  EXPECT_EQ(expand("a%%b%_c%-d").text, "a%b c%20d");
  EXPECT_EQ(expand("%{S}").text, "postmaster%40example.com");
}

TEST(SpfMacro, TooLongLosesLabelsOnTheLeft) {
  const std::string label(60, 'a');
  const std::string spec = label + "." + label + "." + label + "." + label + ".%{d}";
  const Expanded e = expand(spec);
  EXPECT_EQ(e.error, MacroResult::Error::None);
  EXPECT_LE(e.text.size(), 253u);
  EXPECT_TRUE(e.text.ends_with(".email.example.com")) << e.text;
  EXPECT_EQ(e.text, label + "." + label + "." + label + ".email.example.com");
}

TEST(SpfMacro, RefusesWhatItCannotKnowOrParse) {
  EXPECT_EQ(expand("%{h}.example.com").error, MacroResult::Error::Unsupported);
  EXPECT_EQ(expand("%{h}.example.com").letter, 'h');
  EXPECT_EQ(expand("%{p}.example.com").error, MacroResult::Error::Unsupported);
  for (const char* bad :
       {"%{c}", "%{r}", "%{t}", "%{x}", "%{d0}", "%{d", "%{}", "%z", "%", "%{d2*}"}) {
    EXPECT_EQ(expand(bad).error, MacroResult::Error::Syntax) << bad;
  }
}

}  // namespace
}  // namespace mx::check::spf
