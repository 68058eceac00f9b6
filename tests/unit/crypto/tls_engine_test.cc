// Two TlsEngines wired back to back in memory: no sockets, no loop.
#include "mxegress/crypto/tls_engine.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "mxegress/crypto/client_identity.h"
#include "mxegress/crypto/record_cipher.h"
#include "mxegress/crypto/server_identity.h"
#include "mxegress/crypto/tls_context.h"

namespace mx {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/mx-tls-engine-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct ExtensionDeleter {
  void operator()(X509_EXTENSION* extension) const { X509_EXTENSION_free(extension); }
};
struct FileCloser {
  void operator()(FILE* file) const { std::fclose(file); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CertPtr = std::unique_ptr<X509, CertDeleter>;

// --- A small test PKI, built with the OpenSSL API ---------------------------------

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtensionDeleter> extension(
      X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  ASSERT_TRUE(extension);
  ASSERT_EQ(X509_add_ext(cert, extension.get(), -1), 1);
}

// issuer == nullptr: self-signed CA. Otherwise a leaf for the given SAN.
CertPtr make_certificate(const char* common_name, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                         const char* subject_alt_name) {
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), issuer == nullptr ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  X509_set_pubkey(cert.get(), key);
  if (issuer == nullptr) {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_subject_alt_name, subject_alt_name);
  }
  EXPECT_GT(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()), 0);
  return cert;
}

void write_certificate(const fs::path& path, X509* cert) {
  std::unique_ptr<FILE, FileCloser> file(std::fopen(path.c_str(), "w"));
  ASSERT_TRUE(file);
  ASSERT_EQ(PEM_write_X509(file.get(), cert), 1);
}

void write_key(const fs::path& path, EVP_PKEY* key) {
  std::unique_ptr<FILE, FileCloser> file(std::fopen(path.c_str(), "w"));
  ASSERT_TRUE(file);
  ASSERT_EQ(PEM_write_PrivateKey(file.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);  // as a key must be
}

struct CaSignedServer {
  fs::path ca_file;
  fs::path other_ca_file;  // a CA that did not sign the server
  SslCtxPtr server_context;
};

CaSignedServer make_ca_signed_server(const fs::path& dir) {
  KeyPtr ca_key(EVP_EC_gen("P-256"));
  KeyPtr other_ca_key(EVP_EC_gen("P-256"));
  KeyPtr server_key(EVP_EC_gen("P-256"));
  CertPtr ca = make_certificate("mx test CA", ca_key.get(), nullptr, nullptr, nullptr);
  CertPtr other_ca = make_certificate("mx other CA", other_ca_key.get(), nullptr, nullptr, nullptr);
  CertPtr server = make_certificate("tunnel.example.test", server_key.get(), ca.get(), ca_key.get(),
                                    "DNS:tunnel.example.test,IP:192.0.2.7");
  CaSignedServer result{dir / "ca.crt", dir / "other-ca.crt", nullptr};
  write_certificate(result.ca_file, ca.get());
  write_certificate(result.other_ca_file, other_ca.get());
  write_certificate(dir / "leaf.crt", server.get());
  write_key(dir / "leaf.key", server_key.get());
  std::string err;
  result.server_context = make_server_tls_context(dir / "leaf.crt", dir / "leaf.key", err);
  EXPECT_TRUE(result.server_context) << err;
  return result;
}

// --- Wiring ------------------------------------------------------------------------

// Moves ciphertext both ways until neither side has anything to send.
void pump(TlsEngine& client, TlsEngine& server) {
  for (int round = 0; round < 100; ++round) {
    Bytes to_server;
    Bytes to_client;
    client.take_ciphertext(to_server);
    server.take_ciphertext(to_client);
    if (to_server.empty() && to_client.empty()) return;
    if (!to_server.empty()) server.feed_ciphertext(to_server);
    if (!to_client.empty()) client.feed_ciphertext(to_client);
  }
  FAIL() << "engines did not go idle";
}

// Like pump, but feeds each direction in irregular pieces.
void pump_in_pieces(TlsEngine& client, TlsEngine& server) {
  static constexpr std::array<size_t, 7> kPieces = {1, 13, 700, 5, 16389, 4096, 65536};
  size_t next_piece = 0;
  const auto feed_in_pieces = [&](TlsEngine& receiver, const Bytes& data) {
    for (size_t at = 0; at < data.size();) {
      const size_t length = std::min(kPieces[next_piece++ % kPieces.size()], data.size() - at);
      ASSERT_TRUE(receiver.feed_ciphertext(ByteView(data).subspan(at, length))) << receiver.error();
      at += length;
    }
  };
  for (int round = 0; round < 1000; ++round) {
    Bytes to_server;
    Bytes to_client;
    client.take_ciphertext(to_server);
    server.take_ciphertext(to_client);
    if (to_server.empty() && to_client.empty()) return;
    feed_in_pieces(server, to_server);
    feed_in_pieces(client, to_client);
  }
  FAIL() << "engines did not go idle";
}

std::string take_text(TlsEngine& engine) {
  const ByteView plain = engine.plaintext().readable();
  std::string text(plain.begin(), plain.end());
  engine.plaintext().clear();
  return text;
}

void expect_healthy(const TlsEngine& client, const TlsEngine& server) {
  EXPECT_FALSE(client.failed()) << client.error();
  EXPECT_FALSE(server.failed()) << server.error();
}

class TlsEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    const auto pin_text = write_server_identity(dir_.path(), "tunnel.example.test", err);
    ASSERT_TRUE(pin_text) << err;
    pin_ = *parse_pin(*pin_text);
    server_context_ =
        make_server_tls_context(dir_.path() / kServerCertFile, dir_.path() / kServerKeyFile, err);
    ASSERT_TRUE(server_context_) << err;
    client_context_ = make_client_tls_context({.pins = {pin_}}, err);
    ASSERT_TRUE(client_context_) << err;
  }

  // A connected pair over the pinned server.
  void connect(TlsEngine& client, TlsEngine& server) {
    client.start_handshake();
    pump(client, server);
    ASSERT_TRUE(client.handshake_done()) << client.error();
    ASSERT_TRUE(server.handshake_done()) << server.error();
  }

  TempDir dir_;
  Sha256 pin_{};
  SslCtxPtr server_context_;
  SslCtxPtr client_context_;
};

