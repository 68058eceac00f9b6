// Tls13RecordLayer as a codec: two layers back to back in memory, the RFC 8448
// record, and records built by hand for the cases a peer might send.
#include "mxegress/crypto/tls13_record_layer.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace mx {
namespace {

using Role = Tls13RecordLayer::Role;

Bytes from_hex(const std::string& hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size();) {
    if (hex[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    i += 2;
  }
  return out;
}

// RFC 8448 section 3: the application traffic secrets, and the client's
// first application data record (50 bytes 00..31, sequence number 0).
const Bytes kClientSecret =
    from_hex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5");
const Bytes kServerSecret =
    from_hex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
const Bytes kClientRecord = from_hex(
    "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea 42 f9 14 aa"
    "66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2"
    "97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4");

Bytes counting_bytes(size_t n, size_t step = 1) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * step + i / 251);
  return out;
}

Bytes take(ByteBuffer& buffer) {
  const ByteView readable = buffer.readable();
  Bytes out(readable.begin(), readable.end());
  buffer.clear();
  return out;
}

class Tls13RecordLayerTest : public ::testing::TestWithParam<Tls13Suite> {
 protected:
  void SetUp() override {
    if (!RecordCipher::available()) GTEST_SKIP() << RecordCipher::why_unavailable();
    const size_t length = tls13_hash_length(GetParam());
    client_secret_ = counting_bytes(length, 3);
    server_secret_ = counting_bytes(length, 5);
    client_ = Tls13RecordLayer::create(GetParam(), Role::Client, client_secret_, server_secret_);
    server_ = Tls13RecordLayer::create(GetParam(), Role::Server, client_secret_, server_secret_);
    ASSERT_TRUE(client_ && server_);
  }

  // A record as a peer could build it: any inner type and content, under the
  // client's keys at the given sequence number.
  Bytes client_record(uint8_t inner_type, ByteView content, uint64_t sequence, size_t padding = 0,
                      uint8_t outer_type = 23) {
    auto direction = Tls13RecordLayer::Direction::make(GetParam(), client_secret_);
    direction->sequence = sequence;
    const size_t inner_length = content.size() + 1 + padding;
    Bytes record = {outer_type, 3, 3, static_cast<uint8_t>((inner_length + 16) >> 8),
                    static_cast<uint8_t>(inner_length + 16)};
    Bytes inner(content.begin(), content.end());
    inner.push_back(inner_type);
    inner.resize(inner_length, 0);
    record.resize(5 + inner_length + 16);
    direction->cipher.begin(direction->next_nonce(), ByteView(record).first(5), true);
    direction->cipher.update(record.data() + 5, inner.data(), inner.size());
    direction->cipher.seal(std::span<uint8_t, 16>(record.data() + 5 + inner_length, 16));
    return record;
  }

  Bytes client_secret_;
  Bytes server_secret_;
  std::unique_ptr<Tls13RecordLayer> client_;
  std::unique_ptr<Tls13RecordLayer> server_;
  ByteBuffer plaintext_;
  ByteBuffer out_;
};

INSTANTIATE_TEST_SUITE_P(EverySuite, Tls13RecordLayerTest,
                         ::testing::Values(Tls13Suite::Aes128GcmSha256, Tls13Suite::Aes256GcmSha384,
                                           Tls13Suite::Chacha20Poly1305Sha256),
                         [](const ::testing::TestParamInfo<Tls13Suite>& info) {
                           switch (info.param) {
                             case Tls13Suite::Aes128GcmSha256:
                               return "Aes128Gcm";
                             case Tls13Suite::Aes256GcmSha384:
                               return "Aes256Gcm";
                             default:
                               return "Chacha20Poly1305";
                           }
                         });

TEST(Tls13RecordLayerRfc8448Test, SealsTheClientsFirstRecordByteForByte) {
  if (!RecordCipher::available()) GTEST_SKIP() << RecordCipher::why_unavailable();
  auto client = Tls13RecordLayer::create(Tls13Suite::Aes128GcmSha256, Role::Client, kClientSecret,
                                         kServerSecret);
  ASSERT_TRUE(client);
  ByteBuffer out;
  client->seal(counting_bytes(50), out);
  EXPECT_EQ(take(out), kClientRecord);
}

TEST(Tls13RecordLayerRfc8448Test, OpensTheClientsFirstRecord) {
  if (!RecordCipher::available()) GTEST_SKIP() << RecordCipher::why_unavailable();
  auto server = Tls13RecordLayer::create(Tls13Suite::Aes128GcmSha256, Role::Server, kClientSecret,
                                         kServerSecret);
  ASSERT_TRUE(server);
  ByteBuffer plaintext;
  ByteBuffer out;
  ASSERT_TRUE(server->open(kClientRecord, plaintext, out)) << server->error();
  EXPECT_EQ(take(plaintext), counting_bytes(50));
  EXPECT_TRUE(out.empty());
}

