// StartTlsClient and the probe's TLS context back to back with a plain
// OpenSSL server over memory BIOs (an MX's STARTTLS): the handshake, SNI,
// bytes both ways, what describe_probe_tls reports of the certificate
// (subject, DNS names, fingerprint over the DER, verdict), a client
// certificate presented, and failures with OpenSSL's reason.
#include "starttls_client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "probe_tls.h"

namespace mx {
namespace {

namespace fs = std::filesystem;

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(FILE* p) const { std::fclose(p); }
};

std::unique_ptr<X509, Free> self_signed(const char* cn, EVP_PKEY* key, const char* san) {
  std::unique_ptr<X509, Free> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san);
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(cert.get(), key, EVP_sha256());
  return cert;
}

// "AB:CD:..." of the DER, computed here without certificate_fingerprint.
std::string expected_fingerprint(X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  unsigned char digest[32];
  unsigned int digest_length = 0;
  EVP_Digest(der, static_cast<size_t>(length), digest, &digest_length, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  std::string text;
  char hex[4];
  for (unsigned int i = 0; i < digest_length; ++i) {
    std::snprintf(hex, sizeof hex, i == 0 ? "%02X" : ":%02X", digest[i]);
    text += hex;
  }
  return text;
}

class StartTlsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mx-starttls-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    key_.reset(EVP_EC_gen("P-256"));
    cert_ = self_signed("mx.example.test", key_.get(), "DNS:mx.example.test,DNS:alt.example.test");
    server_ctx_.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_use_certificate(server_ctx_.get(), cert_.get());
    SSL_CTX_use_PrivateKey(server_ctx_.get(), key_.get());
    // Asks for a client certificate (as real MXes do) and takes any.
    SSL_CTX_set_verify(server_ctx_.get(), SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    server_.reset(SSL_new(server_ctx_.get()));
    server_in_ = BIO_new(BIO_s_mem());
    server_out_ = BIO_new(BIO_s_mem());
    SSL_set_bio(server_.get(), server_in_, server_out_);
    SSL_set_accept_state(server_.get());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<StartTlsClient> client(const ProbeTlsOptions& options = {},
                                         const std::string& host = "mx.example.test") {
    std::string err;
    client_ctx_ = make_probe_tls_context(host, options, err);
    EXPECT_TRUE(client_ctx_) << err;
    return std::make_unique<StartTlsClient>(client_ctx_.get(), host);
  }

  // Moves bytes both ways until neither side has anything to send.
  void pump(StartTlsClient& c) {
    for (int round = 0; round < 50; ++round) {
      Bytes to_server;
      c.take_ciphertext(to_server);
      if (!to_server.empty())
        BIO_write(server_in_, to_server.data(), static_cast<int>(to_server.size()));
      SSL_do_handshake(server_.get());
      char buf[4096];
      size_t got = 0;
      while (SSL_is_init_finished(server_.get()) &&
             SSL_read_ex(server_.get(), buf, sizeof buf, &got) == 1) {
        from_client_.append(buf, got);
      }
      char* data = nullptr;
      const long pending = BIO_get_mem_data(server_out_, &data);
      Bytes to_client(data, data + std::max(pending, 0L));
      (void)BIO_reset(server_out_);
      if (to_server.empty() && to_client.empty()) return;
      if (!to_client.empty()) c.feed_ciphertext(to_client);
    }
    FAIL() << "did not go idle";
  }

  fs::path dir_;
  std::unique_ptr<EVP_PKEY, Free> key_;
  std::unique_ptr<X509, Free> cert_;
  SslCtxPtr server_ctx_;
  SslCtxPtr client_ctx_;
  std::unique_ptr<SSL, Free> server_;
  BIO* server_in_ = nullptr;
  BIO* server_out_ = nullptr;
  std::string from_client_;
};

TEST_F(StartTlsClientTest, HandshakeBytesBothWaysAndTheCertificateReported) {
  auto c = client();
  c->start_handshake();
  ASSERT_TRUE(c->write_plaintext(as_bytes("EHLO gw\r\n"))) << "held until the handshake is done";
  pump(*c);
  ASSERT_TRUE(c->handshake_done()) << c->error();
  EXPECT_EQ(from_client_, "EHLO gw\r\n");
  EXPECT_STREQ(SSL_get_servername(server_.get(), TLSEXT_NAMETYPE_host_name), "mx.example.test");
  SSL_write(server_.get(), "250 ok\r\n", 8);
  pump(*c);
  EXPECT_EQ(std::string(c->plaintext().begin(), c->plaintext().end()), "250 ok\r\n");

  const ProbeTls tls = describe_probe_tls(c->ssl());
  EXPECT_EQ(tls.version, SSL_get_version(server_.get()));
  EXPECT_FALSE(tls.cipher.empty());
  ASSERT_TRUE(tls.has_certificate);
  EXPECT_EQ(tls.certificate.subject, "CN=mx.example.test");
  EXPECT_EQ(tls.certificate.dns_names,
            (std::vector<std::string>{"mx.example.test", "alt.example.test"}));
  EXPECT_EQ(tls.certificate.sha256, expected_fingerprint(cert_.get()));
  EXPECT_EQ(tls.certificate.sha256.size(), 95u);
  EXPECT_FALSE(tls.certificate.verified) << "self-signed: not in the system store";
  EXPECT_EQ(tls.certificate.verify_error, "self-signed certificate");
  EXPECT_EQ(SSL_get0_peer_certificate(server_.get()), nullptr) << "none presented without --cert";
}

TEST_F(StartTlsClientTest, AnIpLiteralSendsNoSni) {
  auto c = client({}, "127.0.0.1");
  c->start_handshake();
  pump(*c);
  ASSERT_TRUE(c->handshake_done()) << c->error();
  EXPECT_EQ(SSL_get_servername(server_.get(), TLSEXT_NAMETYPE_host_name), nullptr);
}

TEST_F(StartTlsClientTest, AClientCertificateIsPresented) {
  std::unique_ptr<EVP_PKEY, Free> key(EVP_EC_gen("P-256"));
  auto cert = self_signed("gw.example.net", key.get(), "DNS:gw.example.net");
  {
    std::unique_ptr<FILE, Free> f(std::fopen((dir_ / "c.pem").c_str(), "w"));
    PEM_write_X509(f.get(), cert.get());
    std::unique_ptr<FILE, Free> k(std::fopen((dir_ / "k.pem").c_str(), "w"));
    PEM_write_PrivateKey(k.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }
  auto c = client({dir_ / "c.pem", dir_ / "k.pem"});
  c->start_handshake();
  pump(*c);
  ASSERT_TRUE(c->handshake_done()) << c->error();
  SSL_read_ex(server_.get(), nullptr, 0, nullptr);  // TLS 1.3: the client's flight is read now
  X509* presented = SSL_get0_peer_certificate(server_.get());
  ASSERT_NE(presented, nullptr);
  EXPECT_EQ(X509_cmp(presented, cert.get()), 0);
}

TEST_F(StartTlsClientTest, AKeyThatDoesNotMatchIsRefused) {
  std::unique_ptr<EVP_PKEY, Free> key(EVP_EC_gen("P-256"));
  std::unique_ptr<EVP_PKEY, Free> other(EVP_EC_gen("P-256"));
  auto cert = self_signed("gw.example.net", key.get(), "DNS:gw.example.net");
  {
    std::unique_ptr<FILE, Free> f(std::fopen((dir_ / "c.pem").c_str(), "w"));
    PEM_write_X509(f.get(), cert.get());
    std::unique_ptr<FILE, Free> k(std::fopen((dir_ / "k.pem").c_str(), "w"));
    PEM_write_PrivateKey(k.get(), other.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }
  std::string err;
  EXPECT_FALSE(make_probe_tls_context("mx", {dir_ / "c.pem", dir_ / "k.pem"}, err));
  EXPECT_NE(err.find("k.pem"), std::string::npos) << err;
  EXPECT_FALSE(make_probe_tls_context("mx", {dir_ / "missing.pem", dir_ / "k.pem"}, err));
  EXPECT_NE(err.find("missing.pem"), std::string::npos) << err;
}

TEST_F(StartTlsClientTest, NotTlsFailsWithOpenSslsReason) {
  auto c = client();
  c->start_handshake();
  Bytes hello;
  c->take_ciphertext(hello);
  EXPECT_FALSE(hello.empty()) << "the ClientHello";
  EXPECT_FALSE(c->feed_ciphertext(as_bytes("250 I am still speaking SMTP\r\n")));
  EXPECT_TRUE(c->failed());
  EXPECT_NE(c->error().find("TLS handshake failed: "), std::string::npos) << c->error();
  EXPECT_FALSE(c->write_plaintext(as_bytes("x")));
}

}  // namespace
}  // namespace mx