TEST_F(TlsEngineTest, HandshakeNegotiatesTls13AndAlpn) {
  TlsEngine client(client_context_.get(), TlsEngine::Role::Client, "tunnel.example.test");
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  EXPECT_FALSE(client.handshake_done());
  client.start_handshake();
  EXPECT_GT(client.pending_ciphertext(), 0u);  // the ClientHello
  pump(client, server);
  ASSERT_TRUE(client.handshake_done()) << client.error();
  ASSERT_TRUE(server.handshake_done()) << server.error();
  EXPECT_EQ(client.alpn(), kAlpn);
  EXPECT_EQ(server.alpn(), kAlpn);
  EXPECT_EQ(client.protocol_version(), "TLSv1.3");
  EXPECT_EQ(server.protocol_version(), "TLSv1.3");
  EXPECT_FALSE(client.failed());
  EXPECT_FALSE(server.failed());
  EXPECT_EQ(client.peer_certificate_summary(),
            "subject=CN=tunnel.example.test pin=" + format_pin(pin_));
  EXPECT_EQ(server.peer_certificate_summary(), "no peer certificate");
}

TEST_F(TlsEngineTest, CarriesDataBothWays) {
  TlsEngine client(client_context_.get(), TlsEngine::Role::Client);
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  connect(client, server);
  ASSERT_TRUE(client.write_plaintext(as_bytes("EHLO gateway")));
  pump(client, server);
  EXPECT_EQ(take_text(server), "EHLO gateway");
  ASSERT_TRUE(server.write_plaintext(as_bytes("250 ok")));
  ASSERT_TRUE(server.write_plaintext(as_bytes(" twice")));
  pump(client, server);
  EXPECT_EQ(take_text(client), "250 ok twice");
  EXPECT_TRUE(client.write_plaintext(ByteView()));  // empty writes are harmless
  EXPECT_EQ(client.pending_ciphertext(), 0u);
}

TEST_F(TlsEngineTest, WritesBeforeTheHandshakeAreSentRightAfterIt) {
  TlsEngine client(client_context_.get(), TlsEngine::Role::Client);
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  ASSERT_TRUE(client.write_plaintext(as_bytes("AUTH ")));
  client.start_handshake();
  ASSERT_TRUE(client.write_plaintext(as_bytes("early")));
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  EXPECT_EQ(take_text(server), "AUTH early");
}

