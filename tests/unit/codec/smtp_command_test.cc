// The SMTP command-line reader: the verb of each line, told at its end and
// nothing after it; parameters skipped; its errors.
#include "mxegress/codec/smtp_command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::smtp {
namespace {

struct Read {
  std::vector<Command> commands;
  CommandError error = CommandError::None;
};

Read read_in_chunks(std::string_view input, size_t chunk, size_t max_line = 1024) {
  CommandReader reader(max_line);
  Read read;
  for (size_t at = 0; at < input.size(); at += chunk) {
    ByteView piece = as_bytes(input.substr(at, chunk));
    while (!piece.empty()) {
      const CommandRead r = reader.feed(piece);
      if (r.error != CommandError::None) {
        read.error = r.error;
        return read;
      }
      if (r.command) read.commands.push_back(*r.command);
      piece = piece.subspan(r.consumed);
    }
  }
  return read;
}

TEST(SmtpCommandTest, VerbsOfASessionWholeAndByteByByteAlike) {
  const std::string input =
      "EHLO gw.example.org\r\nnoop\r\nRset\r\nSTARTTLS\r\nHELO gw\r\nLHLO x\r\nQUIT\r\n"
      "MAIL FROM:<a@example.org>\r\n";
  const std::vector<Command> expected{Command::Ehlo,     Command::Noop, Command::Rset,
                                      Command::StartTls, Command::Helo, Command::Lhlo,
                                      Command::Quit,     Command::Mail};
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{5}, size_t{1000}}) {
    const Read r = read_in_chunks(input, chunk);
    EXPECT_EQ(r.error, CommandError::None) << chunk;
    EXPECT_EQ(r.commands, expected) << chunk;
  }
}

TEST(SmtpCommandTest, TheVerbIsToldAtItsEndBeforeTheParameters) {
  CommandReader reader;
  const std::string line = "MAIL FROM:<alice@example.org> SIZE=1000\r\n";
  const CommandRead r = reader.feed(as_bytes(line));
  ASSERT_EQ(r.command, Command::Mail);
  EXPECT_EQ(r.consumed, 5u) << "nothing after the space behind the verb is read";
  // Not yet known: "MAIL" could still become a longer word.
  CommandReader partial;
  const CommandRead cut = partial.feed(as_bytes("MAIL"));
  EXPECT_FALSE(cut.command);
  EXPECT_EQ(cut.consumed, 4u);
  EXPECT_EQ(partial.feed(as_bytes("\n")).command, Command::Mail);
}

TEST(SmtpCommandTest, BareLineFeedAndVerbAlone) {
  const Read r = read_in_chunks("EHLO a\nSTARTTLS\nQUIT\r\n", 1);
  ASSERT_EQ(r.error, CommandError::None);
  EXPECT_EQ(r.commands, (std::vector<Command>{Command::Ehlo, Command::StartTls, Command::Quit}));
}

TEST(SmtpCommandTest, OtherVerbsKnownAndPrivate) {
  for (std::string_view line :
       {"AUTH PLAIN AGFsaWNlAHB3\r\n", "auth login\r\n", "RCPT TO:<b@example.net>\r\n", "DATA\r\n",
        "BDAT 100 LAST\r\n", "VRFY postmaster\r\n", "EXPN list\r\n", "HELP\r\n", "ETRN x\r\n",
        "XCLIENT ADDR=192.0.2.1\r\n", "XFORWARD NAME=x\r\n", "XEXCH50 1 2\r\n", "X-LINK2STATE\r\n",
        "VERB\r\n"}) {
    const Read r = read_in_chunks(line, 3);
    EXPECT_EQ(r.error, CommandError::None) << line;
    EXPECT_EQ(r.commands, std::vector<Command>{Command::Other}) << line;
  }
}

TEST(SmtpCommandTest, LinesWithoutAnSmtpVerb) {
  for (std::string_view input :
       {"\r\n", "\n", " EHLO x\r\n", "GET / HTTP/1.1\r\n", "POST /x HTTP/1.1\r\n",
        "\x16\x03\x01\x02\x00\x01", "SSH-2.0-OpenSSH_9.2\r\n", "EHLO\tx\r\n", "1HELO\r\n",
        "ABCDEFGHIJKLMNOPQ\r\n", "EHLOX x\r\n", "STARTTLS2\r\n"}) {
    const Read r = read_in_chunks(input, 1);
    EXPECT_EQ(r.error, CommandError::NoVerb) << input;
    EXPECT_TRUE(r.commands.empty()) << input;
  }
  // Told at the first byte that cannot be a verb's, not at the line's end.
  CommandReader reader;
  EXPECT_EQ(reader.feed(as_bytes("\x16\x03")).error, CommandError::NoVerb);
  CommandReader http;
  EXPECT_EQ(http.feed(as_bytes("GET ")).error, CommandError::NoVerb);
}

TEST(SmtpCommandTest, LineCapCountsTheParametersAndTheLineEnd) {
  // 16 bytes with CRLF: fits a cap of 16, not one of 15.
  EXPECT_EQ(read_in_chunks("EHLO 0123456789\r\n", 1, 17).error, CommandError::None);
  EXPECT_EQ(read_in_chunks("EHLO 012345678\r\n", 1, 16).error, CommandError::None);
  EXPECT_EQ(read_in_chunks("EHLO 012345678\r\n", 1, 15).error, CommandError::LineTooLong);
  // The cap is per line.
  EXPECT_EQ(read_in_chunks("EHLO 012345678\r\nEHLO 012345678\r\n", 4, 16).error,
            CommandError::None);
  const std::string long_line = "NOOP " + std::string(2000, 'x') + "\r\n";
  EXPECT_EQ(read_in_chunks(long_line, 100).error, CommandError::LineTooLong);
}

TEST(SmtpCommandTest, NulByteAnywhere) {
  EXPECT_EQ(read_in_chunks(std::string("EHLO a\0b\r\n", 10), 1).error, CommandError::NulByte);
  EXPECT_EQ(read_in_chunks(std::string("\0", 1), 1).error, CommandError::NulByte);
}

TEST(SmtpCommandTest, ErrorIsSticky) {
  CommandReader reader;
  EXPECT_EQ(reader.feed(as_bytes("GET ")).error, CommandError::NoVerb);
  const CommandRead again = reader.feed(as_bytes("EHLO x\r\n"));
  EXPECT_EQ(again.error, CommandError::NoVerb);
  EXPECT_FALSE(again.command);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_STREQ(command_error_name(reader.error()), "no SMTP verb");
  EXPECT_STREQ(command_name(Command::StartTls), "STARTTLS");
}

}  // namespace
}  // namespace mx::smtp
