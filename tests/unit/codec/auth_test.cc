// Tier (a): the AUTH exchange as a codec, both halves back to back with a
// real Ed25519 identity and a made-up 32-byte exporter (what the TLS
// connection would export): the client's request, the server's checks in
// their order, the server's answer, and the client's reading of it.
#include "mxegress/codec/auth.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>
#include <filesystem>
#include <optional>
#include <string>

namespace mx::auth {
namespace {

namespace fs = std::filesystem;
using frame::AuthStatus;

std::array<uint8_t, 32> exporter_filled_with(uint8_t value) {
  std::array<uint8_t, 32> exporter;
  exporter.fill(value);
  return exporter;
}

// The frame at the front of `encoded` (which must outlive it).
frame::Frame frame_of(const Bytes& encoded) {
  const frame::DecodeResult r = frame::decode(encoded);
  EXPECT_EQ(r.status, frame::DecodeStatus::Ok) << r.error;
  EXPECT_EQ(r.consumed, encoded.size());
  return r.frame;
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mx-auth-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::string err;
    identity_ = generate_key_file(dir_ / "tenant.key", err);
    ASSERT_TRUE(identity_) << err;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The server's check, with `known` counting its calls.
  Verdict check(const Bytes& request_bytes, const std::array<uint8_t, 32>& exporter,
                bool key_known = true) {
    return check_request(frame_of(request_bytes), exporter, [&](const PublicKey& key) {
      ++known_calls_;
      last_asked_ = key;
      return key_known;
    });
  }

  fs::path dir_;
  std::optional<ClientIdentity> identity_;
  const std::array<uint8_t, 32> exporter_ = exporter_filled_with(0x5a);
  int known_calls_ = 0;
  PublicKey last_asked_{};
};

TEST_F(AuthTest, AcceptedBothWaysAndEachSideLearnsThePeersWindow) {
  const Bytes req = request(*identity_, exporter_, 1024 * 1024);
  EXPECT_EQ(frame_of(req).type, frame::Type::Auth);
  const Verdict verdict = check(req, exporter_);
  EXPECT_EQ(verdict.status, AuthStatus::Ok) << verdict.detail;
  EXPECT_EQ(verdict.key, identity_->public_key);
  EXPECT_EQ(verdict.window, 1024u * 1024u) << "the client's window reaches the server";
  EXPECT_TRUE(verdict.detail.empty()) << verdict.detail;
  EXPECT_EQ(known_calls_, 1);
  EXPECT_EQ(last_asked_, identity_->public_key);

  const Bytes reply = answer(AuthStatus::Ok, 4 * 1024 * 1024);
  EXPECT_EQ(frame_of(reply).type, frame::Type::AuthResult);
  const Answer got = read_answer(frame_of(reply));
  ASSERT_TRUE(got.window) << got.error;
  EXPECT_EQ(*got.window, 4u * 1024u * 1024u) << "the server's window reaches the client";
  EXPECT_TRUE(got.error.empty()) << got.error;
}

// An unknown key is refused before its signature is looked at: a garbage
// signature with an unknown key is "unknown key", not "bad signature".
TEST_F(AuthTest, AnUnknownKeyIsRefusedWithoutCheckingItsSignature) {
  const Verdict verdict = check(request(*identity_, exporter_, 65536), exporter_, false);
  EXPECT_EQ(verdict.status, AuthStatus::UnknownKey);
  EXPECT_EQ(verdict.key, identity_->public_key) << "the presented key, for the log";
  EXPECT_EQ(verdict.window, 0u);
  EXPECT_NE(verdict.detail.find(encode_key(identity_->public_key)), std::string::npos)
      << verdict.detail;
  EXPECT_EQ(known_calls_, 1);

  Bytes forged = request(*identity_, exporter_, 65536);
  forged[frame::kHeaderSize + 1 + 32] ^= 0xff;  // first signature byte
  EXPECT_EQ(check(forged, exporter_, false).status, AuthStatus::UnknownKey);
  EXPECT_EQ(check(forged, exporter_, true).status, AuthStatus::BadSignature)
      << "the same frame with a known key fails on its signature";
}

TEST_F(AuthTest, ASignatureOverAnotherConnectionsExporterIsBad) {
  const Bytes req = request(*identity_, exporter_filled_with(0x11), 65536);
  const Verdict verdict = check(req, exporter_);
  EXPECT_EQ(verdict.status, AuthStatus::BadSignature);
  EXPECT_EQ(verdict.key, identity_->public_key);
  EXPECT_EQ(verdict.window, 0u);
  EXPECT_NE(verdict.detail.find("bad signature"), std::string::npos) << verdict.detail;
  // The same request passes on the connection it was signed for.
  EXPECT_EQ(check(req, exporter_filled_with(0x11)).status, AuthStatus::Ok);
}

TEST_F(AuthTest, AnotherProtocolVersionIsUnsupportedWhateverFollows) {
  Bytes req = request(*identity_, exporter_, 65536);
  req[frame::kHeaderSize] = 1;  // version 1's AUTH
  Verdict verdict = check(req, exporter_);
  EXPECT_EQ(verdict.status, AuthStatus::UnsupportedVersion);
  EXPECT_EQ(verdict.detail, "protocol version 1 not supported");
  EXPECT_EQ(known_calls_, 0) << "the key is not looked up";

  // The version byte alone decides: a later version's AUTH may be shaped
  // differently and is still "unsupported", not "malformed".
  Bytes short_future;
  frame::encode_frame(short_future, frame::Type::Auth, Bytes{3, 0xaa});
  verdict = check(short_future, exporter_);
  EXPECT_EQ(verdict.status, AuthStatus::UnsupportedVersion);
  EXPECT_EQ(verdict.detail, "protocol version 3 not supported");
}

TEST_F(AuthTest, ATruncatedAuthIsMalformed) {
  const Bytes req = request(*identity_, exporter_, 65536);
  const ByteView payload = frame_of(req).payload;
  ASSERT_EQ(payload.size(), 1u + 32u + 64u + 4u);
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    Bytes truncated;
    frame::encode_frame(truncated, frame::Type::Auth, payload.first(cut));
    const Verdict verdict = check(truncated, exporter_);
    EXPECT_EQ(verdict.status, AuthStatus::Malformed);
    EXPECT_EQ(verdict.detail, "malformed AUTH frame");
  }
  EXPECT_EQ(known_calls_, 0);
}

// A window of 0 would stall every session: refused, after the signature
// (so an unauthenticated peer learns nothing from it).
TEST_F(AuthTest, AWindowOfZeroIsMalformed) {
  const Verdict verdict = check(request(*identity_, exporter_, 0), exporter_);
  EXPECT_EQ(verdict.status, AuthStatus::Malformed);
  EXPECT_EQ(verdict.detail, "a session window of 0");
  EXPECT_EQ(verdict.window, 0u);
  EXPECT_EQ(known_calls_, 1);
  EXPECT_EQ(check(request(*identity_, exporter_filled_with(1), 0), exporter_).status,
            AuthStatus::BadSignature)
      << "the signature is checked before the window";
}

TEST_F(AuthTest, AnotherFrameInsteadOfAuthIsMalformed) {
  Bytes ping;
  frame::encode_frame(ping, frame::Type::Ping, Bytes(8, 0));
  const Verdict verdict = check(ping, exporter_);
  EXPECT_EQ(verdict.status, AuthStatus::Malformed);
  EXPECT_EQ(verdict.detail, "expected AUTH, got PING");
  EXPECT_EQ(known_calls_, 0);

  // An AUTH_RESULT from a confused client, too.
  const Verdict reversed = check(answer(AuthStatus::Ok, 65536), exporter_);
  EXPECT_EQ(reversed.status, AuthStatus::Malformed);
  EXPECT_EQ(reversed.detail, "expected AUTH, got AUTH_RESULT");
}

// The server's answer carries its window only with Ok, and names the status.
TEST_F(AuthTest, ARefusalCarriesNoWindow) {
  for (AuthStatus status :
       {AuthStatus::UnknownKey, AuthStatus::BadSignature, AuthStatus::UnsupportedVersion,
        AuthStatus::NotAllowed, AuthStatus::Malformed}) {
    SCOPED_TRACE(frame::auth_status_name(status));
    const Bytes reply = answer(status, 65536);
    const auto parsed = frame::parse_auth_result(frame_of(reply).payload);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->status, status);
    EXPECT_EQ(parsed->reason, frame::auth_status_name(status));
    EXPECT_EQ(parsed->window, 0u);

    const Answer got = read_answer(frame_of(reply));
    EXPECT_FALSE(got.window);
    EXPECT_EQ(got.refusal, status);
    EXPECT_EQ(got.error,
              std::string("the server refused our key: ") + frame::auth_status_name(status));
  }
}