TEST_F(TlsEngineTest, TheDefaultKeyUpdateVolumeIsFarBelowTheAesGcmLimit) {
  // 2^24.5 records of 2^14 bytes is ~380 GB; 64 GiB leaves a wide margin.
  EXPECT_LE(TlsEngine::kKeyUpdateBytes, uint64_t{64} << 30);
  TlsEngine client(client_context_.get(), TlsEngine::Role::Client);
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  connect(client, server);
  ASSERT_TRUE(client.write_plaintext(as_bytes("hello")));
  pump(client, server);
  EXPECT_EQ(client.key_updates(), 0u);
}

TEST_F(TlsEngineTest, WrongPinFailsBeforeAnyApplicationDataIsSent) {
  Sha256 wrong_pin = pin_;
  wrong_pin[0] ^= 1;
  std::string err;
  SslCtxPtr wrong_client_context = make_client_tls_context({.pins = {wrong_pin}}, err);
  ASSERT_TRUE(wrong_client_context) << err;
  TlsEngine client(wrong_client_context.get(), TlsEngine::Role::Client);
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  ASSERT_TRUE(client.write_plaintext(as_bytes("AUTH secret")));
  client.start_handshake();
  pump(client, server);
  EXPECT_TRUE(client.failed());
  EXPECT_FALSE(client.handshake_done());
  EXPECT_NE(client.error().find("does not match the pin"), std::string::npos) << client.error();
  EXPECT_NE(client.error().find(format_pin(pin_)), std::string::npos) << client.error();
  EXPECT_FALSE(server.handshake_done());
  EXPECT_TRUE(server.plaintext().empty());
  EXPECT_FALSE(client.write_plaintext(as_bytes("more")));
  EXPECT_FALSE(client.feed_ciphertext(as_bytes("x")));
}

// A certificate rotation: the client trusts the old and the new pin, and
// the server presents either (the order of the pins does not matter).
TEST_F(TlsEngineTest, AnyOfSeveralPinsIsAccepted) {
  Sha256 other_pin = pin_;
  other_pin[31] ^= 0x80;
  for (const std::vector<Sha256>& pins :
       {std::vector{other_pin, pin_}, std::vector{pin_, other_pin}}) {
    std::string err;
    SslCtxPtr context = make_client_tls_context({.pins = pins}, err);
    ASSERT_TRUE(context) << err;
    TlsEngine client(context.get(), TlsEngine::Role::Client);
    TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
    connect(client, server);
    EXPECT_TRUE(client.handshake_done()) << client.error();
    EXPECT_FALSE(client.failed());
  }
}

TEST_F(TlsEngineTest, NoneOfSeveralPinsFailsAndNamesThePresentedOne) {
  Sha256 first = pin_;
  first[0] ^= 1;
  Sha256 second = pin_;
  second[1] ^= 1;
  std::string err;
  SslCtxPtr context = make_client_tls_context({.pins = {first, second}}, err);
  ASSERT_TRUE(context) << err;
  TlsEngine client(context.get(), TlsEngine::Role::Client);
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  ASSERT_TRUE(client.write_plaintext(as_bytes("AUTH secret")));
  client.start_handshake();
  pump(client, server);
  EXPECT_TRUE(client.failed());
  EXPECT_NE(client.error().find("matches none of the 2 pins; it presented " + format_pin(pin_)),
            std::string::npos)
      << client.error();
  EXPECT_TRUE(server.plaintext().empty());
}

TEST_F(TlsEngineTest, ClientRefusesServerThatSelectsNoAlpn) {
  SslCtxPtr plain_server(SSL_CTX_new(TLS_server_method()));
  ASSERT_EQ(SSL_CTX_use_certificate_chain_file(plain_server.get(),
                                               (dir_.path() / kServerCertFile).c_str()),
            1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(plain_server.get(), (dir_.path() / kServerKeyFile).c_str(),
                                        SSL_FILETYPE_PEM),
            1);
  TlsEngine client(client_context_.get(), TlsEngine::Role::Client);
  TlsEngine server(plain_server.get(), TlsEngine::Role::Server);
  ASSERT_TRUE(client.write_plaintext(as_bytes("AUTH secret")));
  client.start_handshake();
  pump(client, server);
  EXPECT_TRUE(client.failed());
  EXPECT_NE(client.error().find("did not select ALPN"), std::string::npos) << client.error();
  EXPECT_TRUE(server.plaintext().empty());
}

