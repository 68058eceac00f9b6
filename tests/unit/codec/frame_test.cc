// Tier (a): the tunnel frame codec, without sockets. Every frame type round
// trips, every split of the input needs more until the frame is whole, bad
// headers are errors, and the typed payloads (AUTH, AUTH_RESULT, CONNECT,
// CONNECT_REPLY) round trip, skip well-formed extensions and refuse truncated ones.
#include "mxegress/codec/frame.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

namespace mx {
// static: other test files may print Targets too, and must not collide at link time.
static void PrintTo(const Target& target, std::ostream* os) { *os << target.to_string(); }
}  // namespace mx

namespace mx::frame {

static std::ostream& operator<<(std::ostream& os, DecodeStatus status) {
  switch (status) {
    case DecodeStatus::NeedMore:
      return os << "NeedMore";
    case DecodeStatus::Ok:
      return os << "Ok";
    case DecodeStatus::Error:
      return os << "Error";
  }
  return os << "DecodeStatus(?)";
}

static std::ostream& operator<<(std::ostream& os, Type type) { return os << type_name(type); }

namespace {

// "02 0004 00" -> {0x02, 0x00, 0x04, 0x00}; spaces are ignored.
Bytes hex(std::string_view text) {
  Bytes out;
  std::string digits;
  for (char c : text) {
    if (c != ' ') digits.push_back(c);
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes text_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes pattern(size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 7 + 3);
  return out;
}

// The payload of a frame: whatever follows the 3-byte header.
Bytes payload_of(const Bytes& frame) { return Bytes(frame.begin() + kHeaderSize, frame.end()); }

// Two extensions: type 0x07 with "abc", and type 0xfe with an empty value.
const Bytes kExtensions = hex("07 0003 616263  fe 0000");

constexpr std::array<Type, 12> kAllTypes = {
    Type::Auth, Type::AuthResult, Type::Connect, Type::ConnectReply, Type::Data, Type::Fin,
    Type::Rst,  Type::Ping,       Type::Pong,    Type::GoAway,       Type::End,  Type::Window};

const std::array<uint8_t, 16> kDocIPv6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0, 1};  // 2001:db8::1

std::vector<Target> sample_targets() {
  return {Target::ipv4({192, 0, 2, 1}, 25), Target::ipv4({255, 255, 255, 255}, 65535),
          Target::ipv6(kDocIPv6, 25), Target::domain_name("mx.example.org", 25),
          Target::domain_name(std::string(255, 'x'), 465)};
}

AuthMessage sample_auth() {
  AuthMessage msg;
  msg.version = kProtocolVersion;
  for (size_t i = 0; i < msg.public_key.size(); ++i) msg.public_key[i] = static_cast<uint8_t>(i);
  for (size_t i = 0; i < msg.signature.size(); ++i) {
    msg.signature[i] = static_cast<uint8_t>(0xff - i);
  }
  return msg;
}

// ---- The frame layer ---------------------------------------------------------

TEST(FrameTest, EveryTypeRoundTrips) {
  for (Type type : kAllTypes) {
    SCOPED_TRACE(type_name(type));
    EXPECT_TRUE(is_known_type(static_cast<uint8_t>(type)));
    EXPECT_STRNE(type_name(type), "UNKNOWN");
    for (size_t size : {size_t{0}, size_t{1}, size_t{8}, size_t{300}, kMaxPayload}) {
      const Bytes payload = pattern(size);
      Bytes encoded;
      encode_frame(encoded, type, payload);
      ASSERT_EQ(encoded.size(), kHeaderSize + size);
      const DecodeResult r = decode(encoded);
      ASSERT_EQ(r.status, DecodeStatus::Ok) << r.error;
      EXPECT_EQ(r.consumed, encoded.size());
      EXPECT_EQ(r.frame.type, type);
      EXPECT_EQ(Bytes(r.frame.payload.begin(), r.frame.payload.end()), payload);
      EXPECT_TRUE(r.error.empty());
    }
  }
}

TEST(FrameTest, TypeNamesMatchTheProtocolDocument) {
  EXPECT_STREQ(type_name(Type::Auth), "AUTH");
  EXPECT_STREQ(type_name(Type::AuthResult), "AUTH_RESULT");
  EXPECT_STREQ(type_name(Type::Connect), "CONNECT");
  EXPECT_STREQ(type_name(Type::ConnectReply), "CONNECT_REPLY");
  EXPECT_STREQ(type_name(Type::Data), "DATA");
  EXPECT_STREQ(type_name(Type::Fin), "FIN");
  EXPECT_STREQ(type_name(Type::Rst), "RST");
  EXPECT_STREQ(type_name(Type::Ping), "PING");
  EXPECT_STREQ(type_name(Type::Pong), "PONG");
  EXPECT_STREQ(type_name(Type::GoAway), "GOAWAY");
  EXPECT_STREQ(type_name(Type::End), "END");
  EXPECT_STREQ(type_name(Type::Window), "WINDOW");
  EXPECT_STREQ(type_name(static_cast<Type>(0x0d)), "UNKNOWN");
}

TEST(FrameTest, HeaderIsTypeThenBigEndianLength) {
  Bytes out;
  encode_header(out, Type::Data, 0x1234);
  EXPECT_EQ(out, hex("05 1234"));

  out.clear();
  encode_frame(out, Type::Ping, hex("0102030405060708"));
  EXPECT_EQ(out, hex("08 0008 0102030405060708"));

  out.clear();
  encode_frame(out, Type::Fin, {});
  EXPECT_EQ(out, hex("06 0000"));

  out.clear();
  encode_frame(out, Type::Data, pattern(kMaxDataPayload));
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 3), hex("05 fffc"));  // 65532
  EXPECT_EQ(out.size(), 65535u);
}

