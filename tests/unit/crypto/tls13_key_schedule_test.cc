#include "mxegress/crypto/tls13_key_schedule.h"

#include <gtest/gtest.h>

#include <string>

namespace mx {
namespace {

SecretBytes from_hex(const std::string& hex) {
  SecretBytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// RFC 8448 section 3 (simple 1-RTT handshake, TLS_AES_128_GCM_SHA256): the
// application traffic secrets and the keys and IVs derived from them.
const SecretBytes kClientSecret =
    from_hex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5");
const SecretBytes kServerSecret =
    from_hex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");

TEST(Tls13KeyScheduleTest, DerivesTheRfc8448ApplicationTrafficKeys) {
  const auto client = tls13_traffic_keys(Tls13Suite::Aes128GcmSha256, kClientSecret);
  ASSERT_TRUE(client);
  EXPECT_EQ(client->key, from_hex("17422dda596ed5d9acd890e3c63f5051"));
  EXPECT_EQ(client->iv, from_hex("5b78923dee08579033e523d9"));
  const auto server = tls13_traffic_keys(Tls13Suite::Aes128GcmSha256, kServerSecret);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->key, from_hex("9f02283b6c9c07efc26bb9f2ac92e356"));
  EXPECT_EQ(server->iv, from_hex("cf782b88dd83549aadf1e984"));
}

TEST(Tls13KeyScheduleTest, KeyLengthsFollowTheSuite) {
  const SecretBytes sha384_secret(48, 7);
  const auto aes256 = tls13_traffic_keys(Tls13Suite::Aes256GcmSha384, sha384_secret);
  ASSERT_TRUE(aes256);
  EXPECT_EQ(aes256->key.size(), 32u);
  EXPECT_EQ(aes256->iv.size(), 12u);
  const auto chacha = tls13_traffic_keys(Tls13Suite::Chacha20Poly1305Sha256, kClientSecret);
  ASSERT_TRUE(chacha);
  EXPECT_EQ(chacha->key.size(), 32u);
  EXPECT_EQ(tls13_hash_length(Tls13Suite::Aes256GcmSha384), 48u);
  EXPECT_EQ(tls13_hash_length(Tls13Suite::Aes128GcmSha256), 32u);
}

TEST(Tls13KeyScheduleTest, TheNextSecretIsTheTrafficUpdateLabel) {
  // application_traffic_secret_N+1 = HKDF-Expand-Label(_N, "traffic upd", "", Hash.length)
  const SecretBytes next = tls13_next_traffic_secret(Tls13Suite::Aes128GcmSha256, kClientSecret);
  EXPECT_EQ(next, hkdf_expand_label(Tls13Suite::Aes128GcmSha256, kClientSecret, "traffic upd", 32));
  EXPECT_EQ(next.size(), 32u);
  EXPECT_NE(next, kClientSecret);
  EXPECT_NE(tls13_next_traffic_secret(Tls13Suite::Aes128GcmSha256, next), next);
}

TEST(Tls13KeyScheduleTest, KnowsTheThreeTls13SuitesOnly) {
  EXPECT_EQ(tls13_suite_from_id(0x1301), Tls13Suite::Aes128GcmSha256);
  EXPECT_EQ(tls13_suite_from_id(0x1302), Tls13Suite::Aes256GcmSha384);
  EXPECT_EQ(tls13_suite_from_id(0x1303), Tls13Suite::Chacha20Poly1305Sha256);
  EXPECT_FALSE(tls13_suite_from_id(0x1304));  // TLS_AES_128_CCM_SHA256
  EXPECT_FALSE(tls13_suite_from_id(0xc02f));  // a TLS 1.2 suite
}

}  // namespace
}  // namespace mx
