#include "mxegress/crypto/tls_context.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "mxegress/crypto/server_identity.h"

namespace mx {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/mx-tls-context-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Sha256 counting_pin() {
  Sha256 pin;
  for (size_t i = 0; i < pin.size(); ++i) pin[i] = static_cast<uint8_t>(i);
  return pin;
}

TEST(PinTest, FormatsAsSha256SlashBase64) {
  EXPECT_EQ(format_pin(counting_pin()), "sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  EXPECT_EQ(format_pin(Sha256{}), "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
}

TEST(PinTest, ParsesWhatItFormats) {
  EXPECT_EQ(parse_pin(format_pin(counting_pin())), counting_pin());
  Sha256 high;
  high.fill(0xff);
  EXPECT_EQ(parse_pin(format_pin(high)), high);
}

TEST(PinTest, RejectsMalformedPins) {
  const std::string good = format_pin(counting_pin());
  EXPECT_FALSE(parse_pin(""));
  EXPECT_FALSE(parse_pin("sha256/"));
  EXPECT_FALSE(parse_pin(good.substr(7)));              // no prefix
  EXPECT_FALSE(parse_pin("SHA256/" + good.substr(7)));  // prefix is case sensitive
  EXPECT_FALSE(parse_pin("sha1/" + good.substr(7)));
  EXPECT_FALSE(parse_pin(good.substr(0, good.size() - 1)));  // no padding
  EXPECT_FALSE(parse_pin(good + "="));                       // too long
  EXPECT_FALSE(parse_pin(good + " "));
  EXPECT_FALSE(parse_pin(" " + good));
  EXPECT_FALSE(parse_pin("sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*="));  // bad char
  EXPECT_FALSE(parse_pin("sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9="));  // stray bits
  EXPECT_FALSE(parse_pin("sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd===="));  // 31 bytes
  EXPECT_FALSE(parse_pin("sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A"));  // 33 bytes
}

TEST(PinTest, PinOfCertificateFileReportsMissingAndBadFiles) {
  TempDir dir;
  std::string err;
  EXPECT_FALSE(pin_of_certificate_file(dir.path() / "absent.crt", err));
  EXPECT_NE(err.find("absent.crt"), std::string::npos) << err;
  std::ofstream(dir.path() / "junk.crt") << "not a certificate\n";
  err.clear();
  EXPECT_FALSE(pin_of_certificate_file(dir.path() / "junk.crt", err));
  EXPECT_NE(err.find("junk.crt"), std::string::npos) << err;
}

class ServerContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(write_server_identity(dir_.path() / "a", "a.example.test", err)) << err;
    ASSERT_TRUE(write_server_identity(dir_.path() / "b", "b.example.test", err)) << err;
  }
  TempDir dir_;
};

TEST_F(ServerContextTest, LoadsMatchingCertificateAndKey) {
  std::string err;
  SslCtxPtr ctx =
      make_server_tls_context(dir_.path() / "a/server.crt", dir_.path() / "a/server.key", err);
  ASSERT_TRUE(ctx) << err;
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), TLS1_3_VERSION);
  EXPECT_NE(SSL_CTX_get_mode(ctx.get()) & SSL_MODE_RELEASE_BUFFERS, 0u);
}

TEST_F(ServerContextTest, NamesTheMissingFile) {
  std::string err;
  EXPECT_FALSE(
      make_server_tls_context(dir_.path() / "nope.crt", dir_.path() / "a/server.key", err));
  EXPECT_NE(err.find("nope.crt"), std::string::npos) << err;
  EXPECT_NE(err.find("No such file"), std::string::npos) << err;
  err.clear();
  EXPECT_FALSE(
      make_server_tls_context(dir_.path() / "a/server.crt", dir_.path() / "nope.key", err));
  EXPECT_NE(err.find("nope.key"), std::string::npos) << err;
}

TEST_F(ServerContextTest, RefusesAKeyThatDoesNotMatchTheCertificate) {
  std::string err;
  EXPECT_FALSE(
      make_server_tls_context(dir_.path() / "a/server.crt", dir_.path() / "b/server.key", err));
  EXPECT_NE(err.find("b/server.key"), std::string::npos) << err;
  EXPECT_NE(err.find("mismatch"), std::string::npos) << err;
}

TEST_F(ServerContextTest, RefusesAKeyReadableByGroupOrOthersNamingTheFileAndTheFix) {
  std::string err;
  const fs::path key = dir_.path() / "a/server.key";
  for (fs::perms extra : {fs::perms::group_read, fs::perms::others_read, fs::perms::group_write}) {
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | extra);
    err.clear();
    EXPECT_FALSE(make_server_tls_context(dir_.path() / "a/server.crt", key, err));
    EXPECT_NE(err.find(key.string()), std::string::npos) << err;
    EXPECT_NE(err.find("group or others"), std::string::npos) << err;
    EXPECT_NE(err.find("chmod 600 " + key.string()), std::string::npos) << err;
  }
  fs::permissions(key, fs::perms::owner_read);  // 0400 is fine
  err.clear();
  EXPECT_TRUE(make_server_tls_context(dir_.path() / "a/server.crt", key, err)) << err;
}

TEST(ClientContextTest, NeedsExactlyOneWayToVerifyTheServer) {
  std::string err;
  EXPECT_FALSE(make_client_tls_context({}, err));
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_FALSE(make_client_tls_context(
      {.pins = {Sha256{}}, .ca_file = "/etc/ssl/certs/ca-certificates.crt", .server_name = "x"},
      err));
  EXPECT_FALSE(err.empty());
}

TEST(ClientContextTest, CaModeNeedsAServerNameAndAReadableCaFile) {
  std::string err;
  EXPECT_FALSE(make_client_tls_context({.ca_file = "/nonexistent/ca.pem"}, err));
  EXPECT_NE(err.find("server name"), std::string::npos) << err;
  err.clear();
  EXPECT_FALSE(
      make_client_tls_context({.ca_file = "/nonexistent/ca.pem", .server_name = "x.test"}, err));
  EXPECT_NE(err.find("/nonexistent/ca.pem"), std::string::npos) << err;
}

TEST(ClientContextTest, PinModeIsTls13Only) {
  std::string err;
  SslCtxPtr ctx = make_client_tls_context({.pins = {Sha256{}}}, err);
  ASSERT_TRUE(ctx) << err;
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx.get()), SSL_VERIFY_PEER);
}

TEST(PinMatchesTest, MatchesAnyListedPinAndNothingElse) {
  Sha256 a{};
  Sha256 b{};
  b[31] = 1;
  Sha256 c{};
  c[0] = 0x80;
  EXPECT_TRUE(pin_matches(std::vector{a}, a));
  EXPECT_TRUE(pin_matches(std::vector{a, b}, b));
  EXPECT_TRUE(pin_matches(std::vector{b, a}, a));
  EXPECT_FALSE(pin_matches(std::vector{a, b}, c));
  EXPECT_FALSE(pin_matches({}, a));
}

TEST(ClientContextTest, CountsItsPins) {
  std::string err;
  Sha256 b{};
  b[0] = 1;
  SslCtxPtr two = make_client_tls_context({.pins = {Sha256{}, b}}, err);
  ASSERT_TRUE(two) << err;
  EXPECT_EQ(client_pin_count(two.get()), 2u);
  SslCtxPtr plain(SSL_CTX_new(TLS_client_method()));
  EXPECT_EQ(client_pin_count(plain.get()), 0u);
}

}  // namespace
}  // namespace mx