TEST(FrameTest, EncodersAppendToWhatIsAlreadyThere) {
  Bytes out = hex("aa bb");
  encode_frame(out, Type::Pong, hex("01"));
  EXPECT_EQ(out, hex("aa bb 09 0001 01"));
}

TEST(FrameTest, EverySplitNeedsMoreUntilTheFrameIsWhole) {
  for (Type type : kAllTypes) {
    SCOPED_TRACE(type_name(type));
    Bytes encoded;
    encode_frame(encoded, type, pattern(37));
    for (size_t cut = 0; cut < encoded.size(); ++cut) {
      const DecodeResult r = decode(ByteView(encoded).first(cut));
      EXPECT_EQ(r.status, DecodeStatus::NeedMore) << "cut at " << cut << ": " << r.error;
      EXPECT_EQ(r.consumed, 0u) << "cut at " << cut;
    }
    const DecodeResult whole = decode(encoded);
    ASSERT_EQ(whole.status, DecodeStatus::Ok) << whole.error;
    EXPECT_EQ(whole.consumed, encoded.size());
  }
}

TEST(FrameTest, EmptyPayloadIsWholeAfterTheHeader) {
  const Bytes fin = hex("06 0000");
  EXPECT_EQ(decode(ByteView(fin).first(2)).status, DecodeStatus::NeedMore);
  const DecodeResult r = decode(fin);
  ASSERT_EQ(r.status, DecodeStatus::Ok);
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(r.frame.type, Type::Fin);
  EXPECT_TRUE(r.frame.payload.empty());
}

TEST(FrameTest, DecodesOnlyTheFirstFrameAndLeavesTheRest) {
  Bytes stream;
  encode_frame(stream, Type::Data, text_bytes("hello"));
  encode_frame(stream, Type::Fin, {});
  const DecodeResult first = decode(stream);
  ASSERT_EQ(first.status, DecodeStatus::Ok);
  EXPECT_EQ(first.consumed, 8u);
  EXPECT_EQ(first.frame.type, Type::Data);
  EXPECT_EQ(Bytes(first.frame.payload.begin(), first.frame.payload.end()), text_bytes("hello"));
  // The payload is a view into the input, not a copy.
  EXPECT_EQ(first.frame.payload.data(), stream.data() + 3);

  const DecodeResult second = decode(ByteView(stream).subspan(first.consumed));
  ASSERT_EQ(second.status, DecodeStatus::Ok);
  EXPECT_EQ(second.consumed, 3u);
  EXPECT_EQ(second.frame.type, Type::Fin);
}

