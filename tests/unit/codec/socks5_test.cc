#include "mxegress/codec/socks5.h"

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>

namespace mx {
// static: other test files may print Targets too, and must not collide at link time.
static void PrintTo(const Target& target, std::ostream* os) { *os << target.to_string(); }
}  // namespace mx

namespace mx::socks5 {

static std::ostream& operator<<(std::ostream& os, ParseStatus status) {
  switch (status) {
    case ParseStatus::NeedMore:
      return os << "NeedMore";
    case ParseStatus::Done:
      return os << "Done";
    case ParseStatus::Error:
      return os << "Error";
  }
  return os << "ParseStatus(?)";
}

static std::ostream& operator<<(std::ostream& os, Reply reply) { return os << reply_name(reply); }

namespace {

using Parser = std::function<ParseResult(ByteView)>;

// "05 00 00 01" -> {0x05, 0x00, 0x00, 0x01}
Bytes hex(std::string_view text) {
  Bytes out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes text_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

const Bytes kPipelined = text_bytes("EHLO gw.example.org\r\n");

// Every strict prefix of `message` needs more and consumes nothing; the whole
// message is Done with consumed == its size, and stays so with pipelined bytes after it.
void expect_needs_every_byte(const Bytes& message, const Parser& parse) {
  for (size_t cut = 0; cut < message.size(); ++cut) {
    const ParseResult partial = parse(ByteView(message).first(cut));
    EXPECT_EQ(partial.status, ParseStatus::NeedMore) << "cut at " << cut << ": " << partial.error;
    EXPECT_EQ(partial.consumed, 0u) << "cut at " << cut;
  }
  const ParseResult whole = parse(message);
  ASSERT_EQ(whole.status, ParseStatus::Done) << whole.error;
  EXPECT_EQ(whole.consumed, message.size());
  const ParseResult with_more = parse(concat(message, kPipelined));
  ASSERT_EQ(with_more.status, ParseStatus::Done) << with_more.error;
  EXPECT_EQ(with_more.consumed, message.size());
}

// Prefixes shorter than `detectable_at` need more; from there on, every prefix
// (and the message with pipelined bytes) is an Error carrying `reply`.
void expect_error_from(const Bytes& message, size_t detectable_at, Reply reply,
                       const Parser& parse) {
  for (size_t cut = 0; cut <= message.size(); ++cut) {
    const ParseResult result = parse(ByteView(message).first(cut));
    if (cut < detectable_at) {
      EXPECT_EQ(result.status, ParseStatus::NeedMore) << "cut at " << cut;
      continue;
    }
    EXPECT_EQ(result.status, ParseStatus::Error) << "cut at " << cut;
    EXPECT_EQ(result.reply, reply) << "cut at " << cut;
    EXPECT_FALSE(result.error.empty());
  }
  const ParseResult with_more = parse(concat(message, kPipelined));
  EXPECT_EQ(with_more.status, ParseStatus::Error);
  EXPECT_EQ(with_more.reply, reply);
}

ParseResult greeting_parser(ByteView in) {
  Greeting out;
  return parse_greeting(in, out);
}
ParseResult credentials_parser(ByteView in) {
  Credentials out;
  return parse_credentials(in, out);
}
ParseResult request_parser(ByteView in) {
  Request out;
  return parse_request(in, out);
}
ParseResult address_parser(ByteView in) {
  Target out;
  return decode_address(in, out);
}
ParseResult method_selection_parser(ByteView in) {
  uint8_t method = 0;
  return parse_method_selection(in, method);
}
ParseResult auth_status_parser(ByteView in) {
  bool ok = false;
  return parse_auth_status(in, ok);
}
ParseResult reply_parser(ByteView in) {
  ReplyMessage out;
  return parse_reply(in, out);
}

const std::array<uint8_t, 16> kDocIPv6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0, 1};  // 2001:db8::1

const std::vector<Reply> kAllReplies = {
    Reply::Succeeded,          Reply::GeneralFailure,      Reply::NotAllowed,
    Reply::NetworkUnreachable, Reply::HostUnreachable,     Reply::ConnectionRefused,
    Reply::TtlExpired,         Reply::CommandNotSupported, Reply::AddressTypeNotSupported};

std::vector<Target> sample_targets() {
  return {Target::ipv4({192, 0, 2, 1}, 25),
          Target::ipv4({0, 0, 0, 0}, 0),
          Target::ipv4({255, 255, 255, 255}, 65535),
          Target::ipv6(kDocIPv6, 25),
          Target::domain_name("a", 25),
          Target::domain_name("mx.example.org", 587),
          Target::domain_name(std::string(255, 'x'), 465)};
}

// ---------------------------------------------------------------- reply codes

TEST(Socks5ReplyCode, WireValuesAreRfc1928) {
  EXPECT_EQ(static_cast<uint8_t>(Reply::Succeeded), 0x00);
  EXPECT_EQ(static_cast<uint8_t>(Reply::GeneralFailure), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(Reply::NotAllowed), 0x02);
  EXPECT_EQ(static_cast<uint8_t>(Reply::NetworkUnreachable), 0x03);
  EXPECT_EQ(static_cast<uint8_t>(Reply::HostUnreachable), 0x04);
  EXPECT_EQ(static_cast<uint8_t>(Reply::ConnectionRefused), 0x05);
  EXPECT_EQ(static_cast<uint8_t>(Reply::TtlExpired), 0x06);
  EXPECT_EQ(static_cast<uint8_t>(Reply::CommandNotSupported), 0x07);
  EXPECT_EQ(static_cast<uint8_t>(Reply::AddressTypeNotSupported), 0x08);
}

TEST(Socks5ReplyCode, NamesEveryCode) {
  EXPECT_STREQ(reply_name(Reply::Succeeded), "succeeded");
  EXPECT_STREQ(reply_name(Reply::GeneralFailure), "general SOCKS server failure");
  EXPECT_STREQ(reply_name(Reply::NotAllowed), "connection not allowed by ruleset");
  EXPECT_STREQ(reply_name(Reply::NetworkUnreachable), "network unreachable");
  EXPECT_STREQ(reply_name(Reply::HostUnreachable), "host unreachable");
  EXPECT_STREQ(reply_name(Reply::ConnectionRefused), "connection refused");
  EXPECT_STREQ(reply_name(Reply::TtlExpired), "TTL expired");
  EXPECT_STREQ(reply_name(Reply::CommandNotSupported), "command not supported");
  EXPECT_STREQ(reply_name(Reply::AddressTypeNotSupported), "address type not supported");
  EXPECT_STREQ(reply_name(static_cast<Reply>(0x09)), "unassigned reply code");
}

TEST(Socks5ReplyCode, FromWireKnowsOnlyAssignedCodes) {
  for (Reply reply : kAllReplies) {
    EXPECT_EQ(reply_from_wire(static_cast<uint8_t>(reply)), reply);
  }
  for (int code = 0x09; code <= 0xff; ++code) {
    EXPECT_FALSE(reply_from_wire(static_cast<uint8_t>(code)).has_value()) << code;
  }
}

// ---------------------------------------------------------------- address

TEST(Socks5Address, EncodesIPv4) {
  Bytes out;
  encode_address(out, Target::ipv4({192, 0, 2, 1}, 25));
  EXPECT_EQ(out, hex("01 c0 00 02 01 00 19"));
}

TEST(Socks5Address, EncodesIPv6) {
  Bytes out;
  encode_address(out, Target::ipv6(kDocIPv6, 25));
  EXPECT_EQ(out, hex("04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 00 19"));
}

TEST(Socks5Address, EncodesOneByteDomain) {
  Bytes out;
  encode_address(out, Target::domain_name("a", 25));
  EXPECT_EQ(out, hex("03 01 61 00 19"));
}

TEST(Socks5Address, EncodesLongestDomain) {
  Bytes out;
  encode_address(out, Target::domain_name(std::string(255, 'x'), 0x1234));
  ASSERT_EQ(out.size(), kMaxAddress);
  EXPECT_EQ(out[0], 0x03);
  EXPECT_EQ(out[1], 0xff);
  EXPECT_EQ(out[2], 'x');
  EXPECT_EQ(out[256], 'x');
  EXPECT_EQ(out[257], 0x12);
  EXPECT_EQ(out[258], 0x34);
}

TEST(Socks5Address, PortIsBigEndian) {
  Bytes out;
  encode_address(out, Target::ipv4({127, 0, 0, 1}, 65535));
  EXPECT_EQ(out, hex("01 7f 00 00 01 ff ff"));
  Target decoded;
  ASSERT_EQ(decode_address(hex("01 7f 00 00 01 01 bb"), decoded).status, ParseStatus::Done);
  EXPECT_EQ(decoded.port, 443);
}

TEST(Socks5Address, AppendsToExistingBytes) {
  Bytes out = {0xaa};
  encode_address(out, Target::ipv4({10, 0, 0, 1}, 25));
  EXPECT_EQ(out, hex("aa 01 0a 00 00 01 00 19"));
}

TEST(Socks5Address, DecodesEveryTypeBack) {
  for (const Target& target : sample_targets()) {
    Bytes wire;
    encode_address(wire, target);
    Target decoded;
    const ParseResult result = decode_address(wire, decoded);
    ASSERT_EQ(result.status, ParseStatus::Done) << target.to_string() << ": " << result.error;
    EXPECT_EQ(result.consumed, wire.size());
    EXPECT_EQ(decoded, target);
  }
}

TEST(Socks5Address, NeedsEveryByte) {
  for (const Target& target : sample_targets()) {
    SCOPED_TRACE(target.to_string());
    Bytes wire;
    encode_address(wire, target);
    expect_needs_every_byte(wire, address_parser);
  }
}

TEST(Socks5Address, UnknownTypeIsAddressTypeNotSupported) {
  for (int atyp : {0x00, 0x02, 0x05, 0x06, 0x7f, 0xff}) {
    SCOPED_TRACE(atyp);
    const Bytes wire = {static_cast<uint8_t>(atyp), 1, 2, 3, 4, 0, 25};
    expect_error_from(wire, 1, Reply::AddressTypeNotSupported, address_parser);
  }
}

TEST(Socks5Address, EmptyDomainIsGeneralFailureAtOnce) {
  expect_error_from(hex("03 00 00 19"), 2, Reply::GeneralFailure, address_parser);
}

TEST(Socks5Address, DomainWithControlSpaceOrNulIsGeneralFailure) {
  for (int bad : {0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x7f}) {
    for (size_t position : {0u, 5u, 13u}) {
      SCOPED_TRACE("byte " + std::to_string(bad) + " at " + std::to_string(position));
      std::string name = "mx.example.org";
      name[position] = static_cast<char>(bad);
      Bytes wire = {0x03, static_cast<uint8_t>(name.size())};
      wire.insert(wire.end(), name.begin(), name.end());
      wire.insert(wire.end(), {0x00, 0x19});
      Target decoded;
      const ParseResult result = decode_address(wire, decoded);
      EXPECT_EQ(result.status, ParseStatus::Error);
      EXPECT_EQ(result.reply, Reply::GeneralFailure);
      EXPECT_EQ(decoded, Target{});
    }
  }
}

TEST(Socks5Address, DomainAcceptsPrintableAndHighBytes) {
  // Raw UTF-8 is not ours to refuse; the resolver will fail it cleanly.
  const Bytes wire = hex("03 04 21 7e 80 ff 00 19");
  Target decoded;
  ASSERT_EQ(decode_address(wire, decoded).status, ParseStatus::Done);
  EXPECT_EQ(decoded.domain, "\x21\x7e\x80\xff");
}

TEST(Socks5Address, ValidDomain) {
  EXPECT_TRUE(valid_domain("a"));
  EXPECT_TRUE(valid_domain("mx.example.org"));
  EXPECT_TRUE(valid_domain(std::string(255, 'x')));
  EXPECT_FALSE(valid_domain(""));
  EXPECT_FALSE(valid_domain(std::string(256, 'x')));
  EXPECT_FALSE(valid_domain(std::string("mx\0evil.example", 15)));
  EXPECT_FALSE(valid_domain("mx example.org"));
  EXPECT_FALSE(valid_domain("mx.example.org\r\n"));
  EXPECT_FALSE(valid_domain("mx\x7f"));
}

// ---------------------------------------------------------------- greeting

TEST(Socks5Greeting, ParsesNoAuthOffer) {
  Greeting greeting;
  const ParseResult result = parse_greeting(hex("05 01 00"), greeting);
  ASSERT_EQ(result.status, ParseStatus::Done);
  EXPECT_EQ(result.consumed, 3u);
  EXPECT_EQ(greeting.methods, Bytes{kMethodNoAuth});
}

TEST(Socks5Greeting, ParsesTwoMethodOffer) {
  Greeting greeting;
  ASSERT_EQ(parse_greeting(hex("05 02 00 02"), greeting).status, ParseStatus::Done);
  EXPECT_EQ(greeting.methods, (Bytes{kMethodNoAuth, kMethodUserPass}));
}

TEST(Socks5Greeting, NeedsEveryByte) {
  expect_needs_every_byte(hex("05 01 00"), greeting_parser);
  expect_needs_every_byte(hex("05 03 00 01 02"), greeting_parser);
}

TEST(Socks5Greeting, LongestIsCapAndConsumedExactly) {
  Bytes wire = {0x05, 0xff};
  for (int method = 0; method < 255; ++method) wire.push_back(static_cast<uint8_t>(method));
  ASSERT_EQ(wire.size(), kMaxGreeting);
  Greeting greeting;
  const ParseResult result = parse_greeting(concat(wire, kPipelined), greeting);
  ASSERT_EQ(result.status, ParseStatus::Done);
  EXPECT_EQ(result.consumed, kMaxGreeting);
  EXPECT_EQ(greeting.methods.size(), 255u);
  EXPECT_EQ(greeting.methods.back(), 254);
  expect_needs_every_byte(wire, greeting_parser);
}

TEST(Socks5Greeting, Socks4ClientIsNamed) {
  // A SOCKS4 CONNECT to 192.0.2.1:25, user "u".
  const Bytes socks4 = hex("04 01 00 19 c0 00 02 01 75 00");
  Greeting greeting;
  const ParseResult result = parse_greeting(socks4, greeting);
  ASSERT_EQ(result.status, ParseStatus::Error);
  EXPECT_EQ(result.reply, Reply::GeneralFailure);
  EXPECT_EQ(result.error.rfind("version 4 is not SOCKS5", 0), 0u) << result.error;
  EXPECT_NE(result.error.find("SOCKS4"), std::string::npos) << result.error;
  expect_error_from(socks4, 1, Reply::GeneralFailure, greeting_parser);
}

TEST(Socks5Greeting, HttpAndTlsClientsAreNamed) {
  Greeting greeting;
  const ParseResult http =
      parse_greeting(text_bytes("CONNECT mx.example.org:25 HTTP/1.1"), greeting);
  ASSERT_EQ(http.status, ParseStatus::Error);
  EXPECT_NE(http.error.find("HTTP"), std::string::npos) << http.error;
  const ParseResult tls = parse_greeting(hex("16 03 01 02 00"), greeting);
  ASSERT_EQ(tls.status, ParseStatus::Error);
  EXPECT_NE(tls.error.find("TLS"), std::string::npos) << tls.error;
}

TEST(Socks5Greeting, AnyOtherVersionIsError) {
  for (int version : {0x00, 0x01, 0x06, 0xff}) {
    SCOPED_TRACE(version);
    const Bytes wire = {static_cast<uint8_t>(version), 0x01, 0x00};
    expect_error_from(wire, 1, Reply::GeneralFailure, greeting_parser);
  }
}

TEST(Socks5Greeting, NoMethodsIsError) {
  expect_error_from(hex("05 00"), 2, Reply::GeneralFailure, greeting_parser);
}

TEST(Socks5Greeting, OutputUntouchedUntilDone) {
  Greeting greeting{{0x42}};
  ASSERT_EQ(parse_greeting(hex("05 02 00"), greeting).status, ParseStatus::NeedMore);
  EXPECT_EQ(greeting.methods, Bytes{0x42});
}

TEST(Socks5Greeting, ClientEncodesExactBytes) {
  Bytes out;
  const std::array<uint8_t, 2> methods = {kMethodNoAuth, kMethodUserPass};
  encode_greeting(out, methods);
  EXPECT_EQ(out, hex("05 02 00 02"));
}

TEST(Socks5Greeting, RoundTrips) {
  Bytes wire;
  const std::array<uint8_t, 1> methods = {kMethodUserPass};
  encode_greeting(wire, methods);
  Greeting greeting;
  ASSERT_EQ(parse_greeting(wire, greeting).status, ParseStatus::Done);
  EXPECT_EQ(greeting.methods, Bytes{kMethodUserPass});
}

// ---------------------------------------------------------------- method selection

TEST(Socks5MethodSelection, EncodesExactBytes) {
  Bytes out;
  encode_method_selection(out, kMethodUserPass);
  encode_method_selection(out, kMethodNoAcceptable);
  EXPECT_EQ(out, hex("05 02 05 ff"));
}

TEST(Socks5MethodSelection, RoundTripsEveryMethod) {
  for (int method = 0; method <= 0xff; ++method) {
    Bytes wire;
    encode_method_selection(wire, static_cast<uint8_t>(method));
    uint8_t parsed = 0;
    const ParseResult result = parse_method_selection(wire, parsed);
    ASSERT_EQ(result.status, ParseStatus::Done);
    EXPECT_EQ(result.consumed, 2u);
    EXPECT_EQ(parsed, method);
  }
}

TEST(Socks5MethodSelection, NeedsEveryByte) {
  expect_needs_every_byte(hex("05 00"), method_selection_parser);
}

TEST(Socks5MethodSelection, WrongVersionIsError) {
  expect_error_from(hex("04 5a"), 1, Reply::GeneralFailure, method_selection_parser);
}

// ---------------------------------------------------------------- RFC 1929 credentials

TEST(Socks5Credentials, ParsesUserAndPassword) {
  const Bytes wire = hex("01 04 75 73 65 72 06 73 65 63 72 65 74");  // "user" / "secret"
  Credentials credentials;
  const ParseResult result = parse_credentials(wire, credentials);
  ASSERT_EQ(result.status, ParseStatus::Done) << result.error;
  EXPECT_EQ(result.consumed, wire.size());
  EXPECT_EQ(credentials.user, "user");
  EXPECT_EQ(credentials.password, "secret");
}

TEST(Socks5Credentials, NeedsEveryByte) {
  expect_needs_every_byte(hex("01 01 75 01 70"), credentials_parser);
  expect_needs_every_byte(hex("01 04 75 73 65 72 06 73 65 63 72 65 74"), credentials_parser);
}

TEST(Socks5Credentials, LongestIsCapAndConsumedExactly) {
  Bytes wire;
  encode_credentials(wire, std::string(255, 'u'), std::string(255, 'p'));
  ASSERT_EQ(wire.size(), kMaxUserPass);
  Credentials credentials;
  const ParseResult result = parse_credentials(concat(wire, kPipelined), credentials);
  ASSERT_EQ(result.status, ParseStatus::Done);
  EXPECT_EQ(result.consumed, kMaxUserPass);
  EXPECT_EQ(credentials.user, std::string(255, 'u'));
  EXPECT_EQ(credentials.password, std::string(255, 'p'));
  expect_needs_every_byte(wire, credentials_parser);
}

TEST(Socks5Credentials, BytesAreOpaque) {
  const std::string user("u\0\xff", 3);
  const std::string password(" \r\n", 3);
  Bytes wire;
  encode_credentials(wire, user, password);
  EXPECT_EQ(wire, hex("01 03 75 00 ff 03 20 0d 0a"));
  Credentials credentials;
  ASSERT_EQ(parse_credentials(wire, credentials).status, ParseStatus::Done);
  EXPECT_EQ(credentials.user, user);
  EXPECT_EQ(credentials.password, password);
}

TEST(Socks5Credentials, WrongVersionIsError) {
  // A client that skipped the sub-negotiation and sent its request.
  Credentials credentials;
  const ParseResult result = parse_credentials(hex("05 01 00 01 c0 00 02 01 00 19"), credentials);
  ASSERT_EQ(result.status, ParseStatus::Error);
  EXPECT_NE(result.error.find("RFC 1929"), std::string::npos) << result.error;
  expect_error_from(hex("05 01 75 01 70"), 1, Reply::GeneralFailure, credentials_parser);
  expect_error_from(hex("00 01 75 01 70"), 1, Reply::GeneralFailure, credentials_parser);
}

TEST(Socks5Credentials, EmptyUserIsError) {
  expect_error_from(hex("01 00 01 70"), 2, Reply::GeneralFailure, credentials_parser);
}

TEST(Socks5Credentials, EmptyPasswordIsErrorWithoutEchoingUser) {
  const Bytes wire = hex("01 04 7a 71 39 78 00");  // user "zq9x"
  expect_error_from(wire, wire.size(), Reply::GeneralFailure, credentials_parser);
  Credentials credentials;
  EXPECT_EQ(parse_credentials(wire, credentials).error.find("zq9x"), std::string::npos);
}

TEST(Socks5Credentials, ClientRefusesEmptyOrOversizedFields) {
  Bytes out;
  EXPECT_THROW(encode_credentials(out, "", "p"), std::invalid_argument);
  EXPECT_THROW(encode_credentials(out, "u", ""), std::invalid_argument);
  EXPECT_THROW(encode_credentials(out, std::string(256, 'u'), "p"), std::invalid_argument);
  EXPECT_THROW(encode_credentials(out, "u", std::string(256, 'p')), std::invalid_argument);
  EXPECT_TRUE(out.empty());
  encode_credentials(out, "u", "p");
  EXPECT_EQ(out, hex("01 01 75 01 70"));
}

// ---------------------------------------------------------------- auth status

TEST(Socks5AuthStatus, EncodesExactBytes) {
  Bytes out;
  encode_auth_status(out, true);
  encode_auth_status(out, false);
  EXPECT_EQ(out, hex("01 00 01 01"));
}

TEST(Socks5AuthStatus, RoundTrips) {
  for (bool ok : {true, false}) {
    Bytes wire;
    encode_auth_status(wire, ok);
    bool parsed = !ok;
    const ParseResult result = parse_auth_status(wire, parsed);
    ASSERT_EQ(result.status, ParseStatus::Done);
    EXPECT_EQ(result.consumed, 2u);
    EXPECT_EQ(parsed, ok);
  }
}

TEST(Socks5AuthStatus, AnyNonZeroStatusIsFailure) {
  bool ok = true;
  ASSERT_EQ(parse_auth_status(hex("01 ff"), ok).status, ParseStatus::Done);
  EXPECT_FALSE(ok);
}

TEST(Socks5AuthStatus, NeedsEveryByte) {
  expect_needs_every_byte(hex("01 00"), auth_status_parser);
}

TEST(Socks5AuthStatus, WrongVersionIsError) {
  expect_error_from(hex("05 00"), 1, Reply::GeneralFailure, auth_status_parser);
}

// ---------------------------------------------------------------- request

TEST(Socks5Request, ParsesIPv4Connect) {
  Request request;
  const ParseResult result = parse_request(hex("05 01 00 01 c0 00 02 01 00 19"), request);
  ASSERT_EQ(result.status, ParseStatus::Done) << result.error;
  EXPECT_EQ(result.consumed, 10u);
  EXPECT_EQ(request.command, Command::Connect);
  EXPECT_EQ(request.target, Target::ipv4({192, 0, 2, 1}, 25));
}

TEST(Socks5Request, ParsesDomainConnect) {
  Bytes wire = hex("05 01 00 03 0e");
  wire = concat(wire, text_bytes("mx.example.org"));
  wire = concat(wire, hex("00 19"));
  Request request;
  const ParseResult result = parse_request(wire, request);
  ASSERT_EQ(result.status, ParseStatus::Done) << result.error;
  EXPECT_EQ(result.consumed, wire.size());
  EXPECT_EQ(request.target, Target::domain_name("mx.example.org", 25));
}

TEST(Socks5Request, ParsesIPv6Connect) {
  Request request;
  const Bytes wire = hex("05 01 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 00 19");
  ASSERT_EQ(parse_request(wire, request).status, ParseStatus::Done);
  EXPECT_EQ(request.target, Target::ipv6(kDocIPv6, 25));
}

TEST(Socks5Request, BindAndUdpAssociateParseForTheCallerToRefuse) {
  for (Command command : {Command::Bind, Command::UdpAssociate}) {
    Bytes wire;
    encode_request(wire, command, Target::ipv4({0, 0, 0, 0}, 0));
    Request request;
    ASSERT_EQ(parse_request(wire, request).status, ParseStatus::Done);
    EXPECT_EQ(request.command, command);
  }
}

TEST(Socks5Request, EncodesExactBytes) {
  Bytes out;
  encode_request(out, Command::Connect, Target::domain_name("a", 25));
  EXPECT_EQ(out, hex("05 01 00 03 01 61 00 19"));
}

TEST(Socks5Request, RoundTripsEveryTargetAndCommand) {
  for (Command command : {Command::Connect, Command::Bind, Command::UdpAssociate}) {
    for (const Target& target : sample_targets()) {
      SCOPED_TRACE(target.to_string());
      Bytes wire;
      encode_request(wire, command, target);
      EXPECT_LE(wire.size(), kMaxRequest);
      Request request;
      const ParseResult result = parse_request(wire, request);
      ASSERT_EQ(result.status, ParseStatus::Done) << result.error;
      EXPECT_EQ(result.consumed, wire.size());
      EXPECT_EQ(request.command, command);
      EXPECT_EQ(request.target, target);
      expect_needs_every_byte(wire, request_parser);
    }
  }
}

TEST(Socks5Request, LongestIsCap) {
  Bytes wire;
  encode_request(wire, Command::Connect, Target::domain_name(std::string(255, 'x'), 25));
  EXPECT_EQ(wire.size(), kMaxRequest);
}

TEST(Socks5Request, PipelinedSmtpStaysWithCaller) {
  Bytes wire;
  encode_request(wire, Command::Connect, Target::domain_name("mx.example.org", 25));
  const size_t request_size = wire.size();
  wire = concat(wire, kPipelined);
  Request request;
  const ParseResult result = parse_request(wire, request);
  ASSERT_EQ(result.status, ParseStatus::Done);
  ASSERT_EQ(result.consumed, request_size);
  EXPECT_EQ(Bytes(wire.begin() + static_cast<ptrdiff_t>(result.consumed), wire.end()), kPipelined);
}

TEST(Socks5Request, NonZeroReservedByteIsTolerated) {
  Request request;
  const ParseResult result = parse_request(hex("05 01 ff 01 c0 00 02 01 00 19"), request);
  ASSERT_EQ(result.status, ParseStatus::Done);
  EXPECT_EQ(request.target, Target::ipv4({192, 0, 2, 1}, 25));
}

TEST(Socks5Request, WrongVersionIsError) {
  expect_error_from(hex("04 01 00 19 c0 00 02 01 00"), 1, Reply::GeneralFailure, request_parser);
  Request request;
  EXPECT_EQ(parse_request(hex("04"), request).error.rfind("version 4 is not SOCKS5", 0), 0u);
}

TEST(Socks5Request, UnknownCommandIsCommandNotSupported) {
  for (int command : {0x00, 0x04, 0x05, 0x80, 0xff}) {
    SCOPED_TRACE(command);
    const Bytes wire = {0x05, static_cast<uint8_t>(command), 0x00, 0x01, 192, 0, 2, 1, 0x00, 0x19};
    expect_error_from(wire, 2, Reply::CommandNotSupported, request_parser);
  }
}

TEST(Socks5Request, UnknownAddressTypeIsAddressTypeNotSupported) {
  for (int atyp : {0x00, 0x02, 0x05, 0xff}) {
    SCOPED_TRACE(atyp);
    const Bytes wire = {0x05, 0x01, 0x00, static_cast<uint8_t>(atyp), 192, 0, 2, 1, 0x00, 0x19};
    expect_error_from(wire, 4, Reply::AddressTypeNotSupported, request_parser);
  }
}

TEST(Socks5Request, EmptyDomainIsGeneralFailure) {
  expect_error_from(hex("05 01 00 03 00 00 19"), 5, Reply::GeneralFailure, request_parser);
}

TEST(Socks5Request, DomainWithNulIsGeneralFailure) {
  // "mx\0evil" would reach getaddrinfo as "mx".
  const Bytes wire = hex("05 01 00 03 07 6d 78 00 65 76 69 6c 00 19");
  expect_error_from(wire, wire.size(), Reply::GeneralFailure, request_parser);
}

TEST(Socks5Request, OutputUntouchedOnError) {
  Request request{Command::Bind, Target::ipv4({1, 2, 3, 4}, 5)};
  const Request before = request;
  ASSERT_EQ(parse_request(hex("05 01 00 03 02 20 20 00 19"), request).status, ParseStatus::Error);
  EXPECT_EQ(request.command, before.command);
  EXPECT_EQ(request.target, before.target);
}

// ---------------------------------------------------------------- reply

TEST(Socks5Reply, EncodesLoopbackExactlyAsRfc1928) {
  Bytes out;
  encode_reply(out, Reply::Succeeded, Target::ipv4({127, 0, 0, 1}, 1080));
  EXPECT_EQ(out, hex("05 00 00 01 7f 00 00 01 04 38"));
}

TEST(Socks5Reply, EncodesIPv6AndDomainBound) {
  Bytes v6;
  encode_reply(v6, Reply::ConnectionRefused, Target::ipv6(kDocIPv6, 25));
  EXPECT_EQ(v6, hex("05 05 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 00 19"));
  Bytes domain;
  encode_reply(domain, Reply::HostUnreachable, Target::domain_name("a", 25));
  EXPECT_EQ(domain, hex("05 04 00 03 01 61 00 19"));
}

TEST(Socks5Reply, EveryCodeRoundTrips) {
  for (Reply reply : kAllReplies) {
    SCOPED_TRACE(reply_name(reply));
    const Target bound = Target::ipv4({198, 51, 100, 7}, 40001);
    Bytes wire;
    encode_reply(wire, reply, bound);
    ASSERT_EQ(wire.size(), 10u);
    EXPECT_EQ(wire[1], static_cast<uint8_t>(reply));
    ReplyMessage parsed;
    const ParseResult result = parse_reply(wire, parsed);
    ASSERT_EQ(result.status, ParseStatus::Done) << result.error;
    EXPECT_EQ(result.consumed, wire.size());
    EXPECT_EQ(parsed.reply, reply);
    EXPECT_EQ(parsed.bound, bound);
  }
}

TEST(Socks5Reply, EveryBoundTypeRoundTripsAndNeedsEveryByte) {
  for (const Target& bound : sample_targets()) {
    SCOPED_TRACE(bound.to_string());
    Bytes wire;
    encode_reply(wire, Reply::Succeeded, bound);
    EXPECT_LE(wire.size(), kMaxReply);
    ReplyMessage parsed;
    ASSERT_EQ(parse_reply(wire, parsed).status, ParseStatus::Done);
    EXPECT_EQ(parsed.bound, bound);
    expect_needs_every_byte(wire, reply_parser);
  }
}

TEST(Socks5Reply, UnassignedCodeIsError) {
  for (int code : {0x09, 0x5a, 0xff}) {
    SCOPED_TRACE(code);
    const Bytes wire = {0x05, static_cast<uint8_t>(code), 0x00, 0x01, 127, 0, 0, 1, 0x04, 0x38};
    expect_error_from(wire, 2, Reply::GeneralFailure, reply_parser);
  }
}

TEST(Socks5Reply, WrongVersionIsError) {
  // A SOCKS4 server's "request granted".
  expect_error_from(hex("00 5a 00 00 00 00 00 00"), 1, Reply::GeneralFailure, reply_parser);
}

TEST(Socks5Reply, UnknownAddressTypeIsError) {
  expect_error_from(hex("05 00 00 02 7f 00 00 01 04 38"), 4, Reply::AddressTypeNotSupported,
                    reply_parser);
}

TEST(Socks5Reply, NonZeroReservedByteIsTolerated) {
  ReplyMessage parsed;
  ASSERT_EQ(parse_reply(hex("05 00 01 01 7f 00 00 01 04 38"), parsed).status, ParseStatus::Done);
  EXPECT_EQ(parsed.bound, Target::ipv4({127, 0, 0, 1}, 1080));
}

// ---------------------------------------------------------------- whole conversations

// A client that sends greeting, credentials and request back to back (as
// optimistic clients do) is parsed message by message from one buffer.
TEST(Socks5Conversation, ClientBytesParseOnServerSide) {
  const std::array<uint8_t, 1> methods = {kMethodUserPass};
  const Target target = Target::domain_name("mx.example.org", 25);
  Bytes wire;
  encode_greeting(wire, methods);
  encode_credentials(wire, "tenant", "hunter2");
  encode_request(wire, Command::Connect, target);
  wire = concat(wire, kPipelined);

  ByteView rest = wire;
  Greeting greeting;
  ParseResult result = parse_greeting(rest, greeting);
  ASSERT_EQ(result.status, ParseStatus::Done);
  EXPECT_EQ(greeting.methods, Bytes{kMethodUserPass});
  rest = rest.subspan(result.consumed);

  Credentials credentials;
  result = parse_credentials(rest, credentials);
  ASSERT_EQ(result.status, ParseStatus::Done);
  EXPECT_EQ(credentials.user, "tenant");
  EXPECT_EQ(credentials.password, "hunter2");
  rest = rest.subspan(result.consumed);

  Request request;
  result = parse_request(rest, request);
  ASSERT_EQ(result.status, ParseStatus::Done);
  EXPECT_EQ(request.command, Command::Connect);
  EXPECT_EQ(request.target, target);
  rest = rest.subspan(result.consumed);
  EXPECT_EQ(Bytes(rest.begin(), rest.end()), kPipelined);
}

TEST(Socks5Conversation, ServerBytesParseOnClientSide) {
  const Target bound = Target::ipv6(kDocIPv6, 50000);
  Bytes wire;
  encode_method_selection(wire, kMethodUserPass);
  encode_auth_status(wire, true);
  encode_reply(wire, Reply::Succeeded, bound);
  EXPECT_EQ(Bytes(wire.begin(), wire.begin() + 4), hex("05 02 01 00"));
  wire = concat(wire, text_bytes("220 mx.example.org ESMTP\r\n"));

  ByteView rest = wire;
  uint8_t method = 0;
  ParseResult result = parse_method_selection(rest, method);
  ASSERT_EQ(result.status, ParseStatus::Done);
  EXPECT_EQ(method, kMethodUserPass);
  rest = rest.subspan(result.consumed);

  bool ok = false;
  result = parse_auth_status(rest, ok);
  ASSERT_EQ(result.status, ParseStatus::Done);
  EXPECT_TRUE(ok);
  rest = rest.subspan(result.consumed);

  ReplyMessage reply;
  result = parse_reply(rest, reply);
  ASSERT_EQ(result.status, ParseStatus::Done);
  EXPECT_EQ(reply.reply, Reply::Succeeded);
  EXPECT_EQ(reply.bound, bound);
  rest = rest.subspan(result.consumed);
  EXPECT_EQ(Bytes(rest.begin(), rest.end()), text_bytes("220 mx.example.org ESMTP\r\n"));
}

}  // namespace
}  // namespace mx::socks5
