// Tier (a): the typed payloads of the tunnel frames (AUTH, AUTH_RESULT,
// CONNECT, CONNECT_REPLY) in protocol version 2: their exact bytes, round
// trips, extensions after the fixed fields skipped, truncations refused.
#include <gtest/gtest.h>

#include <string>

#include "frame_test_support.h"
#include "mxegress/codec/frame.h"

namespace mx::frame {
namespace {

using namespace test;  // NOLINT: the helpers of frame_test_support.h

// ---- Exact bytes --------------------------------------------------------------

// version | key (32) | signature (64) | window (u32, big endian).
TEST(FramePayloadTest, AuthHasTheDocumentedLayout) {
  Bytes out;
  encode_auth(out, sample_auth());
  ASSERT_EQ(out.size(), 3u + 101u);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 4), hex("01 0065 02"));
  EXPECT_EQ(out[4], 0x00);       // first key byte
  EXPECT_EQ(out[4 + 31], 31);    // last key byte
  EXPECT_EQ(out[4 + 32], 0xff);  // first signature byte
  EXPECT_EQ(out[4 + 32 + 63], 0xff - 63);
  EXPECT_EQ(Bytes(out.end() - 4, out.end()), hex("00400000"));
}

// status | reason length | reason | window.
TEST(FramePayloadTest, AuthResultHasTheDocumentedLayout) {
  Bytes out;
  encode_auth_result(out, {AuthStatus::Ok, "ok", 0x00400000});
  EXPECT_EQ(out, hex("02 0008 00 02 6f6b 00400000"));
}

TEST(FramePayloadTest, ConnectHasTheDocumentedLayout) {
  Bytes out;
  encode_connect(out, 1, Target::domain_name("mx.example.org", 25));
  EXPECT_EQ(out, hex("03 0016 00000001 03 0e 6d782e6578616d706c652e6f7267 0019"));
  out.clear();
  encode_connect(out, 7, Target::ipv4({192, 0, 2, 1}, 25));
  EXPECT_EQ(out, hex("03 000b 00000007 01 c0000201 0019"));
}

TEST(FramePayloadTest, ConnectReplyHasTheDocumentedLayout) {
  Bytes out;
  encode_connect_reply(out, 1, {0x00, Target::ipv4({203, 0, 113, 10}, 54321)});
  EXPECT_EQ(out, hex("04 000c 00000001 00 01 cb00710a d431"));
}

// ---- Round trips --------------------------------------------------------------

TEST(FramePayloadTest, AuthRoundTrips) {
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
  EXPECT_EQ(got->window, sent.window);
}

// Another version is parsed for its version byte alone (the server answers
// UnsupportedVersion), whatever shape the rest has.
TEST(FramePayloadTest, AnotherVersionsAuthIsParsedForItsVersionOnly) {
  AuthMessage future = sample_auth();
  future.version = 7;
  Bytes out;
  encode_auth(out, future);
  const auto got = parse_auth(payload_of(out));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->version, 7);
  EXPECT_EQ(got->window, 0u) << "the rest is not read";

  const auto short_v1 = parse_auth(hex("01 aabb"));
  ASSERT_TRUE(short_v1);
  EXPECT_EQ(short_v1->version, 1);
}

TEST(FramePayloadTest, AuthShorterThanItsFixedFieldsIsRefused) {
  Bytes out;
  encode_auth(out, sample_auth());
  const Bytes payload = payload_of(out);
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    EXPECT_FALSE(parse_auth(ByteView(payload).first(cut))) << "cut at " << cut;
  }
}

TEST(FramePayloadTest, AuthResultRoundTripsEveryStatus) {
  for (uint8_t code = 0; code <= 5; ++code) {
    const AuthResultMessage sent{static_cast<AuthStatus>(code), "reason " + std::to_string(code),
                                 code == 0 ? 65536u : 0u};
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
    EXPECT_EQ(got->window, sent.window);
  }
}

TEST(FramePayloadTest, AuthResultWithEmptyReasonRoundTrips) {
  Bytes out;
  encode_auth_result(out, {AuthStatus::UnknownKey, "", 0});
  EXPECT_EQ(out, hex("02 0006 01 00 00000000"));
  const auto got = parse_auth_result(payload_of(out));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, AuthStatus::UnknownKey);
  EXPECT_TRUE(got->reason.empty());
}

