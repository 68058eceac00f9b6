// The passive SMTP observer on whole sessions: what it notes, where it stops,
// and that neither depends on how the relay cut the bytes.
#include "mxegress/codec/smtp_observer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::smtp {
namespace {

enum class Side { Client, Server };
struct Chunk {
  Side side;
  std::string bytes;
};
using Script = std::vector<Chunk>;

Chunk client(std::string bytes) { return {Side::Client, std::move(bytes)}; }
Chunk server(std::string bytes) { return {Side::Server, std::move(bytes)}; }

// The facts as one line, so that two runs compare with a readable message.
std::string describe(const SessionFacts& f) {
  auto opt = [](const auto& v) { return v ? std::to_string(*v) : std::string("-"); };
  return "banner=" + opt(f.banner_code) + " '" + f.banner_text +
         "' offered=" + opt(f.starttls_offered) + " sent=" + std::to_string(f.starttls_sent) +
         " reply=" + opt(f.starttls_reply) + " stop=" + observer_stop_name(f.stop);
}

// Feeds one chunk in pieces of `piece` bytes; checks the return value against
// stopped() and that nothing is wanted once stopped.
void feed(SessionObserver& observer, const Chunk& chunk, size_t piece) {
  const std::string_view all = chunk.bytes;
  size_t at = 0;
  do {
    const ByteView bytes = as_bytes(all.substr(at, piece));
    at += bytes.size();
    const bool was_stopped = observer.stopped();
    const bool wants =
        chunk.side == Side::Client ? observer.from_client(bytes) : observer.from_server(bytes);
    EXPECT_EQ(wants, !observer.stopped());
    if (was_stopped) {
      EXPECT_FALSE(wants) << "fed after the stop";
    }
  } while (at < all.size());
}

SessionFacts run(const Script& script, size_t piece = SIZE_MAX,
                 size_t cap = SessionObserver::kDefaultByteCap) {
  SessionObserver observer(cap);
  for (const Chunk& chunk : script) feed(observer, chunk, piece);
  return observer.facts();
}

const std::string kBanner = "220 mx.example.net ESMTP Postfix\r\n";
const std::string kEhloReply =
    "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n";
const std::string kEhloReplyNoTls = "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
const std::string kClientHello = std::string("\x16\x03\x01\x00\xf4\x01\x00\x00\xf0\x03\x03", 11);

const Script kStartTls{
    server(kBanner),        client("EHLO gw.example.org\r\n"),          server(kEhloReply),
    client("STARTTLS\r\n"), server("220 2.0.0 Ready to start TLS\r\n"), client(kClientHello)};

TEST(SmtpObserverTest, PlainSessionUpToTls) {
  const SessionFacts f = run(kStartTls);
  EXPECT_EQ(f.banner_code, 220);
  EXPECT_EQ(f.banner_text, "mx.example.net ESMTP Postfix");
  EXPECT_EQ(f.starttls_offered, true);
  EXPECT_TRUE(f.starttls_sent);
  EXPECT_EQ(f.starttls_reply, 220);
  EXPECT_EQ(f.stop, ObserverStop::TlsStarted);
}

TEST(SmtpObserverTest, BytesAfterTheStartTlsReplyInTheSameChunkAreNotRead) {
  // The TLS bytes behind the 220 would be "not SMTP", a reply to nothing, or
  // pass the cap if they were read.
  const Script script{server(kBanner), client("EHLO gw\r\n"), server(kEhloReply),
                      client("STARTTLS\r\n"),
                      server("220 go ahead\r\n" + std::string("\x16\x03\x03\x00\x7a\x02", 6) +
                             std::string(20000, '\0'))};
  const SessionFacts f = run(script);
  EXPECT_EQ(f.stop, ObserverStop::TlsStarted);
  EXPECT_EQ(f.starttls_reply, 220);
  SessionObserver observer(64);  // the 220 ends within the cap, the rest is far beyond it
  for (const Chunk& chunk : Script{server("220 mx\r\n"), client("STARTTLS\r\n")}) {
    feed(observer, chunk, SIZE_MAX);
  }
  EXPECT_FALSE(observer.from_server(as_bytes("220 go\r\n" + std::string(1000, 'x'))));
  EXPECT_EQ(observer.facts().stop, ObserverStop::TlsStarted);
}

TEST(SmtpObserverTest, NoStartTlsOffered) {
  const SessionFacts f = run({server(kBanner), client("EHLO gw\r\n"), server(kEhloReplyNoTls),
                              client("MAIL FROM:<a@example.org>\r\n")});
  EXPECT_EQ(f.starttls_offered, false);
  EXPECT_FALSE(f.starttls_sent);
  EXPECT_FALSE(f.starttls_reply);
  EXPECT_EQ(f.stop, ObserverStop::MailFrom);
}

TEST(SmtpObserverTest, MailFromStopsBeforeTheAddress) {
  // An address that would pass the byte cap and the line cap if it were read:
  // MailFrom, not ByteCap or NotSmtp, says it was not.
  const std::string address = "secret." + std::string(100000, 'a') + "@example.org";
  for (size_t piece : {size_t{1}, size_t{7}, SIZE_MAX}) {
    const SessionFacts f =
        run({server(kBanner), client("EHLO gw\r\n"), server(kEhloReply),
             client("MAIL FROM:<" + address + "> SIZE=1000\r\nRCPT TO:<b@example.net>\r\n")},
            piece);
    EXPECT_EQ(f.stop, ObserverStop::MailFrom) << piece;
    EXPECT_EQ(f.starttls_offered, true);
    EXPECT_FALSE(f.starttls_sent);
    EXPECT_EQ(describe(f).find("secret"), std::string::npos);
  }
}

TEST(SmtpObserverTest, HeloInsteadOfEhloSaysNothingAboutStartTls) {
  const SessionFacts f = run(
      {server(kBanner), client("HELO gw\r\n"), server("250 mx\r\n"), client("MAIL FROM:<>\r\n")});
  EXPECT_FALSE(f.starttls_offered);
  EXPECT_EQ(f.stop, ObserverStop::MailFrom);
  // A refused EHLO, then HELO: still unknown.
  const SessionFacts refused = run({server(kBanner), client("EHLO gw\r\n"),
                                    server("502 5.5.2 Error: command not recognized\r\n"),
                                    client("HELO gw\r\n"), server("250 mx\r\n")});
  EXPECT_FALSE(refused.starttls_offered);
  EXPECT_EQ(refused.stop, ObserverStop::None);
}

TEST(SmtpObserverTest, MultiLineBannerKeepsItsFirstLine) {
  const SessionFacts f = run({server("220-mx.example.net ESMTP\r\n220-no UCE\r\n220 welcome\r\n"),
                              client("EHLO gw\r\n"), server(kEhloReply)});
  EXPECT_EQ(f.banner_code, 220);
  EXPECT_EQ(f.banner_text, "mx.example.net ESMTP");
  EXPECT_EQ(f.starttls_offered, true);
}

TEST(SmtpObserverTest, EhloSentBeforeTheBanner) {
  const SessionFacts f = run({client("EHLO gw\r\n"), server(kBanner), server(kEhloReplyNoTls)});
  EXPECT_EQ(f.banner_code, 220);
  EXPECT_EQ(f.starttls_offered, false);
  EXPECT_EQ(f.stop, ObserverStop::None);
}

TEST(SmtpObserverTest, PipelinedCommandsAreAnsweredInOrder) {
  // EHLO and STARTTLS in one chunk (not allowed, RFC 3207, but seen): the
  // first reply after the banner is EHLO's, the second STARTTLS's.
  const SessionFacts f = run({client("EHLO gw\r\nSTARTTLS\r\n"), server(kBanner + kEhloReply),
                              server("220 go ahead\r\n")});
  EXPECT_EQ(f.starttls_offered, true);
  EXPECT_EQ(f.starttls_reply, 220);
  EXPECT_EQ(f.stop, ObserverStop::TlsStarted);
  // 2xx replies to the NOOP and RSET before STARTTLS start nothing.
  SessionObserver observer;
  for (const Chunk& chunk : Script{server(kBanner), client("NOOP\r\nRSET\r\nSTARTTLS\r\n"),
                                   server("250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n")}) {
    feed(observer, chunk, SIZE_MAX);
  }
  EXPECT_FALSE(observer.stopped());
  EXPECT_FALSE(observer.facts().starttls_reply);
  EXPECT_FALSE(observer.from_server(as_bytes("220 2.0.0 Ready\r\n")));
  EXPECT_EQ(observer.facts().stop, ObserverStop::TlsStarted);
}

TEST(SmtpObserverTest, AReplyWithNoCommandWaitingIsPassedOver) {
  const SessionFacts f = run({server(kBanner), server("421 4.3.2 shutting down soon\r\n"),
                              client("EHLO gw\r\n"), server(kEhloReply)});
  EXPECT_EQ(f.banner_code, 220);
  EXPECT_EQ(f.starttls_offered, true);
  EXPECT_EQ(f.stop, ObserverStop::None);
}

const std::vector<Script> kScripts{
    kStartTls,
    {server("220-mx\r\n220 hi\r\n"), client("EHLO gw\r\nSTARTTLS\r\n"), server(kEhloReply),
     server("454 4.7.0 TLS not available\r\n"), client("MAIL FROM:<a@b>\r\n")},
    {client("ehlo gw\n"), server("220 mx\n250-mx\n250 STARTTLS\n"), client("STARTTLS\n"),
     server("220 go\n\x16\x03\x03")},
    {server(kBanner), client("HELO gw\r\nNOOP\r\n"), server("250 mx\r\n250 ok\r\n"),
     client("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")},
    {server(kBanner), client("EHLO gw\r\n"), server("250-mx\r\n250-STARTTLS\r\n250 SIZE\r\n"),
     client("GET / HTTP/1.1\r\n")},
};

TEST(SmtpObserverTest, EverySplitGivesTheSameFacts) {
  for (const Script& script : kScripts) {
    const std::string whole = describe(run(script));
    EXPECT_EQ(describe(run(script, 1)), whole);
    for (size_t i = 0; i < script.size(); ++i) {
      for (size_t at = 1; at < script[i].bytes.size(); ++at) {
        Script split = script;
        split[i].bytes.resize(at);
        split.insert(split.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                     Chunk{script[i].side, script[i].bytes.substr(at)});
        EXPECT_EQ(describe(run(split)), whole) << "chunk " << i << " split at " << at;
      }
    }
  }
}

TEST(SmtpObserverTest, BareLineFeedOnBothSides) {
  const SessionFacts f = run({server("220 mx.example.net\n"), client("EHLO gw\n"),
                              server("250-mx\n250-STARTTLS\n250 8BITMIME\n"), client("STARTTLS\n"),
                              server("220 go\n")});
  EXPECT_EQ(f.banner_text, "mx.example.net");
  EXPECT_EQ(f.starttls_offered, true);
  EXPECT_EQ(f.stop, ObserverStop::TlsStarted);
}

TEST(SmtpObserverTest, RefusingBannersAreKept) {
  const SessionFacts refused = run({server("554 5.7.1 mx.example.net no service for you\r\n"),
                                    client("QUIT\r\n"), server("221 bye\r\n")});
  EXPECT_EQ(refused.banner_code, 554);
  EXPECT_EQ(refused.banner_text, "5.7.1 mx.example.net no service for you");
  EXPECT_EQ(refused.stop, ObserverStop::None);
  const SessionFacts busy = run({server("421 mx.example.net busy, try later\r\n")});
  EXPECT_EQ(busy.banner_code, 421);
  EXPECT_EQ(busy.stop, ObserverStop::None);
}

TEST(SmtpObserverTest, RefusedStartTlsDoesNotStop) {
  const SessionFacts f =
      run({server(kBanner), client("EHLO gw\r\n"), server(kEhloReply), client("STARTTLS\r\n"),
           server("454 4.7.0 TLS not available due to local problem\r\n"), client("QUIT\r\n"),
           server("221 2.0.0 Bye\r\n")});
  EXPECT_TRUE(f.starttls_sent);
  EXPECT_EQ(f.starttls_reply, 454);
  EXPECT_EQ(f.stop, ObserverStop::None);
}

TEST(SmtpObserverTest, OtherCommandsStopAtOnce) {
  for (std::string command :
       {"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", "auth login\r\n", "XCLIENT ADDR=192.0.2.7\r\n",
        "DATA\r\n", "BDAT 12 LAST\r\n", "VRFY postmaster\r\n", "RCPT TO:<b@example.net>\r\n"}) {
    const SessionFacts f = run({server(kBanner), client("EHLO gw\r\n"), server(kEhloReply),
                                client(command + std::string(20000, 'z'))});
    EXPECT_EQ(f.stop, ObserverStop::OtherCommand) << command;
  }
}

TEST(SmtpObserverTest, NotSmtpFromEitherSide) {
  const std::string http_response = "HTTP/1.1 400 Bad Request\r\n\r\n";
  const std::string server_hello = std::string("\x16\x03\x03\x00\x5a\x02\x00", 7);
  for (const Script& script : std::vector<Script>{
           {server(http_response)},
           {server(server_hello)},
           {server("SSH-2.0-OpenSSH_9.2p1\r\n")},
           {server(kBanner), client("EHLO gw\r\n"), server("250-mx\r\n251 mismatch\r\n")},
           {server(kBanner), client("EHLO gw\r\n"), server("2500 x\r\n")},
           {client(kClientHello)},
           {client("GET / HTTP/1.1\r\nHost: mx\r\n\r\n")},
           {server(kBanner), client("POST /x HTTP/1.1\r\n")},
           {server(kBanner), client("\r\n")},
           {server(kBanner), client(std::string("\x80\x01\xfe", 3))},
       }) {
    const SessionFacts f = run(script);
    EXPECT_EQ(f.stop, ObserverStop::NotSmtp) << describe(f);
  }
}

TEST(SmtpObserverTest, ByteCapCountsBothDirections) {
  // 10 + 9 + 10 bytes: 29 fit a cap of 29; a 30th byte stops it.
  const Script script{server("220 mx a\r\n"), client("EHLO gw\r\n"), server("250 mx a\r\n")};
  for (size_t piece : {size_t{1}, size_t{4}, SIZE_MAX}) {
    EXPECT_EQ(run(script, piece, 29).stop, ObserverStop::None) << piece;
    EXPECT_EQ(run(script, piece, 28).stop, ObserverStop::ByteCap) << piece;
    Script more = script;
    more.push_back(client("N"));
    EXPECT_EQ(run(more, piece, 29).stop, ObserverStop::ByteCap) << piece;
  }
  // What happens within the cap counts, even when the chunk goes beyond it:
  // MAIL's verb ends at the 13th byte, its space.
  EXPECT_EQ(run({server("220 mx\r\n"), client("MAIL FROM:<a@b>\r\n")}, SIZE_MAX, 13).stop,
            ObserverStop::MailFrom);
  EXPECT_EQ(run({server("220 mx\r\n"), client("MAIL FROM:<a@b>\r\n")}, SIZE_MAX, 12).stop,
            ObserverStop::ByteCap);
  // The default: a long but well-formed session.
  Script chatty{server(kBanner)};
  for (int i = 0; i < 1000; ++i) {
    chatty.push_back(client("NOOP\r\n"));
    chatty.push_back(server("250 ok\r\n"));
  }
  EXPECT_EQ(run(chatty).stop, ObserverStop::ByteCap);
}

TEST(SmtpObserverTest, LongLines) {
  const size_t cap = 1 << 20;
  const std::string long_text(3000, 't');
  EXPECT_EQ(run({server("220 " + long_text + "\r\n")}, SIZE_MAX, cap).stop, ObserverStop::NotSmtp);
  EXPECT_EQ(run({server(kBanner), client("EHLO " + long_text + "\r\n")}, SIZE_MAX, cap).stop,
            ObserverStop::NotSmtp);
  // Long within the caps: fine (a line of 1000 bytes each way).
  const SessionFacts fits = run({server("220 " + std::string(994, 'm') + "\r\n"),
                                 client("EHLO " + std::string(993, 'g') + "\r\n")},
                                SIZE_MAX, cap);
  EXPECT_EQ(fits.stop, ObserverStop::None);
  EXPECT_EQ(fits.banner_text, std::string(200, 'm'));
}

TEST(SmtpObserverTest, NulBytes) {
  EXPECT_EQ(run({server(std::string("220 mx\0\r\n", 9))}).stop, ObserverStop::NotSmtp);
  EXPECT_EQ(run({server(std::string("\0", 1))}).stop, ObserverStop::NotSmtp);
  EXPECT_EQ(run({server(kBanner), client(std::string("EHLO g\0w\r\n", 10))}).stop,
            ObserverStop::NotSmtp);
  // A NUL behind the 220 to STARTTLS in the same chunk is TLS's.
  const SessionFacts tls =
      run({server(kBanner), client("STARTTLS\r\n"), server(std::string("220 go\r\n\0\0", 10))});
  EXPECT_EQ(tls.stop, ObserverStop::TlsStarted);
}

TEST(SmtpObserverTest, BannerTextIsPrintableAndShort) {
  const SessionFacts f = run({server("220 caf\xc3\xa9\tmx\x7f\x01 ok\r\n")});
  EXPECT_EQ(f.banner_text, "caf???mx?? ok");
  const SessionFacts cut =
      run({server("220 " + std::string(150, 'a') + std::string(150, 'b') + "\r\n")});
  EXPECT_EQ(cut.banner_text, std::string(150, 'a') + std::string(50, 'b'));
  EXPECT_EQ(run({server("220\r\n")}).banner_text, "");
}

TEST(SmtpObserverTest, TooManyUnansweredCommands) {
  std::string noops;
  for (size_t i = 0; i < SessionObserver::kMaxPending; ++i) noops += "NOOP\r\n";
  EXPECT_EQ(run({client(noops)}).stop, ObserverStop::None);
  EXPECT_EQ(run({client(noops + "NOOP\r\n")}).stop, ObserverStop::NotSmtp);
}

TEST(SmtpObserverTest, FeedingAfterTheStopIsANoOp) {
  SessionObserver observer;
  EXPECT_TRUE(observer.from_server(as_bytes(kBanner)));
  EXPECT_FALSE(observer.from_client(as_bytes("AUTH LOGIN\r\n")));
  const std::string before = describe(observer.facts());
  EXPECT_FALSE(observer.from_server(as_bytes("334 VXNlcm5hbWU6\r\n")));
  EXPECT_FALSE(observer.from_client(as_bytes("EHLO gw\r\n")));
  EXPECT_FALSE(observer.from_client({}));
  EXPECT_EQ(describe(observer.facts()), before);
  EXPECT_EQ(observer.facts().stop, ObserverStop::OtherCommand);
}

TEST(SmtpObserverTest, StopNames) {
  EXPECT_STREQ(observer_stop_name(ObserverStop::None), "none");
  EXPECT_STREQ(observer_stop_name(ObserverStop::TlsStarted), "tls");
  EXPECT_STREQ(observer_stop_name(ObserverStop::MailFrom), "mail");
  EXPECT_STREQ(observer_stop_name(ObserverStop::OtherCommand), "other command");
  EXPECT_STREQ(observer_stop_name(ObserverStop::ByteCap), "byte cap");
  EXPECT_STREQ(observer_stop_name(ObserverStop::NotSmtp), "not smtp");
}

}  // namespace
}  // namespace mx::smtp