TEST_F(TlsEngineTest, ServerRefusesClientWithoutAlpn) {
  SslCtxPtr no_alpn(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(no_alpn.get(), TLS1_3_VERSION);
  SSL_CTX_set_verify(no_alpn.get(), SSL_VERIFY_NONE, nullptr);
  TlsEngine client(no_alpn.get(), TlsEngine::Role::Client);
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  client.start_handshake();
  pump(client, server);
  EXPECT_TRUE(server.failed());
  EXPECT_FALSE(server.handshake_done());
  EXPECT_NE(server.error().find("no application protocol"), std::string::npos) << server.error();
  EXPECT_TRUE(client.failed());
  EXPECT_NE(client.error().find("no application protocol"), std::string::npos) << client.error();
}

TEST_F(TlsEngineTest, ServerRefusesClientOfferingAnotherAlpn) {
  SslCtxPtr h2_client(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(h2_client.get(), TLS1_3_VERSION);
  SSL_CTX_set_verify(h2_client.get(), SSL_VERIFY_NONE, nullptr);
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  ASSERT_EQ(SSL_CTX_set_alpn_protos(h2_client.get(), kH2, sizeof kH2), 0);
  TlsEngine client(h2_client.get(), TlsEngine::Role::Client);
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  client.start_handshake();
  pump(client, server);
  EXPECT_TRUE(server.failed());
  EXPECT_TRUE(client.failed());
  EXPECT_NE(client.error().find("no application protocol"), std::string::npos) << client.error();
}

TEST_F(TlsEngineTest, Tls12ClientCannotConnect) {
  SslCtxPtr old_client(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_max_proto_version(old_client.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(old_client.get(), SSL_VERIFY_NONE, nullptr);
  const std::string wire = std::string(1, static_cast<char>(kAlpn.size())) + std::string(kAlpn);
  SSL_CTX_set_alpn_protos(old_client.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned int>(wire.size()));
  TlsEngine client(old_client.get(), TlsEngine::Role::Client);
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  client.start_handshake();
  pump(client, server);
  EXPECT_TRUE(server.failed());
  EXPECT_FALSE(server.handshake_done());
  EXPECT_TRUE(client.failed());
  EXPECT_FALSE(client.handshake_done());
  EXPECT_NE(server.error().find("unsupported protocol"), std::string::npos) << server.error();
}

TEST_F(TlsEngineTest, GarbageFromThePeerIsAFatalError) {
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  EXPECT_FALSE(server.feed_ciphertext(as_bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  EXPECT_TRUE(server.failed());
  EXPECT_FALSE(server.error().empty());
}

TEST_F(TlsEngineTest, BothSidesExportTheSameKeyingMaterialUniqueToTheSession) {
  std::array<std::array<uint8_t, 32>, 2> client_exports{};
  std::array<std::array<uint8_t, 32>, 2> server_exports{};
  for (size_t session = 0; session < 2; ++session) {
    TlsEngine client(client_context_.get(), TlsEngine::Role::Client);
    TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
    EXPECT_FALSE(client.export_keying_material(client_exports[session], kAuthExporterLabel));
    connect(client, server);
    ASSERT_TRUE(client.export_keying_material(client_exports[session], kAuthExporterLabel));
    ASSERT_TRUE(server.export_keying_material(server_exports[session], kAuthExporterLabel));
    std::array<uint8_t, 32> other_label{};
    ASSERT_TRUE(client.export_keying_material(other_label, "EXPORTER-something-else"));
    EXPECT_NE(other_label, client_exports[session]);
  }
  EXPECT_EQ(client_exports[0], server_exports[0]);
  EXPECT_EQ(client_exports[1], server_exports[1]);
  EXPECT_NE(client_exports[0], client_exports[1]);
}

TEST_F(TlsEngineTest, AuthSignatureBindsToTheSession) {
  std::string err;
  const auto identity = generate_key_file(dir_.path() / "tenant.key", err);
  ASSERT_TRUE(identity) << err;
  std::array<std::array<uint8_t, 32>, 2> exports{};
  for (auto& exported : exports) {
    TlsEngine client(client_context_.get(), TlsEngine::Role::Client);
    TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
    connect(client, server);
    std::array<uint8_t, 32> client_export{};
    ASSERT_TRUE(client.export_keying_material(client_export, kAuthExporterLabel));
    ASSERT_TRUE(server.export_keying_material(exported, kAuthExporterLabel));
    const auto signature = sign_auth(*identity, client_export);
    EXPECT_TRUE(verify_auth(identity->public_key, exported, signature));
  }
  // A signature captured on session 0 is worthless on session 1.
  const auto signature_for_first = sign_auth(*identity, exports[0]);
  EXPECT_FALSE(verify_auth(identity->public_key, exports[1], signature_for_first));
}

TEST_F(TlsEngineTest, SelfSignedServerCertificateCanBeItsOwnCaFile) {
  std::string err;
  SslCtxPtr ca_client = make_client_tls_context(
      {.ca_file = dir_.path() / kServerCertFile, .server_name = "tunnel.example.test"}, err);
  ASSERT_TRUE(ca_client) << err;
  TlsEngine client(ca_client.get(), TlsEngine::Role::Client);
  TlsEngine server(server_context_.get(), TlsEngine::Role::Server);
  connect(client, server);

  TlsEngine wrong_name(ca_client.get(), TlsEngine::Role::Client, "other.example.test");
  TlsEngine server_again(server_context_.get(), TlsEngine::Role::Server);
  wrong_name.start_handshake();
  pump(wrong_name, server_again);
  EXPECT_TRUE(wrong_name.failed());
}

// --- CA mode ------------------------------------------------------------------------

class TlsEngineCaTest : public ::testing::Test {
 protected:
  void SetUp() override { pki_ = make_ca_signed_server(dir_.path()); }

  // Returns the client after a handshake attempt against the CA-signed server.
  bool handshake(const fs::path& ca_file, const std::string& context_name,
                 const std::string& engine_name, std::string* client_error = nullptr) {
    std::string err;
    SslCtxPtr client_context =
        make_client_tls_context({.ca_file = ca_file, .server_name = context_name}, err);
    EXPECT_TRUE(client_context) << err;
    if (!client_context) return false;
    TlsEngine client(client_context.get(), TlsEngine::Role::Client, engine_name);
    TlsEngine server(pki_.server_context.get(), TlsEngine::Role::Server);
    client.write_plaintext(as_bytes("AUTH"));
    client.start_handshake();
    pump(client, server);
    if (client_error != nullptr) *client_error = client.error();
    const bool connected = client.handshake_done() && server.handshake_done();
    EXPECT_EQ(connected, take_text(server) == "AUTH");
    return connected;
  }

  TempDir dir_;
  CaSignedServer pki_;
};

TEST_F(TlsEngineCaTest, AcceptsTheRightServerName) {
  EXPECT_TRUE(handshake(pki_.ca_file, "tunnel.example.test", ""));
}

TEST_F(TlsEngineCaTest, EngineServerNameOverridesTheContext) {
  EXPECT_TRUE(handshake(pki_.ca_file, "other.example.test", "tunnel.example.test"));
  EXPECT_FALSE(handshake(pki_.ca_file, "tunnel.example.test", "other.example.test"));
}

TEST_F(TlsEngineCaTest, RejectsTheWrongServerName) {
  std::string error;
  EXPECT_FALSE(handshake(pki_.ca_file, "other.example.test", "", &error));
  EXPECT_NE(error.find("hostname mismatch"), std::string::npos) << error;
}

TEST_F(TlsEngineCaTest, ChecksIpAddressesAgainstIpSubjectAltNames) {
  EXPECT_TRUE(handshake(pki_.ca_file, "192.0.2.7", ""));
  std::string error;
  EXPECT_FALSE(handshake(pki_.ca_file, "192.0.2.8", "", &error));
  EXPECT_NE(error.find("IP address mismatch"), std::string::npos) << error;
}

TEST_F(TlsEngineCaTest, RejectsAServerSignedByAnotherCa) {
  std::string error;
  EXPECT_FALSE(handshake(pki_.other_ca_file, "tunnel.example.test", "", &error));
  EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
}

// --- Who protects the records after the handshake -----------------------------
//
// Each side independently keeps OpenSSL's record layer or hands it to
// Tls13RecordLayer; the wire is TLS 1.3 either way, so every mix must carry
// data, key updates and close_notify, for each of the three suites.

using Records = TlsEngine::Records;
using RecordsCase = std::tuple<Records, Records, std::string>;

class TlsEngineRecordsTest : public TlsEngineTest,
                             public ::testing::WithParamInterface<RecordsCase> {
 protected:
  void SetUp() override {
    TlsEngineTest::SetUp();
    // The client offers only the suite under test.
    ASSERT_EQ(SSL_CTX_set_ciphersuites(client_context_.get(), suite().c_str()), 1);
  }
  Records client_records() const { return std::get<0>(GetParam()); }
  Records server_records() const { return std::get<1>(GetParam()); }
  const std::string& suite() const { return std::get<2>(GetParam()); }
  static bool takes_over(Records records) {
    return records == Records::Auto && RecordCipher::available();
  }
  TlsEngine make_client() {
    return TlsEngine(client_context_.get(), TlsEngine::Role::Client, {}, client_records());
  }
  TlsEngine make_server() {
    return TlsEngine(server_context_.get(), TlsEngine::Role::Server, {}, server_records());
  }
};

std::string records_case_name(const ::testing::TestParamInfo<RecordsCase>& info) {
  const auto name = [](Records r) { return r == Records::Auto ? "Ours" : "OpenSsl"; };
  std::string suite = std::get<2>(info.param).substr(4);  // drop "TLS_"
  std::erase(suite, '_');
  return std::string("Client") + name(std::get<0>(info.param)) + "Server" +
         name(std::get<1>(info.param)) + suite;
}

INSTANTIATE_TEST_SUITE_P(EveryMix, TlsEngineRecordsTest,
                         ::testing::Combine(::testing::Values(Records::Auto, Records::OpenSsl),
                                            ::testing::Values(Records::Auto, Records::OpenSsl),
                                            ::testing::Values("TLS_AES_128_GCM_SHA256",
                                                              "TLS_AES_256_GCM_SHA384",
                                                              "TLS_CHACHA20_POLY1305_SHA256")),
                         records_case_name);

TEST_P(TlsEngineRecordsTest, TakesOverExactlyWhenAskedAndAvailable) {
  TlsEngine client = make_client();
  TlsEngine server = make_server();
  connect(client, server);
  EXPECT_EQ(client.cipher_name(), suite());
  EXPECT_EQ(client.records_taken_over(), takes_over(client_records()));
  EXPECT_EQ(server.records_taken_over(), takes_over(server_records()));
  EXPECT_EQ(client.record_protection(),
            takes_over(client_records()) ? RecordCipher::implementation() : "openssl");
}

TEST_P(TlsEngineRecordsTest, DataRightBehindTheClientsFinishedArrives) {
  TlsEngine client = make_client();
  TlsEngine server = make_server();
  ASSERT_TRUE(client.write_plaintext(as_bytes("AUTH ")));
  client.start_handshake();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  ASSERT_TRUE(client.write_plaintext(as_bytes("and more")));
  pump(client, server);
  EXPECT_EQ(take_text(server), "AUTH and more");
  ASSERT_TRUE(server.write_plaintext(as_bytes("OK")));
  pump(client, server);
  EXPECT_EQ(take_text(client), "OK");
}

TEST_P(TlsEngineRecordsTest, HandshakeAndDataSurviveByteAtATimeDelivery) {
  TlsEngine client = make_client();
  TlsEngine server = make_server();
  ASSERT_TRUE(client.write_plaintext(as_bytes("AUTH")));
  client.start_handshake();
  for (int round = 0; round < 10; ++round) {
    bool sent = false;
    for (auto [from, to] : {std::pair{&client, &server}, std::pair{&server, &client}}) {
      Bytes flight;
      from->take_ciphertext(flight);
      for (const uint8_t byte : flight) ASSERT_TRUE(to->feed_ciphertext(ByteView(&byte, 1)));
      sent = sent || !flight.empty();
    }
    if (round == 3) {
      ASSERT_TRUE(server.write_plaintext(as_bytes("250 ok")));
    }
    if (!sent && round > 3) break;
  }
  EXPECT_EQ(take_text(server), "AUTH");
  EXPECT_EQ(take_text(client), "250 ok");
}

TEST_P(TlsEngineRecordsTest, MovesOneMebibyteEachWayInOddChunksAndGatheredParts) {
  TlsEngine client = make_client();
  TlsEngine server = make_server();
  connect(client, server);
  Bytes upstream(1 << 20);
  Bytes downstream(1 << 20);
  for (size_t i = 0; i < upstream.size(); ++i) {
    upstream[i] = static_cast<uint8_t>(i * 7 + i / 251);
    downstream[i] = static_cast<uint8_t>(i * 13 + i / 257);
  }
  static constexpr std::array<size_t, 6> kWrites = {1, 3, 1000, 4097, 16385, 70001};
  Bytes received_by_server;
  size_t next_write = 0;
  for (size_t at = 0; at < upstream.size();) {
    const size_t length = std::min(kWrites[next_write++ % kWrites.size()], upstream.size() - at);
    // A frame header's worth in front, then the rest: two parts, one run of records.
    const size_t head = std::min<size_t>(length, 7);
    const std::array<ByteView, 2> up = {ByteView(upstream).subspan(at, head),
                                        ByteView(upstream).subspan(at + head, length - head)};
    ASSERT_TRUE(client.write_plaintext(up));
    ASSERT_TRUE(server.write_plaintext(ByteView(downstream).subspan(at, length)));
    at += length;
    if (next_write % 3 == 0) pump_in_pieces(client, server);
    // Consume only part of what arrived, as a slow reader would.
    ByteBuffer& server_plaintext = server.plaintext();
    const ByteView part = server_plaintext.readable().first(server_plaintext.size() / 2);
    received_by_server.insert(received_by_server.end(), part.begin(), part.end());
    server_plaintext.consume(part.size());
  }
  pump_in_pieces(client, server);
  const ByteView rest = server.plaintext().readable();
  received_by_server.insert(received_by_server.end(), rest.begin(), rest.end());
  const ByteView got_down = client.plaintext().readable();
  EXPECT_TRUE(received_by_server == upstream);
  EXPECT_TRUE(Bytes(got_down.begin(), got_down.end()) == downstream);
  expect_healthy(client, server);
}

// Every record's nonce carries its whole 64-bit sequence number: 700 records
// each way take it past one byte.
TEST_P(TlsEngineRecordsTest, SequenceNumbersPastOneByteInterwork) {
  TlsEngine client = make_client();
  TlsEngine server = make_server();
  connect(client, server);
  std::string up;
  std::string down;
  for (int i = 0; i < 700; ++i) {
    const std::string line = "line " + std::to_string(i) + "\r\n";
    ASSERT_TRUE(client.write_plaintext(as_bytes(line)));
    ASSERT_TRUE(server.write_plaintext(as_bytes(line)));
    up += take_text(server);
    down += take_text(client);
    pump(client, server);
  }
  up += take_text(server);
  down += take_text(client);
  EXPECT_EQ(up.size(), down.size());
  EXPECT_NE(up.find("line 699\r\n"), std::string::npos);
  EXPECT_EQ(up, down);
  expect_healthy(client, server);
}

// A long-lived tunnel rekeys: with the thresholds lowered, 1 MiB each way makes
// both sides send KeyUpdates, and every byte after them still decrypts (the
// peer took the new keys in step), whichever record layer is on either side.
TEST_P(TlsEngineRecordsTest, KeysAreUpdatedAfterTheConfiguredVolumeAndDataKeepsFlowing) {
  TlsEngine client = make_client();
  TlsEngine server = make_server();
  connect(client, server);
  client.set_key_update_bytes(100000);
  server.set_key_update_bytes(70000);
  Bytes up(1 << 20), down(1 << 20);
  for (size_t i = 0; i < up.size(); ++i) {
    up[i] = static_cast<uint8_t>(i * 11 + i / 253);
    down[i] = static_cast<uint8_t>(i * 5 + i / 241);
  }
  Bytes got_up, got_down;
  for (size_t at = 0; at < up.size(); at += 30000) {
    const size_t n = std::min<size_t>(30000, up.size() - at);
    ASSERT_TRUE(client.write_plaintext(ByteView(up).subspan(at, n)));
    ASSERT_TRUE(server.write_plaintext(ByteView(down).subspan(at, n)));
    pump(client, server);
    const ByteView up_part = server.plaintext().readable();
    got_up.insert(got_up.end(), up_part.begin(), up_part.end());
    server.plaintext().clear();
    const ByteView down_part = client.plaintext().readable();
    got_down.insert(got_down.end(), down_part.begin(), down_part.end());
    client.plaintext().clear();
  }
  // Writes of 30,000: the count passes the threshold at the 4th (client) or
  // 3rd (server) write under each key.
  EXPECT_EQ(client.key_updates(), up.size() / 120000);
  EXPECT_EQ(server.key_updates(), down.size() / 90000);
  EXPECT_TRUE(got_up == up);
  EXPECT_TRUE(got_down == down);
  expect_healthy(client, server);
}

TEST_P(TlsEngineRecordsTest, CloseNotifyReachesThePeerWhoMayStillWrite) {
  TlsEngine client = make_client();
  TlsEngine server = make_server();
  connect(client, server);
  ASSERT_TRUE(client.write_plaintext(as_bytes("QUIT")));
  client.send_close_notify();
  client.send_close_notify();  // idempotent
  EXPECT_FALSE(client.write_plaintext(as_bytes("late")));
  pump(client, server);
  EXPECT_EQ(take_text(server), "QUIT");
  EXPECT_TRUE(server.peer_closed());
  EXPECT_FALSE(client.peer_closed());
  ASSERT_TRUE(server.write_plaintext(as_bytes("221 bye")));
  server.send_close_notify();
  pump(client, server);
  EXPECT_EQ(take_text(client), "221 bye");
  EXPECT_TRUE(client.peer_closed());
  expect_healthy(client, server);
}

TEST_P(TlsEngineRecordsTest, ATamperedRecordIsAFatalErrorAndNothingOfItIsDelivered) {
  TlsEngine client = make_client();
  TlsEngine server = make_server();
  connect(client, server);
  ASSERT_TRUE(client.write_plaintext(as_bytes("RCPT TO:<b@example.net>")));
  Bytes wire;
  client.take_ciphertext(wire);
  wire[wire.size() - 3] ^= 0x80;  // inside the tag
  EXPECT_FALSE(server.feed_ciphertext(wire));
  EXPECT_TRUE(server.failed());
  EXPECT_TRUE(server.plaintext().empty());
  // The server's alert reaches the client as a fatal error.
  Bytes alert;
  server.take_ciphertext(alert);
  ASSERT_FALSE(alert.empty());
  EXPECT_FALSE(client.feed_ciphertext(alert));
  EXPECT_NE(client.error().find("bad"), std::string::npos) << client.error();
}

// A server that sends session tickets (OpenSSL's default; ours sends none)
// keeps its own record layer, and a client that took over ignores the tickets.
TEST_F(TlsEngineTest, AClientThatTookOverIgnoresSessionTickets) {
  std::string err;
  SslCtxPtr ticketing_server =
      make_server_tls_context(dir_.path() / kServerCertFile, dir_.path() / kServerKeyFile, err);
  ASSERT_TRUE(ticketing_server) << err;
  SSL_CTX_set_num_tickets(ticketing_server.get(), 2);
  SSL_CTX_set_session_cache_mode(ticketing_server.get(), SSL_SESS_CACHE_SERVER);
  TlsEngine client(client_context_.get(), TlsEngine::Role::Client);
  TlsEngine server(ticketing_server.get(), TlsEngine::Role::Server);
  connect(client, server);
  EXPECT_FALSE(server.records_taken_over());
  EXPECT_EQ(client.records_taken_over(), RecordCipher::available());
  ASSERT_TRUE(server.write_plaintext(as_bytes("220 ready")));
  pump(client, server);
  EXPECT_EQ(take_text(client), "220 ready");
  ASSERT_TRUE(client.write_plaintext(as_bytes("EHLO x")));
  pump(client, server);
  EXPECT_EQ(take_text(server), "EHLO x");
  EXPECT_FALSE(client.failed()) << client.error();
}

}  // namespace
}  // namespace mx