TEST(FramePayloadTest, AuthResultReasonIsCutTo255Bytes) {
  Bytes out;
  encode_auth_result(out, {AuthStatus::NotAllowed, std::string(300, 'r'), 0});
  EXPECT_EQ(out.size(), 3u + 2u + 255u + 4u);
  const auto got = parse_auth_result(payload_of(out));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->reason, std::string(255, 'r'));
}

TEST(FramePayloadTest, AuthResultWithReasonOrWindowPastTheEndIsRefused) {
  EXPECT_FALSE(parse_auth_result({}));
  EXPECT_FALSE(parse_auth_result(hex("00")));
  EXPECT_FALSE(parse_auth_result(hex("00 05 6f6b 00000000")));  // says 5 bytes, holds 2 + window
  EXPECT_FALSE(parse_auth_result(hex("00 02 6f6b")));           // no window
  EXPECT_FALSE(parse_auth_result(hex("00 02 6f6b 000001")));    // a short window
  EXPECT_TRUE(parse_auth_result(hex("00 02 6f6b 00000001")));
}

TEST(FramePayloadTest, ConnectRoundTripsEveryAddressType) {
  for (const Target& sent : sample_targets()) {
    SCOPED_TRACE(sent.to_string());
    Bytes out;
    encode_connect(out, 9, sent);
    const DecodeResult r = decode(out);
    ASSERT_EQ(r.status, DecodeStatus::Ok);
    ASSERT_EQ(r.frame.type, Type::Connect);
    const auto sf = split_session(r.frame.payload);
    ASSERT_TRUE(sf);
    EXPECT_EQ(sf->session, 9u);
    bool bad_address_type = true;
    const auto got = parse_connect(sf->body, bad_address_type);
    ASSERT_TRUE(got);
    EXPECT_FALSE(bad_address_type);
    EXPECT_EQ(*got, sent);
  }
}

TEST(FramePayloadTest, ConnectReplyRoundTrips) {
  for (uint8_t reply : {0x00, 0x01, 0x02, 0x05, 0x08}) {
    for (const Target& bound : sample_targets()) {
      SCOPED_TRACE(std::to_string(reply) + " " + bound.to_string());
      Bytes out;
      encode_connect_reply(out, 0xfffffffd, {reply, bound});
      const DecodeResult r = decode(out);
      ASSERT_EQ(r.status, DecodeStatus::Ok);
      ASSERT_EQ(r.frame.type, Type::ConnectReply);
      const auto sf = split_session(r.frame.payload);
      ASSERT_TRUE(sf);
      EXPECT_EQ(sf->session, 0xfffffffdu);
      const auto got = parse_connect_reply(sf->body);
      ASSERT_TRUE(got);
      EXPECT_EQ(got->reply, reply);
      EXPECT_EQ(got->bound, bound);
    }
  }
}

TEST(FramePayloadTest, TruncatedAddressesAreRefused) {
  Bytes connect;
  encode_connect(connect, 1, Target::domain_name("mx.example.org", 25));
  const Bytes connect_body = body_of(connect);
  Bytes reply;
  encode_connect_reply(reply, 1, {0x00, Target::ipv6(kDocIPv6, 25)});
  const Bytes reply_body = body_of(reply);
  for (size_t cut = 0; cut < connect_body.size(); ++cut) {
    bool bad_address_type = true;
    EXPECT_FALSE(parse_connect(ByteView(connect_body).first(cut), bad_address_type))
        << "cut at " << cut;
    EXPECT_FALSE(bad_address_type) << "cut at " << cut;
  }
  for (size_t cut = 0; cut < reply_body.size(); ++cut) {
    EXPECT_FALSE(parse_connect_reply(ByteView(reply_body).first(cut))) << "cut at " << cut;
  }
}