TEST_P(Tls13RecordLayerTest, TheNonceIsTheIvXorTheWholeSequenceNumber) {
  auto direction = Tls13RecordLayer::Direction::make(GetParam(), client_secret_);
  ASSERT_TRUE(direction);
  direction->sequence = 0x0102030405060708;
  const auto nonce = direction->next_nonce();
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(nonce[i], direction->iv[i]);
  for (size_t i = 4; i < 12; ++i) {
    EXPECT_EQ(nonce[i] ^ direction->iv[i], static_cast<uint8_t>(i - 3)) << i;
  }
  EXPECT_EQ(direction->sequence, 0x0102030405060709u);
}

TEST_P(Tls13RecordLayerTest, GatheredPartsBecomeFullRecordsAndArriveWhateverTheSplit) {
  const Bytes data = counting_bytes(100000, 7);
  // Parts of odd sizes, like a frame header in front of a payload.
  const std::array<ByteView, 4> parts = {ByteView(data).first(9), ByteView(data).subspan(9, 20000),
                                         ByteView(data).subspan(20009, 3),
                                         ByteView(data).subspan(20012)};
  client_->seal(parts, out_);
  const Bytes wire = take(out_);
  // 100,000 bytes: six full records and one of 1,696, each 22 bytes longer.
  EXPECT_EQ(wire.size(), data.size() + 7 * Tls13RecordLayer::kRecordOverhead);
  EXPECT_EQ(read_u16(wire.data() + 3), 16384 + 17);

  static constexpr std::array<size_t, 7> kPieces = {1, 4, 5, 16389, 3, 7000, 65536};
  size_t piece = 0;
  for (size_t at = 0; at < wire.size();) {
    const size_t n = std::min(kPieces[piece++ % kPieces.size()], wire.size() - at);
    ASSERT_TRUE(server_->open(ByteView(wire).subspan(at, n), plaintext_, out_)) << server_->error();
    at += n;
  }
  EXPECT_EQ(take(plaintext_), data);
  EXPECT_TRUE(out_.empty());
}

TEST_P(Tls13RecordLayerTest, SealingInPartsMakesTheSameRecordsAsSealingWhole) {
  auto other = Tls13RecordLayer::create(GetParam(), Role::Client, client_secret_, server_secret_);
  const Bytes data = counting_bytes(40000);
  const std::array<ByteView, 3> parts = {
      ByteView(data).first(16383), ByteView(data).subspan(16383, 2), ByteView(data).subspan(16385)};
  client_->seal(parts, out_);
  ByteBuffer whole;
  other->seal(data, whole);
  EXPECT_EQ(take(out_), take(whole));
}

TEST_P(Tls13RecordLayerTest, BothDirectionsUseTheirOwnKeys) {
  server_->seal(as_bytes("220 ready"), out_);
  ASSERT_TRUE(client_->open(take(out_), plaintext_, out_)) << client_->error();
  EXPECT_EQ(take(plaintext_), Bytes(as_bytes("220 ready").begin(), as_bytes("220 ready").end()));
  // A record the client sealed does not open as the server's.
  client_->seal(as_bytes("QUIT"), out_);
  auto second_client =
      Tls13RecordLayer::create(GetParam(), Role::Client, client_secret_, server_secret_);
  EXPECT_FALSE(second_client->open(take(out_), plaintext_, out_));
  EXPECT_EQ(second_client->error(), "TLS record failed authentication (bad_record_mac)");
}

TEST_P(Tls13RecordLayerTest, ATamperedRecordFailsAndTellsThePeerBadRecordMac) {
  client_->seal(as_bytes("MAIL FROM:<a@example.org>"), out_);
  Bytes wire = take(out_);
  wire[10] ^= 0x01;
  EXPECT_FALSE(server_->open(wire, plaintext_, out_));
  EXPECT_TRUE(server_->failed());
  EXPECT_TRUE(plaintext_.empty());  // nothing unauthenticated is handed on
  // The server queued a fatal alert; the client reads it as such.
  ASSERT_FALSE(out_.empty());
  ByteBuffer client_plaintext;
  ByteBuffer client_out;
  EXPECT_FALSE(client_->open(take(out_), client_plaintext, client_out));
  EXPECT_EQ(client_->error(), "peer sent TLS alert bad_record_mac");
  EXPECT_TRUE(client_out.empty());
  // A failed layer seals nothing more.
  server_->seal(as_bytes("more"), out_);
  EXPECT_TRUE(out_.empty());
}

TEST_P(Tls13RecordLayerTest, ARecordReplayedOrOutOfOrderFails) {
  client_->seal(as_bytes("one"), out_);
  const Bytes first = take(out_);
  ASSERT_TRUE(server_->open(first, plaintext_, out_));
  EXPECT_FALSE(server_->open(first, plaintext_, out_));  // sequence 1 expected, 0 given
  EXPECT_EQ(take(plaintext_), Bytes(as_bytes("one").begin(), as_bytes("one").end()));
}

