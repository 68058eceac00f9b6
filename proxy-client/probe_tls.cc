#include "probe_tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <memory>

#include "mxegress/crypto/certificate_facts.h"
#include "mxegress/net/socket_address.h"

namespace mx {

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
  // An IP literal is checked against the certificate's IP addresses.
  if (SocketAddress::parse_ip(host, 0)) {
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

ProbeTls describe_probe_tls(const SSL* ssl) {
  ProbeTls tls;
  tls.version = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl))
    tls.cipher = SSL_CIPHER_get_name(cipher);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return tls;
  tls.has_certificate = true;
  tls.certificate.subject = certificate_subject(cert);
  tls.certificate.dns_names = certificate_dns_names(cert);
  tls.certificate.sha256 = certificate_fingerprint(cert);
  const long result = SSL_get_verify_result(ssl);
  tls.certificate.verified = result == X509_V_OK;
  if (!tls.certificate.verified)
    tls.certificate.verify_error = X509_verify_cert_error_string(result);
  return tls;
}

}  // namespace mx
