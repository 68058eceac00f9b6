#include "mxegress/crypto/client_identity.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace mx {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/mx-client-identity-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

mode_t permissions_of(const fs::path& path) {
  struct stat status {};
  EXPECT_EQ(::stat(path.c_str(), &status), 0);
  return status.st_mode & 07777;
}

std::string read_file(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

void write_file(const fs::path& path, const std::string& content, fs::perms mode) {
  std::ofstream(path) << content;
  fs::permissions(path, mode);
}

std::array<uint8_t, 32> exporter_filled_with(uint8_t value) {
  std::array<uint8_t, 32> exporter;
  exporter.fill(value);
  return exporter;
}

TEST(KeyEncodingTest, RoundTripsAs44CharacterBase64) {
  PublicKey key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(0xf0 + i);
  const std::string text = encode_key(key);
  EXPECT_EQ(text.size(), 44u);
  EXPECT_EQ(text.back(), '=');
  EXPECT_EQ(decode_key(text), key);
  EXPECT_EQ(encode_key(PublicKey{}), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
}

TEST(KeyEncodingTest, RejectsMalformedKeys) {
  const std::string good = encode_key(PublicKey{});
  EXPECT_FALSE(decode_key(""));
  EXPECT_FALSE(decode_key(good.substr(0, 43)));  // no padding
  EXPECT_FALSE(decode_key(good + "A"));
  EXPECT_FALSE(decode_key(good + "\n"));
  EXPECT_FALSE(decode_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB="));  // stray bits
  EXPECT_FALSE(decode_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-="));  // URL-safe alphabet
  EXPECT_FALSE(decode_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="));  // 31 bytes
}

TEST(KeyFileTest, GeneratesAndLoadsTheSameIdentity) {
  TempDir dir;
  const fs::path path = dir.path() / "tenant.key";
  std::string err;
  const auto generated = generate_key_file(path, err);
  ASSERT_TRUE(generated) << err;
  EXPECT_EQ(permissions_of(path), 0600u);
  const std::string content = read_file(path);
  ASSERT_EQ(content.size(), 45u);
  EXPECT_EQ(content.back(), '\n');

  const auto loaded = load_key_file(path, err);
  ASSERT_TRUE(loaded) << err;
  EXPECT_EQ(loaded->public_key, generated->public_key);
  EXPECT_EQ(loaded->secret_key, generated->secret_key);
  EXPECT_NE(content.substr(0, 44), encode_key(generated->public_key));  // the file holds the seed
}

TEST(KeyFileTest, TwoGeneratedKeysDiffer) {
  TempDir dir;
  std::string err;
  const auto first = generate_key_file(dir.path() / "a.key", err);
  const auto second = generate_key_file(dir.path() / "b.key", err);
  ASSERT_TRUE(first && second) << err;
  EXPECT_NE(first->public_key, second->public_key);
}

TEST(KeyFileTest, RefusesToOverwrite) {
  TempDir dir;
  const fs::path path = dir.path() / "tenant.key";
  std::string err;
  const auto first = generate_key_file(path, err);
  ASSERT_TRUE(first) << err;
  EXPECT_FALSE(generate_key_file(path, err));
  EXPECT_NE(err.find("refusing to overwrite"), std::string::npos) << err;
  EXPECT_EQ(load_key_file(path, err)->public_key, first->public_key);
}

TEST(KeyFileTest, CreatesAMissingDirectoryForTheServiceGroupOnly) {
  TempDir dir;
  const fs::path key = dir.path() / "etc" / "mxegress" / "client.key";
  std::string err;
  const mode_t old_umask = ::umask(022);
  const auto identity = generate_key_file(key, err);
  ::umask(old_umask);
  ASSERT_TRUE(identity) << err;
  EXPECT_EQ(permissions_of(key), 0600u);
  EXPECT_EQ(permissions_of(dir.path() / "etc"), 0750u);
  EXPECT_EQ(permissions_of(dir.path() / "etc" / "mxegress"), 0750u);
  EXPECT_EQ(permissions_of(dir.path()) & 0777, 0700u) << "an existing directory is left alone";
}

TEST(KeyFileTest, ExplainsADirectoryThatCannotBeMade) {
  TempDir dir;
  write_file(dir.path() / "file", "x", fs::perms::owner_read | fs::perms::owner_write);
  std::string err;
  EXPECT_FALSE(generate_key_file(dir.path() / "file" / "client.key", err));
  EXPECT_EQ(err, (dir.path() / "file").string() + " is not a directory");
  EXPECT_FALSE(generate_key_file(dir.path() / "file" / "deeper" / "client.key", err));
  EXPECT_EQ(err, "cannot create directory " + (dir.path() / "file" / "deeper").string() +
                     ": Not a directory");
}

TEST(KeyFileTest, RefusesAFileOthersCanRead) {
  TempDir dir;
  const fs::path path = dir.path() / "tenant.key";
  std::string err;
  ASSERT_TRUE(generate_key_file(path, err)) << err;
  fs::permissions(path, fs::perms(0644));
  EXPECT_FALSE(load_key_file(path, err));
  EXPECT_NE(err.find("chmod 600"), std::string::npos) << err;
  EXPECT_NE(err.find("0644"), std::string::npos) << err;
  fs::permissions(path, fs::perms(0640));
  EXPECT_FALSE(load_key_file(path, err));
  fs::permissions(path, fs::perms(0400));
  EXPECT_TRUE(load_key_file(path, err)) << err;
}

TEST(KeyFileTest, ExplainsMissingAndMalformedFiles) {
  TempDir dir;
  std::string err;
  EXPECT_FALSE(load_key_file(dir.path() / "absent.key", err));
  EXPECT_NE(err.find("absent.key"), std::string::npos) << err;
  EXPECT_NE(err.find("No such file"), std::string::npos) << err;

  const std::string seed = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  for (const std::string& bad :
       {std::string(), std::string("\n"), seed.substr(0, 43) + "\n", seed + "\n" + seed + "\n",
        "# comment\n" + seed + "\n", std::string(1000, 'A')}) {
    write_file(dir.path() / "bad.key", bad, fs::perms::owner_read | fs::perms::owner_write);
    err.clear();
    EXPECT_FALSE(load_key_file(dir.path() / "bad.key", err)) << bad;
    EXPECT_NE(err.find("malformed"), std::string::npos) << err;
  }
  EXPECT_FALSE(load_key_file(dir.path(), err));  // a directory
}

TEST(KeyFileTest, AcceptsAHandWrittenFileWithCrLfOrNoNewline) {
  TempDir dir;
  const std::string seed = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  std::string err;
  write_file(dir.path() / "crlf.key", seed + "\r\n", fs::perms::owner_read);
  write_file(dir.path() / "bare.key", seed, fs::perms::owner_read);
  const auto crlf = load_key_file(dir.path() / "crlf.key", err);
  const auto bare = load_key_file(dir.path() / "bare.key", err);
  ASSERT_TRUE(crlf && bare) << err;
  EXPECT_EQ(crlf->public_key, bare->public_key);
}

class AuthSignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(generate_key_file(dir_.path() / "tenant.key", err)) << err;
    ASSERT_TRUE(generate_key_file(dir_.path() / "other.key", err)) << err;
    identity_ = load_key_file(dir_.path() / "tenant.key", err);
    other_ = load_key_file(dir_.path() / "other.key", err);
    ASSERT_TRUE(identity_ && other_) << err;
  }
  TempDir dir_;
  std::optional<ClientIdentity> identity_;
  std::optional<ClientIdentity> other_;
};

TEST_F(AuthSignatureTest, VerifiesWithTheSignersKey) {
  const auto exporter = exporter_filled_with(0x5a);
  const auto signature = sign_auth(*identity_, exporter);
  EXPECT_TRUE(verify_auth(identity_->public_key, exporter, signature));
  EXPECT_EQ(sign_auth(*identity_, exporter), signature);  // Ed25519 is deterministic
}

TEST_F(AuthSignatureTest, FailsForAnyTamperedByte) {
  const auto exporter = exporter_filled_with(0x5a);
  const auto signature = sign_auth(*identity_, exporter);
  for (size_t i = 0; i < signature.size(); ++i) {
    auto tampered = signature;
    tampered[i] ^= 0x01;
    EXPECT_FALSE(verify_auth(identity_->public_key, exporter, tampered)) << "byte " << i;
  }
  for (size_t i = 0; i < exporter.size(); ++i) {
    auto other_exporter = exporter;
    other_exporter[i] ^= 0x80;
    EXPECT_FALSE(verify_auth(identity_->public_key, other_exporter, signature)) << "byte " << i;
  }
}

TEST_F(AuthSignatureTest, FailsWithAnotherKey) {
  const auto exporter = exporter_filled_with(0x01);
  EXPECT_FALSE(verify_auth(other_->public_key, exporter, sign_auth(*identity_, exporter)));
  EXPECT_FALSE(verify_auth(PublicKey{}, exporter, sign_auth(*identity_, exporter)));
}

TEST_F(AuthSignatureTest, SignsTheDomainSeparatedMessage) {
  // Pins the wire format: Ed25519(kAuthContext || 0x00 || exporter).
  const auto exporter = exporter_filled_with(0x07);
  std::string message(kAuthContext);
  message.push_back('\0');
  message.append(exporter.begin(), exporter.end());
  EXPECT_EQ(message.size(), 55u);
  const auto signature = sign_auth(*identity_, exporter);
  // Same signature over the raw message proves the layout (Ed25519 is deterministic).
  std::array<uint8_t, 64> raw{};
  ASSERT_EQ(crypto_sign_detached(raw.data(), nullptr,
                                 reinterpret_cast<const unsigned char*>(message.data()),
                                 message.size(), identity_->secret_key.data()),
            0);
  EXPECT_EQ(raw, signature);
}

}  // namespace
}  // namespace mx