// A receiver that appends whatever arrived and decodes in a loop gets the same
// frames however the byte stream is cut into reads.
TEST(FrameTest, StreamSplitAtEveryOffsetYieldsTheSameFrames) {
  Bytes stream;
  encode_frame(stream, Type::Ping, hex("0102030405060708"));
  encode_frame(stream, Type::Data, pattern(20));
  encode_frame(stream, Type::Fin, {});
  encode_auth(stream, sample_auth());

  for (size_t split = 0; split <= stream.size(); ++split) {
    SCOPED_TRACE("split at " + std::to_string(split));
    Bytes buffer;
    std::vector<std::pair<Type, Bytes>> frames;
    auto drain = [&] {
      for (;;) {
        const DecodeResult r = decode(buffer);
        if (r.status != DecodeStatus::Ok) {
          ASSERT_EQ(r.status, DecodeStatus::NeedMore) << r.error;
          return;
        }
        frames.emplace_back(r.frame.type, Bytes(r.frame.payload.begin(), r.frame.payload.end()));
        buffer.erase(buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(r.consumed));
      }
    };
    buffer.insert(buffer.end(), stream.begin(), stream.begin() + static_cast<ptrdiff_t>(split));
    drain();
    buffer.insert(buffer.end(), stream.begin() + static_cast<ptrdiff_t>(split), stream.end());
    drain();
    EXPECT_TRUE(buffer.empty());
    ASSERT_EQ(frames.size(), 4u);
    EXPECT_EQ(frames[0].first, Type::Ping);
    EXPECT_EQ(frames[0].second, hex("0102030405060708"));
    EXPECT_EQ(frames[1].first, Type::Data);
    EXPECT_EQ(frames[1].second, pattern(20));
    EXPECT_EQ(frames[2].first, Type::Fin);
    EXPECT_TRUE(frames[2].second.empty());
    EXPECT_EQ(frames[3].first, Type::Auth);
    EXPECT_EQ(frames[3].second.size(), 97u);
  }
}

TEST(FrameTest, UnknownTypeIsAnError) {
  for (int type : {0x00, 0x0d, 0x10, 0x7f, 0x80, 0xff}) {
    SCOPED_TRACE("type " + std::to_string(type));
    EXPECT_FALSE(is_known_type(static_cast<uint8_t>(type)));
    Bytes in = {static_cast<uint8_t>(type), 0x00, 0x02, 0xaa, 0xbb};
    const DecodeResult r = decode(in);
    EXPECT_EQ(r.status, DecodeStatus::Error);
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_NE(r.error.find("unknown frame type"), std::string::npos) << r.error;
    // Known from the header alone: the payload need not arrive first.
    EXPECT_EQ(decode(ByteView(in).first(3)).status, DecodeStatus::Error);
  }
}

TEST(FrameTest, LengthAboveTheMaximumIsAnError) {
  EXPECT_EQ(kMaxPayload, 65532u);
  for (size_t len : {kMaxPayload + 1, size_t{65534}, size_t{0xffff}}) {
    SCOPED_TRACE("length " + std::to_string(len));
    Bytes header;
    encode_header(header, Type::Data, len);
    // An error from the header alone: the receiver must not wait for (or buffer) the payload.
    const DecodeResult r = decode(header);
    EXPECT_EQ(r.status, DecodeStatus::Error);
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_NE(r.error.find("exceeds the maximum"), std::string::npos) << r.error;
  }
  Bytes at_max;
  encode_frame(at_max, Type::Data, pattern(kMaxPayload));
  EXPECT_EQ(decode(at_max).status, DecodeStatus::Ok);
  EXPECT_EQ(decode(ByteView(at_max).first(at_max.size() - 1)).status, DecodeStatus::NeedMore);
}

// ---- Typed payloads: exact bytes from docs/PROTOCOL.md -------------------------

TEST(FrameTest, AuthHasTheDocumentedLayout) {
  Bytes out;
  encode_auth(out, sample_auth());
  ASSERT_EQ(out.size(), 3u + 97u);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 4), hex("01 0061 01"));
  EXPECT_EQ(out[4], 0x00);       // first key byte
  EXPECT_EQ(out[4 + 31], 31);    // last key byte
  EXPECT_EQ(out[4 + 32], 0xff);  // first signature byte
  EXPECT_EQ(out.back(), 0xff - 63);
}