TEST_P(Tls13RecordLayerTest, ALengthOverTheLimitIsARecordOverflow) {
  const Bytes header = {23, 3, 3, 0x41, 0x01};  // 16,641 > 2^14 + 256
  EXPECT_FALSE(server_->open(header, plaintext_, out_));
  EXPECT_EQ(server_->error(), "TLS record longer than 2^14 + 256 bytes");
  // Also when the header arrives in pieces.
  auto other = Tls13RecordLayer::create(GetParam(), Role::Server, client_secret_, server_secret_);
  ASSERT_TRUE(other->open(ByteView(header).first(2), plaintext_, out_));
  EXPECT_FALSE(other->open(ByteView(header).subspan(2), plaintext_, out_));
}

TEST_P(Tls13RecordLayerTest, UnprotectedRecordsAfterTheHandshakeAreRefused) {
  EXPECT_FALSE(server_->open(from_hex("16 03 03 00 04 01 00 00 00"), plaintext_, out_));
  EXPECT_EQ(server_->error(), "unprotected TLS record after the handshake");
  auto other = Tls13RecordLayer::create(GetParam(), Role::Server, client_secret_, server_secret_);
  EXPECT_FALSE(other->open(from_hex("14 03 03 00 01 01"), plaintext_, out_));
  EXPECT_EQ(other->error(), "TLS change_cipher_spec after the handshake");
}

TEST_P(Tls13RecordLayerTest, ATooShortRecordIsRefused) {
  EXPECT_FALSE(server_->open(from_hex("17 03 03 00 03 01 02 03"), plaintext_, out_));
  EXPECT_EQ(server_->error(), "TLS record too short to be protected");
}

TEST_P(Tls13RecordLayerTest, PaddingIsRemovedAndAnAllZeroRecordIsRefused) {
  ASSERT_TRUE(server_->open(client_record(23, as_bytes("250 ok"), 0, 100), plaintext_, out_));
  EXPECT_EQ(take(plaintext_), Bytes(as_bytes("250 ok").begin(), as_bytes("250 ok").end()));
  EXPECT_FALSE(server_->open(client_record(0, {}, 1, 10), plaintext_, out_));
  EXPECT_EQ(server_->error(), "TLS record without a content type");
}

TEST_P(Tls13RecordLayerTest, AnEmptyApplicationDataRecordIsHarmless) {
  ASSERT_TRUE(server_->open(client_record(23, {}, 0), plaintext_, out_));
  EXPECT_TRUE(plaintext_.empty());
  ASSERT_TRUE(server_->open(client_record(23, as_bytes("x"), 1), plaintext_, out_));
  EXPECT_EQ(plaintext_.size(), 1u);
}

TEST_P(Tls13RecordLayerTest, AKeyUpdateMovesThatDirectionToNewKeys) {
  client_->seal(as_bytes("before"), out_);
  ASSERT_TRUE(client_->seal_key_update(false, out_));
  client_->seal(as_bytes(" after"), out_);
  ASSERT_TRUE(server_->open(take(out_), plaintext_, out_)) << server_->error();
  EXPECT_EQ(take(plaintext_),
            Bytes(as_bytes("before after").begin(), as_bytes("before after").end()));
  EXPECT_EQ(server_->key_updates_received(), 1u);
  EXPECT_TRUE(out_.empty());  // not requested: no answer
  // The other direction kept its keys.
  server_->seal(as_bytes("250 ok"), out_);
  ASSERT_TRUE(client_->open(take(out_), plaintext_, out_)) << client_->error();
  EXPECT_EQ(plaintext_.size(), 6u);
}

TEST_P(Tls13RecordLayerTest, ARequestedKeyUpdateIsAnswered) {
  ASSERT_TRUE(client_->seal_key_update(true, out_));
  ASSERT_TRUE(server_->open(take(out_), plaintext_, out_)) << server_->error();
  ASSERT_FALSE(out_.empty());  // the server's own KeyUpdate
  server_->seal(as_bytes("data under the new keys"), out_);
  ASSERT_TRUE(client_->open(take(out_), plaintext_, out_)) << client_->error();
  EXPECT_EQ(client_->key_updates_received(), 1u);
  EXPECT_EQ(plaintext_.size(), 23u);
  EXPECT_TRUE(out_.empty());  // update_not_requested: the client does not answer again
}

TEST_P(Tls13RecordLayerTest, AKeyUpdateFollowedByMoreInItsRecordIsRefused) {
  const Bytes key_update_and_more = {24, 0, 0, 1, 0, 24, 0, 0, 1, 0};
  EXPECT_FALSE(server_->open(client_record(22, key_update_and_more, 0), plaintext_, out_));
  EXPECT_EQ(server_->error(), "TLS KeyUpdate not at the end of its record");
}