TEST_F(AuthTest, TheClientRefusesAnAcceptanceWithAWindowOfZero) {
  Bytes reply;
  frame::encode_auth_result(reply, {AuthStatus::Ok, "ok", 0});
  const Answer got = read_answer(frame_of(reply));
  EXPECT_FALSE(got.window);
  EXPECT_EQ(got.error, "protocol error: the server granted a session window of 0");
  EXPECT_FALSE(got.refusal) << "a protocol error, not a refusal of the key";
}

TEST_F(AuthTest, TheClientRefusesAnythingButAWellFormedAuthResult) {
  Bytes pong;
  frame::encode_frame(pong, frame::Type::Pong, {});
  Answer got = read_answer(frame_of(pong));
  EXPECT_FALSE(got.window);
  EXPECT_EQ(got.error, "protocol error: expected AUTH_RESULT, got PONG");

  // An AUTH_RESULT cut before its window.
  const Bytes whole = answer(AuthStatus::Ok, 65536);
  const ByteView payload = frame_of(whole).payload;
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    Bytes truncated;
    frame::encode_frame(truncated, frame::Type::AuthResult, payload.first(cut));
    got = read_answer(frame_of(truncated));
    EXPECT_FALSE(got.window);
    EXPECT_EQ(got.error, "protocol error: a malformed AUTH_RESULT");
  }
}

}  // namespace
}  // namespace mx::auth