TEST(FrameTest, EndMatchesTheProtocolExample) {
  Bytes out;
  encode_frame(out, Type::End, text_bytes("closed"));
  EXPECT_EQ(out, hex("0b 0006 636c6f736564"));
}

TEST(FrameTest, AuthResultMatchesTheProtocolExample) {
  Bytes out;
  encode_auth_result(out, {AuthStatus::Ok, "ok", std::nullopt});
  EXPECT_EQ(out, hex("02 0004 00 02 6f6b"));
}

TEST(FrameTest, ConnectMatchesTheProtocolExample) {
  Bytes out;
  encode_connect(out, Target::domain_name("mx.example.org", 25));
  EXPECT_EQ(out, hex("03 0012 03 0e 6d782e6578616d706c652e6f7267 0019"));
}

TEST(FrameTest, ConnectReplyMatchesTheProtocolExample) {
  Bytes out;
  encode_connect_reply(out, {0x00, Target::ipv4({203, 0, 113, 10}, 54321)});
  EXPECT_EQ(out, hex("04 0008 00 01 cb00710a d431"));
}

// ---- Typed payloads: round trips ----------------------------------------------

TEST(FrameTest, AuthRoundTrips) {
  const AuthMessage sent = sample_auth();
  Bytes out;
  encode_auth(out, sent);
  const DecodeResult r = decode(out);
  ASSERT_EQ(r.status, DecodeStatus::Ok);
  ASSERT_EQ(r.frame.type, Type::Auth);
  const auto got = parse_auth(r.frame.payload);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->version, sent.version);
  EXPECT_EQ(got->public_key, sent.public_key);
  EXPECT_EQ(got->signature, sent.signature);

  AuthMessage future = sent;
  future.version = 7;  // parsed as is; the server answers UnsupportedVersion
  out.clear();
  encode_auth(out, future);
  const auto got_future = parse_auth(payload_of(out));
  ASSERT_TRUE(got_future);
  EXPECT_EQ(got_future->version, 7);
}

TEST(FrameTest, AuthShorterThanItsFixedFieldsIsRefused) {
  Bytes out;
  encode_auth(out, sample_auth());
  const Bytes payload = payload_of(out);
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    EXPECT_FALSE(parse_auth(ByteView(payload).first(cut))) << "cut at " << cut;
  }
}

TEST(FrameTest, AuthResultRoundTripsEveryStatus) {
  for (uint8_t code = 0; code <= 5; ++code) {
    const AuthResultMessage sent{static_cast<AuthStatus>(code), "reason " + std::to_string(code),
                                 std::nullopt};
    SCOPED_TRACE(auth_status_name(sent.status));
    EXPECT_STRNE(auth_status_name(sent.status), "unknown status");
    Bytes out;
    encode_auth_result(out, sent);
    const DecodeResult r = decode(out);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    ASSERT_EQ(r.frame.type, Type::AuthResult);
    const auto got = parse_auth_result(r.frame.payload);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, sent.status);
    EXPECT_EQ(got->reason, sent.reason);
  }
}

TEST(FrameTest, AuthResultWithEmptyReasonRoundTrips) {
  Bytes out;
  encode_auth_result(out, {AuthStatus::UnknownKey, "", std::nullopt});
  EXPECT_EQ(out, hex("02 0002 01 00"));
  const auto got = parse_auth_result(payload_of(out));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, AuthStatus::UnknownKey);
  EXPECT_TRUE(got->reason.empty());
}

TEST(FrameTest, AuthResultReasonIsCutTo255Bytes) {
  Bytes out;
  encode_auth_result(out, {AuthStatus::NotAllowed, std::string(300, 'r'), std::nullopt});
  EXPECT_EQ(out.size(), 3u + 2u + 255u);
  const auto got = parse_auth_result(payload_of(out));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->reason, std::string(255, 'r'));
}

TEST(FrameTest, AuthResultWithReasonPastTheEndIsRefused) {
  EXPECT_FALSE(parse_auth_result({}));
  EXPECT_FALSE(parse_auth_result(hex("00")));
  EXPECT_FALSE(parse_auth_result(hex("00 05 6f6b")));  // says 5 bytes, holds 2
}