TEST_P(Tls13RecordLayerTest, MalformedKeyUpdatesAreRefused) {
  EXPECT_FALSE(server_->open(client_record(22, from_hex("18 00 00 01 02"), 0), plaintext_, out_));
  EXPECT_EQ(server_->error(), "malformed TLS KeyUpdate");
  auto other = Tls13RecordLayer::create(GetParam(), Role::Server, client_secret_, server_secret_);
  EXPECT_FALSE(other->open(client_record(22, from_hex("18 00 00 02 00 00"), 0), plaintext_, out_));
}

TEST_P(Tls13RecordLayerTest, ATicketSplitAcrossRecordsIsIgnoredByTheClient) {
  // A NewSessionTicket from a server (the client resumes nothing), in two records.
  auto direction = Tls13RecordLayer::Direction::make(GetParam(), server_secret_);
  ASSERT_TRUE(direction);
  const Bytes ticket = from_hex("04 00 00 06 00 00 00 3c 00 00");
  // Seal two handshake records from the server's side by hand.
  const auto seal = [&](ByteView content) {
    const size_t inner_length = content.size() + 1;
    Bytes record = {23, 3, 3, 0, static_cast<uint8_t>(inner_length + 16)};
    Bytes inner(content.begin(), content.end());
    inner.push_back(22);
    record.resize(5 + inner_length + 16);
    direction->cipher.begin(direction->next_nonce(), ByteView(record).first(5), true);
    direction->cipher.update(record.data() + 5, inner.data(), inner.size());
    direction->cipher.seal(std::span<uint8_t, 16>(record.data() + 5 + inner_length, 16));
    return record;
  };
  ASSERT_TRUE(client_->open(seal(ByteView(ticket).first(3)), plaintext_, out_)) << client_->error();
  ASSERT_TRUE(client_->open(seal(ByteView(ticket).subspan(3)), plaintext_, out_))
      << client_->error();
  EXPECT_TRUE(plaintext_.empty());
  EXPECT_FALSE(server_->open(client_record(22, ticket, 0), plaintext_, out_));
  EXPECT_EQ(server_->error(), "TLS NewSessionTicket from a client");
}

TEST_P(Tls13RecordLayerTest, OtherHandshakeMessagesAfterTheHandshakeAreRefused) {
  // A CertificateRequest (post-handshake authentication is not offered).
  EXPECT_FALSE(server_->open(client_record(22, from_hex("0d 00 00 00"), 0), plaintext_, out_));
  EXPECT_EQ(server_->error(), "unexpected TLS handshake message 13 after the handshake");
}

TEST_P(Tls13RecordLayerTest, CloseNotifyEndsThePeersSideAndWhatFollowsIsIgnored) {
  client_->seal(as_bytes("QUIT"), out_);
  client_->seal_close_notify(out_);
  client_->seal(as_bytes("late"), out_);  // not sealed after close_notify
  Bytes wire = take(out_);
  const Bytes trailing = client_record(23, as_bytes("ignored"), 2);
  wire.insert(wire.end(), trailing.begin(), trailing.end());
  ASSERT_TRUE(server_->open(wire, plaintext_, out_)) << server_->error();
  EXPECT_TRUE(server_->peer_closed());
  EXPECT_EQ(take(plaintext_), Bytes(as_bytes("QUIT").begin(), as_bytes("QUIT").end()));
  // The server may still write.
  server_->seal(as_bytes("221 bye"), out_);
  ASSERT_TRUE(client_->open(take(out_), plaintext_, out_)) << client_->error();
  EXPECT_EQ(plaintext_.size(), 7u);
}

TEST_P(Tls13RecordLayerTest, AFatalAlertFromThePeerEndsTheConnection) {
  EXPECT_FALSE(server_->open(client_record(21, from_hex("02 28"), 0), plaintext_, out_));
  EXPECT_EQ(server_->error(), "peer sent TLS alert handshake_failure");
  EXPECT_TRUE(out_.empty());  // nothing is sent back to a peer that has gone
  auto other = Tls13RecordLayer::create(GetParam(), Role::Server, client_secret_, server_secret_);
  EXPECT_FALSE(other->open(client_record(21, from_hex("01"), 0), plaintext_, out_));
  EXPECT_EQ(other->error(), "malformed TLS alert");
}

TEST_P(Tls13RecordLayerTest, UserCanceledIsOnlyAWarning) {
  ASSERT_TRUE(server_->open(client_record(21, from_hex("01 5a"), 0), plaintext_, out_));
  EXPECT_FALSE(server_->failed());
  EXPECT_FALSE(server_->peer_closed());
}

}  // namespace
}  // namespace mx
