#include "starttls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>

#include "mxegress/crypto/tls_context.h"

namespace mx {
namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

StartTlsClient::StartTlsClient(SSL_CTX* ctx, const std::string& server_name) {
  ERR_clear_error();
  ssl_.reset(ctx != nullptr ? SSL_new(ctx) : nullptr);
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (!ssl_ || in_ == nullptr || out_ == nullptr) {
    BIO_free(in_);
    BIO_free(out_);
    in_ = out_ = nullptr;
    fail("cannot create TLS connection");
    return;
  }
  SSL_set_bio(ssl_.get(), in_, out_);
  SSL_set_connect_state(ssl_.get());
  if (!server_name.empty() && !is_ip_literal(server_name) &&
      SSL_set_tlsext_host_name(ssl_.get(), server_name.c_str()) != 1) {
    fail("invalid server name '" + server_name + "'");
  }
}

void StartTlsClient::start_handshake() {
  if (!failed_) advance();
}

bool StartTlsClient::feed_ciphertext(ByteView in) {
  if (failed_) return false;
  if (!in.empty() && BIO_write(in_, in.data(), static_cast<int>(in.size())) <= 0) {
    fail("cannot buffer TLS input");
    return false;
  }
  advance();
  return !failed_;
}

void StartTlsClient::advance() {
  if (!handshake_done_) {
    const int rc = SSL_do_handshake(ssl_.get());
    if (rc != 1) {
      const int reason = SSL_get_error(ssl_.get(), rc);
      if (reason != SSL_ERROR_WANT_READ && reason != SSL_ERROR_WANT_WRITE) {
        fail("TLS handshake failed");
      }
      return;
    }
    handshake_done_ = true;
    if (!pending_.empty()) {
      const Bytes held = std::move(pending_);
      pending_.clear();
      write_plaintext(held);
    }
  }
  uint8_t buf[16 * 1024];
  while (true) {
    size_t got = 0;
    const int rc = SSL_read_ex(ssl_.get(), buf, sizeof buf, &got);
    if (rc == 1) {
      plaintext_.insert(plaintext_.end(), buf, buf + got);
      continue;
    }
    const int reason = SSL_get_error(ssl_.get(), rc);
    if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) return;
    if (reason == SSL_ERROR_ZERO_RETURN) return fail("the MX closed TLS (close_notify)");
    return fail("TLS read failed");
  }
}

bool StartTlsClient::write_plaintext(ByteView in) {
  if (failed_) return false;
  if (!handshake_done_) {
    pending_.insert(pending_.end(), in.begin(), in.end());
    return true;
  }
  size_t written = 0;
  if (!in.empty() && SSL_write_ex(ssl_.get(), in.data(), in.size(), &written) != 1) {
    fail("TLS write failed");
    return false;
  }
  return true;
}

void StartTlsClient::send_close_notify() {
  if (handshake_done_ && !failed_) SSL_shutdown(ssl_.get());
}

void StartTlsClient::take_ciphertext(Bytes& out) {
  if (out_ == nullptr) return;
  char* data = nullptr;
  const long length = BIO_get_mem_data(out_, &data);
  if (length <= 0) return;
  out.insert(out.end(), data, data + length);
  (void)BIO_reset(out_);
}

void StartTlsClient::fail(const std::string& what) {
  failed_ = true;
  error_ = what;
  if (const std::string reason = take_openssl_error(); !reason.empty()) error_ += ": " + reason;
}

}  // namespace mx