TEST(FrameTest, ConnectRoundTripsEveryAddressType) {
  for (const Target& sent : sample_targets()) {
    SCOPED_TRACE(sent.to_string());
    Bytes out;
    encode_connect(out, sent);
    const DecodeResult r = decode(out);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    ASSERT_EQ(r.frame.type, Type::Connect);
    bool bad_address_type = true;
    const auto got = parse_connect(r.frame.payload, bad_address_type);
    ASSERT_TRUE(got);
    EXPECT_FALSE(bad_address_type);
    EXPECT_EQ(*got, sent);
  }
}

TEST(FrameTest, ConnectReplyRoundTrips) {
  for (uint8_t reply : {0x00, 0x01, 0x02, 0x05, 0x08}) {
    for (const Target& bound : sample_targets()) {
      SCOPED_TRACE(std::to_string(reply) + " " + bound.to_string());
      Bytes out;
      encode_connect_reply(out, {reply, bound});
      const DecodeResult r = decode(out);
      ASSERT_EQ(r.status, DecodeStatus::Ok);
      ASSERT_EQ(r.frame.type, Type::ConnectReply);
      const auto got = parse_connect_reply(r.frame.payload);
      ASSERT_TRUE(got);
      EXPECT_EQ(got->reply, reply);
      EXPECT_EQ(got->bound, bound);
    }
  }
}

TEST(FrameTest, TruncatedAddressesAreRefused) {
  Bytes connect;
  encode_connect(connect, Target::domain_name("mx.example.org", 25));
  const Bytes connect_payload = payload_of(connect);
  Bytes reply;
  encode_connect_reply(reply, {0x00, Target::ipv6(kDocIPv6, 25)});
  const Bytes reply_payload = payload_of(reply);
  for (size_t cut = 0; cut < connect_payload.size(); ++cut) {
    bool bad_address_type = true;
    EXPECT_FALSE(parse_connect(ByteView(connect_payload).first(cut), bad_address_type))
        << "cut at " << cut;
    EXPECT_FALSE(bad_address_type) << "cut at " << cut;
  }
  for (size_t cut = 0; cut < reply_payload.size(); ++cut) {
    EXPECT_FALSE(parse_connect_reply(ByteView(reply_payload).first(cut))) << "cut at " << cut;
  }
}

TEST(FrameTest, ConnectWithAnUnknownAddressTypeSetsBadAddressType) {
  for (uint8_t atyp : {0x00, 0x02, 0x05, 0xff}) {
    SCOPED_TRACE("ATYP " + std::to_string(atyp));
    const Bytes payload = {atyp, 192, 0, 2, 1, 0x00, 0x19};
    bool bad_address_type = false;
    EXPECT_FALSE(parse_connect(payload, bad_address_type));
    EXPECT_TRUE(bad_address_type);
    // The server answers 0x08 from the ATYP byte alone.
    bad_address_type = false;
    EXPECT_FALSE(parse_connect(ByteView(payload).first(1), bad_address_type));
    EXPECT_TRUE(bad_address_type);
  }
  // A later good CONNECT clears the flag.
  bool bad_address_type = true;
  EXPECT_TRUE(parse_connect(hex("01 c0000201 0019"), bad_address_type));
  EXPECT_FALSE(bad_address_type);
  // A malformed address of a known type is not an address-type problem.
  EXPECT_FALSE(parse_connect(hex("03 00 0019"), bad_address_type));  // empty name
  EXPECT_FALSE(bad_address_type);
  EXPECT_FALSE(parse_connect_reply(hex("00 05 c0000201 0019")));
}

// ---- Extensions after the fixed fields -----------------------------------------

