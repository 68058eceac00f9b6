// Tier (a): the tunnel frame layer of protocol version 2, without sockets.
// Every frame type round trips, every split of the input needs more until the
// frame is whole, bad headers are errors, and session frames start with their
// id. The typed payloads are in frame_payloads_test.cc.
#include "mxegress/codec/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "frame_test_support.h"

namespace mx::frame {
namespace {

using namespace test;  // NOLINT: the helpers of frame_test_support.h

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
  EXPECT_STREQ(type_name(Type::Window), "WINDOW");
  EXPECT_STREQ(type_name(static_cast<Type>(0x0b)), "UNKNOWN") << "version 1's END";
  EXPECT_STREQ(type_name(static_cast<Type>(0x0d)), "UNKNOWN");
}

TEST(FrameTest, TheSizesOfVersionTwo) {
  EXPECT_EQ(kProtocolVersion, 2);
  EXPECT_EQ(kMaxPayload, 65532u);
  EXPECT_EQ(kSessionIdSize, 4u);
  EXPECT_EQ(kMaxDataPayload, 65528u);
}

TEST(FrameTest, HeaderIsTypeThenBigEndianLength) {
  Bytes out;
  encode_header(out, Type::Data, 0x1234);
  EXPECT_EQ(out, hex("05 1234"));

  out.clear();
  encode_frame(out, Type::Ping, hex("0102030405060708"));
  EXPECT_EQ(out, hex("08 0008 0102030405060708"));

  out.clear();
  encode_frame(out, Type::Pong, {});
  EXPECT_EQ(out, hex("09 0000"));

  out.clear();
  encode_frame(out, Type::Data, pattern(kMaxPayload));
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 3), hex("05 fffc"));  // 65532
  EXPECT_EQ(out.size(), 65535u);
}

TEST(FrameTest, EncodersAppendToWhatIsAlreadyThere) {
  Bytes out = hex("aa bb");
  encode_frame(out, Type::Pong, hex("01"));
  EXPECT_EQ(out, hex("aa bb 09 0001 01"));
  encode_session_frame(out, Type::Fin, 1, {});
  EXPECT_EQ(out, hex("aa bb 09 0001 01 06 0004 00000001"));
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
  const Bytes pong = hex("09 0000");
  EXPECT_EQ(decode(ByteView(pong).first(2)).status, DecodeStatus::NeedMore);
  const DecodeResult r = decode(pong);
  ASSERT_EQ(r.status, DecodeStatus::Ok);
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(r.frame.type, Type::Pong);
  EXPECT_TRUE(r.frame.payload.empty());
}

TEST(FrameTest, DecodesOnlyTheFirstFrameAndLeavesTheRest) {
  Bytes stream;
  encode_session_frame(stream, Type::Data, 1, text_bytes("hello"));
  encode_session_frame(stream, Type::Fin, 1, {});
  const DecodeResult first = decode(stream);
  ASSERT_EQ(first.status, DecodeStatus::Ok);
  EXPECT_EQ(first.consumed, 12u);
  EXPECT_EQ(first.frame.type, Type::Data);
  EXPECT_EQ(Bytes(first.frame.payload.begin(), first.frame.payload.end()),
            concat(hex("00000001"), text_bytes("hello")));
  // The payload is a view into the input, not a copy.
  EXPECT_EQ(first.frame.payload.data(), stream.data() + 3);

  const DecodeResult second = decode(ByteView(stream).subspan(first.consumed));
  ASSERT_EQ(second.status, DecodeStatus::Ok);
  EXPECT_EQ(second.consumed, 7u);
  EXPECT_EQ(second.frame.type, Type::Fin);
}

// A receiver that appends whatever arrived and decodes in a loop gets the same
// frames however the byte stream is cut into reads.
TEST(FrameTest, StreamSplitAtEveryOffsetYieldsTheSameFrames) {
  Bytes stream;
  encode_frame(stream, Type::Ping, hex("0102030405060708"));
  encode_session_frame(stream, Type::Data, 3, pattern(20));
  encode_session_frame(stream, Type::Fin, 3, {});
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
    EXPECT_EQ(frames[1].second, concat(hex("00000003"), pattern(20)));
    EXPECT_EQ(frames[2].first, Type::Fin);
    EXPECT_EQ(frames[2].second, hex("00000003"));
    EXPECT_EQ(frames[3].first, Type::Auth);
    EXPECT_EQ(frames[3].second.size(), 101u);
  }
}

