#include "mxegress/crypto/server_identity.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>

#include "mxegress/crypto/tls_context.h"

namespace mx {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/mx-server-identity-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct FileCloser {
  void operator()(FILE* file) const { std::fclose(file); }
};

std::unique_ptr<X509, CertDeleter> read_certificate(const fs::path& path) {
  std::unique_ptr<FILE, FileCloser> file(std::fopen(path.c_str(), "r"));
  if (!file) return nullptr;
  return std::unique_ptr<X509, CertDeleter>(PEM_read_X509(file.get(), nullptr, nullptr, nullptr));
}

mode_t permissions_of(const fs::path& path) {
  struct stat status {};
  EXPECT_EQ(::stat(path.c_str(), &status), 0);
  return status.st_mode & 07777;
}

TEST(ServerIdentityTest, WritesKeyAndCertificateWhosePinItReturns) {
  TempDir dir;
  const fs::path identity_dir = dir.path() / "etc" / "mxegress";  // created on demand
  std::string err;
  const auto pin = write_server_identity(identity_dir, "egress1.example.test", err);
  ASSERT_TRUE(pin) << err;
  const fs::path key = identity_dir / "server.key";
  const fs::path cert = identity_dir / "server.crt";
  ASSERT_TRUE(fs::is_regular_file(key));
  ASSERT_TRUE(fs::is_regular_file(cert));
  EXPECT_EQ(permissions_of(key), 0600u);
  EXPECT_EQ(permissions_of(cert) & 0022, 0u);

  const auto file_pin = pin_of_certificate_file(cert, err);
  ASSERT_TRUE(file_pin) << err;
  EXPECT_EQ(*pin, format_pin(*file_pin));
  EXPECT_TRUE(parse_pin(*pin));
  EXPECT_TRUE(make_server_tls_context(cert, key, err)) << err;
}

TEST(ServerIdentityTest, CertificateNamesTheHostAndLastsTenYears) {
  TempDir dir;
  std::string err;
  ASSERT_TRUE(write_server_identity(dir.path(), "egress1.example.test", err)) << err;
  auto cert = read_certificate(dir.path() / "server.crt");
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_host(cert.get(), "egress1.example.test", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(cert.get(), "other.example.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_issued(cert.get(), cert.get()), X509_V_OK);  // self-signed
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get())), 1);
  EXPECT_GE(days, 3649);
  EXPECT_LE(days, 3651);
  EXPECT_EQ(X509_cmp_current_time(X509_get0_notBefore(cert.get())), -1);
}

TEST(ServerIdentityTest, AnIpAddressGetsAnIpSubjectAltName) {
  TempDir dir;
  std::string err;
  ASSERT_TRUE(write_server_identity(dir.path(), "2001:db8::25", err)) << err;
  auto cert = read_certificate(dir.path() / "server.crt");
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "2001:db8::25", 0), 1);
}

TEST(ServerIdentityTest, RefusesToOverwrite) {
  TempDir dir;
  std::string err;
  const auto first_pin = write_server_identity(dir.path(), "egress1.example.test", err);
  ASSERT_TRUE(first_pin) << err;
  err.clear();
  EXPECT_FALSE(write_server_identity(dir.path(), "egress1.example.test", err));
  EXPECT_NE(err.find("refusing to overwrite"), std::string::npos) << err;
  EXPECT_EQ(format_pin(*pin_of_certificate_file(dir.path() / "server.crt", err)), *first_pin);

  // A lone certificate (say, the key was moved away) is not replaced either.
  TempDir other;
  std::ofstream(other.path() / "server.crt") << "keep me\n";
  err.clear();
  EXPECT_FALSE(write_server_identity(other.path(), "egress1.example.test", err));
  EXPECT_FALSE(fs::exists(other.path() / "server.key"));
}

TEST(ServerIdentityTest, RefusesUnusableCommonNames) {
  TempDir dir;
  const std::string too_long(65, 'a');
  for (const std::string& name : {std::string(), std::string("has space"), std::string("a,b"),
                                  std::string("DNS:x"), std::string("::1:zz"), too_long}) {
    std::string err;
    EXPECT_FALSE(write_server_identity(dir.path(), name, err)) << name;
    EXPECT_NE(err.find("invalid common name"), std::string::npos) << err;
  }
  EXPECT_FALSE(fs::exists(dir.path() / "server.key"));
}

}  // namespace
}  // namespace mx