TEST(FrameTest, ExtensionsAfterTheFixedFieldsAreSkipped) {
  Bytes auth;
  encode_auth(auth, sample_auth());
  const auto got_auth = parse_auth(concat(payload_of(auth), kExtensions));
  ASSERT_TRUE(got_auth);
  EXPECT_EQ(got_auth->public_key, sample_auth().public_key);
  EXPECT_EQ(got_auth->signature, sample_auth().signature);

  Bytes result;
  encode_auth_result(result, {AuthStatus::BadSignature, "no", std::nullopt});
  const auto got_result = parse_auth_result(concat(payload_of(result), kExtensions));
  ASSERT_TRUE(got_result);
  EXPECT_EQ(got_result->status, AuthStatus::BadSignature);
  EXPECT_EQ(got_result->reason, "no");

  for (const Target& target : sample_targets()) {
    SCOPED_TRACE(target.to_string());
    Bytes connect;
    encode_connect(connect, target);
    bool bad_address_type = true;
    const auto got_connect =
        parse_connect(concat(payload_of(connect), kExtensions), bad_address_type);
    ASSERT_TRUE(got_connect);
    EXPECT_FALSE(bad_address_type);
    EXPECT_EQ(*got_connect, target);

    Bytes reply;
    encode_connect_reply(reply, {0x05, target});
    const auto got_reply = parse_connect_reply(concat(payload_of(reply), kExtensions));
    ASSERT_TRUE(got_reply);
    EXPECT_EQ(got_reply->reply, 0x05);
    EXPECT_EQ(got_reply->bound, target);
  }
}

TEST(FrameTest, AnExtensionWithAMaximalLengthIsSkipped) {
  Bytes auth;
  encode_auth(auth, sample_auth());
  Bytes extension = hex("01 ffff");
  extension.resize(3 + 0xffff, 0x5a);
  EXPECT_TRUE(parse_auth(concat(payload_of(auth), extension)));
}

TEST(FrameTest, ATruncatedExtensionMakesEveryParserFail) {
  Bytes auth;
  encode_auth(auth, sample_auth());
  Bytes result;
  encode_auth_result(result, {AuthStatus::Ok, "ok", std::nullopt});
  Bytes connect;
  encode_connect(connect, Target::ipv4({192, 0, 2, 1}, 25));
  Bytes reply;
  encode_connect_reply(reply, {0x00, Target::ipv4({192, 0, 2, 1}, 25)});

  // Every strict, non-empty prefix of the extension list is malformed except the
  // one that ends exactly after the first extension.
  const size_t first_extension_end = 6;
  for (size_t cut = 1; cut < kExtensions.size(); ++cut) {
    if (cut == first_extension_end) continue;
    SCOPED_TRACE("extensions cut at " + std::to_string(cut));
    const Bytes tail(kExtensions.begin(), kExtensions.begin() + static_cast<ptrdiff_t>(cut));
    EXPECT_FALSE(parse_auth(concat(payload_of(auth), tail)));
    EXPECT_FALSE(parse_auth_result(concat(payload_of(result), tail)));
    bool bad_address_type = true;
    EXPECT_FALSE(parse_connect(concat(payload_of(connect), tail), bad_address_type));
    EXPECT_FALSE(bad_address_type);
    EXPECT_FALSE(parse_connect_reply(concat(payload_of(reply), tail)));
  }
  // An extension claiming more bytes than the payload holds.
  EXPECT_FALSE(parse_auth(concat(payload_of(auth), hex("01 0004 aabbcc"))));
  // A stray byte after the fixed fields is not an extension.
  EXPECT_FALSE(parse_auth_result(concat(payload_of(result), hex("00"))));
}

TEST(FrameTest, AuthStatusNames) {
  EXPECT_STREQ(auth_status_name(AuthStatus::Ok), "ok");
  EXPECT_STREQ(auth_status_name(AuthStatus::UnknownKey), "unknown key");
  EXPECT_STREQ(auth_status_name(AuthStatus::BadSignature), "bad signature");
  EXPECT_STREQ(auth_status_name(AuthStatus::UnsupportedVersion), "unsupported protocol version");
  EXPECT_STREQ(auth_status_name(AuthStatus::NotAllowed), "not allowed");
  EXPECT_STREQ(auth_status_name(AuthStatus::Malformed), "malformed AUTH");
  EXPECT_STREQ(auth_status_name(static_cast<AuthStatus>(6)), "unknown status");
}

// The multiplexed mode (docs/PROTOCOL.md).