TEST(FramePayloadTest, ConnectWithAnUnknownAddressTypeSetsBadAddressType) {
  for (uint8_t atyp : {0x00, 0x02, 0x05, 0xff}) {
    SCOPED_TRACE("ATYP " + std::to_string(atyp));
    const Bytes body = {atyp, 192, 0, 2, 1, 0x00, 0x19};
    bool bad_address_type = false;
    EXPECT_FALSE(parse_connect(body, bad_address_type));
    EXPECT_TRUE(bad_address_type);
    // The server answers 0x08 from the ATYP byte alone.
    bad_address_type = false;
    EXPECT_FALSE(parse_connect(ByteView(body).first(1), bad_address_type));
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

TEST(FramePayloadTest, ExtensionsAfterTheFixedFieldsAreSkipped) {
  Bytes auth;
  encode_auth(auth, sample_auth());
  const auto got_auth = parse_auth(concat(payload_of(auth), kExtensions));
  ASSERT_TRUE(got_auth);
  EXPECT_EQ(got_auth->public_key, sample_auth().public_key);
  EXPECT_EQ(got_auth->signature, sample_auth().signature);
  EXPECT_EQ(got_auth->window, sample_auth().window);

  Bytes result;
  encode_auth_result(result, {AuthStatus::BadSignature, "no", 0});
  const auto got_result = parse_auth_result(concat(payload_of(result), kExtensions));
  ASSERT_TRUE(got_result);
  EXPECT_EQ(got_result->status, AuthStatus::BadSignature);
  EXPECT_EQ(got_result->reason, "no");

  for (const Target& target : sample_targets()) {
    SCOPED_TRACE(target.to_string());
    Bytes connect;
    encode_connect(connect, 1, target);
    bool bad_address_type = true;
    const auto got_connect = parse_connect(concat(body_of(connect), kExtensions), bad_address_type);
    ASSERT_TRUE(got_connect);
    EXPECT_FALSE(bad_address_type);
    EXPECT_EQ(*got_connect, target);

    Bytes reply;
    encode_connect_reply(reply, 1, {0x05, target});
    const auto got_reply = parse_connect_reply(concat(body_of(reply), kExtensions));
    ASSERT_TRUE(got_reply);
    EXPECT_EQ(got_reply->reply, 0x05);
    EXPECT_EQ(got_reply->bound, target);
  }
}

TEST(FramePayloadTest, AnExtensionWithAMaximalLengthIsSkipped) {
  Bytes auth;
  encode_auth(auth, sample_auth());
  Bytes extension = hex("01 ffff");
  extension.resize(3 + 0xffff, 0x5a);
  EXPECT_TRUE(parse_auth(concat(payload_of(auth), extension)));
}

TEST(FramePayloadTest, ATruncatedExtensionMakesEveryParserFail) {
  Bytes auth;
  encode_auth(auth, sample_auth());
  Bytes result;
  encode_auth_result(result, {AuthStatus::Ok, "ok", 1});
  Bytes connect;
  encode_connect(connect, 1, Target::ipv4({192, 0, 2, 1}, 25));
  Bytes reply;
  encode_connect_reply(reply, 1, {0x00, Target::ipv4({192, 0, 2, 1}, 25)});

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
    EXPECT_FALSE(parse_connect(concat(body_of(connect), tail), bad_address_type));
    EXPECT_FALSE(bad_address_type);
    EXPECT_FALSE(parse_connect_reply(concat(body_of(reply), tail)));
  }
  // An extension claiming more bytes than the payload holds.
  EXPECT_FALSE(parse_auth(concat(payload_of(auth), hex("01 0004 aabbcc"))));
  // A stray byte after the fixed fields is not an extension.
  EXPECT_FALSE(parse_auth_result(concat(payload_of(result), hex("00"))));
}

TEST(FramePayloadTest, AuthStatusNames) {
  EXPECT_STREQ(auth_status_name(AuthStatus::Ok), "ok");
  EXPECT_STREQ(auth_status_name(AuthStatus::UnknownKey), "unknown key");
  EXPECT_STREQ(auth_status_name(AuthStatus::BadSignature), "bad signature");
  EXPECT_STREQ(auth_status_name(AuthStatus::UnsupportedVersion), "unsupported protocol version");
  EXPECT_STREQ(auth_status_name(AuthStatus::NotAllowed), "not allowed");
  EXPECT_STREQ(auth_status_name(AuthStatus::Malformed), "malformed AUTH");
  EXPECT_STREQ(auth_status_name(static_cast<AuthStatus>(6)), "unknown status");
}

}  // namespace
}  // namespace mx::frame
