#include "probe_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <memory>

namespace mx {
namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string subject_text(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> text(BIO_new(BIO_s_mem()), &BIO_free);
  if (!text) return {};
  X509_NAME_print_ex(text.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long length = BIO_get_mem_data(text.get(), &data);
  return length > 0 ? std::string(data, static_cast<size_t>(length)) : std::string();
}

std::vector<std::string> dns_names(X509* cert) {
  std::vector<std::string> names;
  auto* general =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (general == nullptr) return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(general); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(general, i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = name->d.dNSName;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                       static_cast<size_t>(ASN1_STRING_length(dns)));
  }
  GENERAL_NAMES_free(general);
  return names;
}

}  // namespace

SslCtxPtr make_probe_tls_context(const std::string& host, const ProbeTlsOptions& options,
                                 std::string& err) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    err = "cannot create TLS context: " + take_openssl_error();
    return nullptr;
  }
  // Verified, but not enforced: the verdict is in SSL_get_verify_result.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) ERR_clear_error();
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx.get());
  if (is_ip_literal(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  if (!options.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert.c_str()) != 1) {
      err = options.cert.string() + ": " + take_openssl_error();
      return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), options.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      err = options.key.string() + ": " + take_openssl_error();
      return nullptr;
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      err = options.key.string() + ": does not match " + options.cert.string();
      return nullptr;
    }
  }
  return ctx;
}

std::string certificate_fingerprint(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) return {};
  static const char* const kHex = "0123456789ABCDEF";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    if (i > 0) text += ':';
    text += kHex[digest[i] >> 4];
    text += kHex[digest[i] & 0x0f];
  }
  return text;
}

ProbeTls describe_probe_tls(const SSL* ssl) {
  ProbeTls tls;
  tls.version = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl))
    tls.cipher = SSL_CIPHER_get_name(cipher);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return tls;
  tls.has_certificate = true;
  tls.certificate.subject = subject_text(cert);
  tls.certificate.dns_names = dns_names(cert);
  tls.certificate.sha256 = certificate_fingerprint(cert);
  const long result = SSL_get_verify_result(ssl);
  tls.certificate.verified = result == X509_V_OK;
  if (!tls.certificate.verified)
    tls.certificate.verify_error = X509_verify_cert_error_string(result);
  return tls;
}

}  // namespace mx