TEST(FrameTest, TheMuxExtensionRoundTripsInAuthAndAuthResult) {
  AuthMessage auth;
  auth.public_key.fill(0x11);
  auth.signature.fill(0x22);
  auth.mux_window = 0x00100000;
  Bytes out;
  encode_auth(out, auth);
  // The fixed fields, then extension 1 with a 4-byte big-endian window.
  EXPECT_EQ(Bytes(out.end() - 7, out.end()), hex("01 0004 00100000"));
  auto parsed = parse_auth(payload_of(out));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->mux_window, std::optional<uint32_t>(0x00100000));

  AuthResultMessage result{AuthStatus::Ok, "ok", 65536};
  Bytes reply;
  encode_auth_result(reply, result);
  auto parsed_result = parse_auth_result(payload_of(reply));
  ASSERT_TRUE(parsed_result);
  EXPECT_EQ(parsed_result->mux_window, std::optional<uint32_t>(65536));
}

TEST(FrameTest, WithoutTheMuxExtensionAuthIsVersionOneExactly) {
  AuthMessage auth;
  Bytes out;
  encode_auth(out, auth);
  EXPECT_EQ(out.size(), kHeaderSize + 97u);
  EXPECT_FALSE(parse_auth(payload_of(out))->mux_window);
  // Other extensions are still skipped, and a mux extension of the wrong
  // size is ignored rather than misread.
  Bytes payload = payload_of(out);
  const Bytes odd = hex("07 0003 616263  01 0002 0001");
  payload.insert(payload.end(), odd.begin(), odd.end());
  auto parsed = parse_auth(payload);
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->mux_window);
}

TEST(FrameTest, SessionFramesStartWithTheSessionId) {
  Bytes out;
  encode_connect(out, Target::ipv4({192, 0, 2, 1}, 25), 7);
  EXPECT_EQ(out, hex("03 000b 00000007 01 c0000201 0019"));
  const Bytes connect_payload = payload_of(out);
  auto sf = split_session(connect_payload);
  ASSERT_TRUE(sf);
  EXPECT_EQ(sf->session, 7u);
  bool bad_type = false;
  auto target = parse_connect(sf->body, bad_type);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->to_string(), "192.0.2.1:25");

  Bytes reply;
  encode_connect_reply(reply, {0, Target::ipv4({192, 0, 2, 9}, 40000)}, 0xfffffffd);
  const Bytes reply_payload = payload_of(reply);
  sf = split_session(reply_payload);
  ASSERT_TRUE(sf);
  EXPECT_EQ(sf->session, 0xfffffffdu);
  EXPECT_TRUE(parse_connect_reply(sf->body));

  Bytes data;
  encode_session_frame(data, Type::Data, 3, as_bytes("hi"));
  EXPECT_EQ(data, hex("05 0006 00000003 6869"));
  EXPECT_FALSE(split_session(hex("000000")));
}

TEST(FrameTest, WindowCarriesANonZeroIncrement) {
  Bytes out;
  encode_window(out, 5, 524288);
  EXPECT_EQ(out, hex("0c 0008 00000005 00080000"));
  const Bytes payload = payload_of(out);
  auto sf = split_session(payload);
  ASSERT_TRUE(sf);
  EXPECT_EQ(parse_window(sf->body), std::optional<uint32_t>(524288));
  EXPECT_FALSE(parse_window(hex("00000000")));
  EXPECT_FALSE(parse_window(hex("000001")));
  EXPECT_FALSE(parse_window(hex("0000000100")));
}

TEST(FrameTest, OnlyPerSessionFramesAreSessionFrames) {
  for (Type type : kAllTypes) {
    const bool expected = type == Type::Connect || type == Type::ConnectReply ||
                          type == Type::Data || type == Type::Fin || type == Type::Rst ||
                          type == Type::Window;
    EXPECT_EQ(is_session_frame(type), expected) << type_name(type);
  }
}

// A mux Data frame of the largest payload still fits the frame limit.
TEST(FrameTest, TheLargestMuxDataFrameDecodes) {
  Bytes out;
  encode_session_frame(out, Type::Data, 1, Bytes(kMaxMuxDataPayload, 0x5a));
  const DecodeResult r = decode(out);
  ASSERT_EQ(r.status, DecodeStatus::Ok);
  EXPECT_EQ(r.frame.payload.size(), kMaxDataPayload);
}

}  // namespace
}  // namespace mx::frame