TEST(FrameTest, UnknownTypeIsAnError) {
  for (int type : {0x00, 0x0b, 0x0d, 0x10, 0x7f, 0x80, 0xff}) {
    SCOPED_TRACE("type " + std::to_string(type));
    EXPECT_FALSE(is_known_type(static_cast<uint8_t>(type)));
    Bytes in = {static_cast<uint8_t>(type), 0x00, 0x02, 0xaa, 0xbb};
    const DecodeResult r = decode(in);
    EXPECT_EQ(r.status, DecodeStatus::Error);
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_EQ(r.error, "unknown frame type " + std::to_string(type));
    // Known from the header alone: the payload need not arrive first.
    EXPECT_EQ(decode(ByteView(in).first(3)).status, DecodeStatus::Error);
  }
}

TEST(FrameTest, LengthAboveTheMaximumIsAnError) {
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

// ---- Session frames -------------------------------------------------------------

TEST(FrameTest, SessionFramesStartWithTheSessionId) {
  Bytes data;
  encode_session_frame(data, Type::Data, 3, as_bytes("hi"));
  EXPECT_EQ(data, hex("05 0006 00000003 6869"));
  const Bytes payload = payload_of(data);
  const auto sf = split_session(payload);
  ASSERT_TRUE(sf);
  EXPECT_EQ(sf->session, 3u);
  EXPECT_EQ(Bytes(sf->body.begin(), sf->body.end()), text_bytes("hi"));
  EXPECT_EQ(sf->body.data(), payload.data() + 4) << "the body is a view, not a copy";

  Bytes rst;
  encode_session_frame(rst, Type::Rst, 0xfffffffd, {});
  EXPECT_EQ(rst, hex("07 0004 fffffffd"));
  const auto empty_body = split_session(payload_of(rst));
  ASSERT_TRUE(empty_body);
  EXPECT_EQ(empty_body->session, 0xfffffffdu);
  EXPECT_TRUE(empty_body->body.empty());

  EXPECT_FALSE(split_session({}));
  EXPECT_FALSE(split_session(hex("000000")));
}

TEST(FrameTest, OnlyPerSessionFramesAreSessionFrames) {
  for (Type type : kAllTypes) {
    const bool expected = type == Type::Connect || type == Type::ConnectReply ||
                          type == Type::Data || type == Type::Fin || type == Type::Rst ||
                          type == Type::Window;
    EXPECT_EQ(is_session_frame(type), expected) << type_name(type);
  }
}

TEST(FrameTest, WindowCarriesANonZeroIncrement) {
  Bytes out;
  encode_window(out, 5, 524288);
  EXPECT_EQ(out, hex("0c 0008 00000005 00080000"));
  const Bytes payload = payload_of(out);
  auto sf = split_session(payload);
  ASSERT_TRUE(sf);
  EXPECT_EQ(sf->session, 5u);
  EXPECT_EQ(parse_window(sf->body), std::optional<uint32_t>(524288));
  EXPECT_EQ(parse_window(hex("ffffffff")), std::optional<uint32_t>(0xffffffff));
  EXPECT_FALSE(parse_window(hex("00000000")));
  EXPECT_FALSE(parse_window(hex("000001")));
  EXPECT_FALSE(parse_window(hex("0000000100")));
}

// The largest DATA payload plus its session id is the largest frame.
TEST(FrameTest, TheLargestDataFrameDecodes) {
  Bytes out;
  encode_session_frame(out, Type::Data, 1, Bytes(kMaxDataPayload, 0x5a));
  EXPECT_EQ(out.size(), 65535u);
  const DecodeResult r = decode(out);
  ASSERT_EQ(r.status, DecodeStatus::Ok) << r.error;
  EXPECT_EQ(r.frame.payload.size(), kMaxPayload);
  const auto sf = split_session(r.frame.payload);
  ASSERT_TRUE(sf);
  EXPECT_EQ(sf->body.size(), kMaxDataPayload);
}

}  // namespace
}  // namespace mx::frame
