// The SMTP reply parser fed whole, byte by byte and in pieces; its caps,
// its tests for "not SMTP", and the EHLO keywords of a reply.
#include "mxegress/codec/smtp_reply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::smtp {
namespace {

struct Parsed {
  std::vector<Reply> replies;
  ReplyError error = ReplyError::None;
};

// Feeds `input` in chunks of `chunk` bytes, collecting every reply.
Parsed parse_in_chunks(std::string_view input, size_t chunk, Limits limits = {}) {
  ReplyParser parser(limits);
  Parsed parsed;
  for (size_t at = 0; at < input.size(); at += chunk) {
    ByteView piece = as_bytes(input.substr(at, chunk));
    while (!piece.empty()) {
      FeedResult r = parser.feed(piece);
      if (r.error != ReplyError::None) {
        parsed.error = r.error;
        return parsed;
      }
      if (r.reply) parsed.replies.push_back(std::move(*r.reply));
      piece = piece.subspan(r.consumed);
    }
  }
  return parsed;
}

const char* const kEhlo =
    "250-mx.example.net Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
    "250-starttls\r\n250-AUTH PLAIN  LOGIN\r\n250 8BITMIME\r\n";

TEST(SmtpReplyTest, SingleLineReply) {
  Parsed p = parse_in_chunks("220 mx.example.net ESMTP Postfix\r\n", 1000);
  ASSERT_EQ(p.error, ReplyError::None);
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0].code, 220);
  EXPECT_EQ(p.replies[0].kind(), 2);
  EXPECT_EQ(p.replies[0].lines, std::vector<std::string>{"mx.example.net ESMTP Postfix"});
}

TEST(SmtpReplyTest, MultiLineReplyWholeAndByteByByteAlike) {
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, size_t{1000}}) {
    Parsed p = parse_in_chunks(kEhlo, chunk);
    ASSERT_EQ(p.error, ReplyError::None) << chunk;
    ASSERT_EQ(p.replies.size(), 1u) << chunk;
    EXPECT_EQ(p.replies[0].code, 250);
    ASSERT_EQ(p.replies[0].lines.size(), 6u);
    EXPECT_EQ(p.replies[0].lines[0], "mx.example.net Hello");
    EXPECT_EQ(p.replies[0].lines[5], "8BITMIME");
    EXPECT_EQ(p.replies[0].text().substr(0, 33), "mx.example.net Hello\nPIPELINING\nS");
  }
}

TEST(SmtpReplyTest, StopsAtTheEndOfEachReply) {
  const std::string input = "250 ok\r\n220 go ahead\r\n\x16\x03\x01";
  ReplyParser parser;
  FeedResult first = parser.feed(as_bytes(input));
  ASSERT_TRUE(first.reply);
  EXPECT_EQ(first.consumed, 8u);
  EXPECT_EQ(first.reply->code, 250);
  FeedResult second = parser.feed(as_bytes(input).subspan(8));
  ASSERT_TRUE(second.reply);
  EXPECT_EQ(second.reply->code, 220);
  EXPECT_EQ(second.consumed, 14u) << "the TLS bytes after the reply are not consumed";
  EXPECT_TRUE(parser.idle());
}

TEST(SmtpReplyTest, NeedsMoreUntilTheLastLine) {
  ReplyParser parser;
  FeedResult r = parser.feed(as_bytes("250-first\r\n250 sec"));
  EXPECT_FALSE(r.reply);
  EXPECT_EQ(r.consumed, 18u);
  EXPECT_FALSE(parser.idle());
  r = parser.feed(as_bytes("ond\r\n"));
  ASSERT_TRUE(r.reply);
  EXPECT_EQ(r.reply->lines, (std::vector<std::string>{"first", "second"}));
}

TEST(SmtpReplyTest, BareLineFeedAndCodeAloneAreAccepted) {
  Parsed p = parse_in_chunks("250-a\n250\r\n", 1);
  ASSERT_EQ(p.error, ReplyError::None);
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0].lines, (std::vector<std::string>{"a", ""}));
}

TEST(SmtpReplyTest, NotSmtpIsSeenEarly) {
  for (std::string_view input :
       {"HTTP/1.1 400 Bad Request\r\n", "\x16\x03\x01\x00", "SSH-2.0-OpenSSH\r\n", "120 x\r\n",
        "620 x\r\n", "25x ok\r\n", "250+ok\r\n", "25\r\n", "\r\n"}) {
    Parsed p = parse_in_chunks(input, 1);
    EXPECT_EQ(p.error, ReplyError::NotSmtp) << input;
    EXPECT_TRUE(p.replies.empty());
  }
  // Seen at the first wrong byte, not at the end of a line.
  ReplyParser parser;
  EXPECT_EQ(parser.feed(as_bytes("HT")).error, ReplyError::NotSmtp);
}

TEST(SmtpReplyTest, CodeMismatchInAMultiLineReply) {
  Parsed p = parse_in_chunks("250-a\r\n251 b\r\n", 3);
  EXPECT_EQ(p.error, ReplyError::CodeMismatch);
}

TEST(SmtpReplyTest, LineCap) {
  Limits limits;
  limits.max_line = 16;
  EXPECT_EQ(parse_in_chunks("250 0123456789a\r\n", 1, limits).error, ReplyError::LineTooLong);
  Parsed fits = parse_in_chunks("250 0123456789\r\n", 1, limits);  // 16 bytes with CRLF
  ASSERT_EQ(fits.error, ReplyError::None);
  EXPECT_EQ(fits.replies.size(), 1u);
}

TEST(SmtpReplyTest, ReplyCap) {
  Limits limits;
  limits.max_reply = 30;
  std::string many;
  for (int i = 0; i < 5; ++i) many += "250-abcdef\r\n";
  many += "250 end\r\n";
  EXPECT_EQ(parse_in_chunks(many, 5, limits).error, ReplyError::ReplyTooLong);
  EXPECT_EQ(parse_in_chunks("250-abcdef\r\n250 end\r\n", 5, limits).error, ReplyError::None);
}

TEST(SmtpReplyTest, ErrorIsSticky) {
  ReplyParser parser;
  EXPECT_EQ(parser.feed(as_bytes("xyz")).error, ReplyError::NotSmtp);
  FeedResult again = parser.feed(as_bytes("250 ok\r\n"));
  EXPECT_EQ(again.error, ReplyError::NotSmtp);
  EXPECT_FALSE(again.reply);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_STREQ(reply_error_name(parser.error()), "not an SMTP reply");
}

TEST(SmtpReplyTest, EhloKeywords) {
  Parsed p = parse_in_chunks(kEhlo, 1000);
  ASSERT_EQ(p.replies.size(), 1u);
  EhloKeywords k = parse_ehlo_keywords(p.replies[0]);
  ASSERT_EQ(k.extensions.size(), 5u) << "the greeting line is no keyword";
  EXPECT_TRUE(k.starttls()) << "keywords compare without case";
  EXPECT_TRUE(k.has("size"));
  EXPECT_FALSE(k.has("Hello"));
  EXPECT_EQ(k.extensions[3].keyword, "AUTH");
  EXPECT_EQ(k.extensions[3].params, (std::vector<std::string>{"PLAIN", "LOGIN"}));
}

TEST(SmtpReplyTest, EhloKeywordsWithoutStarttlsOrOfARefusal) {
  Reply plain{250, {"mx Hello", "PIPELINING", "SIZE"}};
  EXPECT_FALSE(parse_ehlo_keywords(plain).starttls());
  Reply refused{502, {"EHLO not implemented", "STARTTLS"}};
  EXPECT_TRUE(parse_ehlo_keywords(refused).extensions.empty());
}

}  // namespace
}  // namespace mx::smtp
