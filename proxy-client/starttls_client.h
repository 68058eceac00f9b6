// The client side of TLS after STARTTLS, as a codec over memory BIOs:
// ciphertext in, plaintext out and back, no I/O. Any MX, any protocol
// version and ALPN (TlsEngine is the tunnel's: TLS 1.3 and ALPN mxegress/2
// only); SNI is the MX host name unless it is an IP literal.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "mxegress/util/bytes.h"

namespace mx {

class StartTlsClient {
 public:
  // `ctx` is only referenced (SSL_new takes its own reference). A setup
  // failure shows as failed().
  StartTlsClient(SSL_CTX* ctx, const std::string& server_name);
  StartTlsClient(const StartTlsClient&) = delete;
  StartTlsClient& operator=(const StartTlsClient&) = delete;

  void start_handshake();  // the ClientHello, in take_ciphertext()
  // Bytes from the MX: advances the handshake, decrypts into plaintext().
  // False on a fatal error (error() says OpenSSL's reason).
  bool feed_ciphertext(ByteView in);
  bool write_plaintext(ByteView in);  // held by OpenSSL until the handshake is done
  void send_close_notify();
  void take_ciphertext(Bytes& out);  // appends what is to be sent, and clears it

  Bytes& plaintext() { return plaintext_; }  // the caller consumes it
  bool handshake_done() const { return handshake_done_; }
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  const SSL* ssl() const { return ssl_.get(); }

 private:
  struct SslDeleter {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };
  void advance();
  void fail(const std::string& what);

  std::unique_ptr<SSL, SslDeleter> ssl_;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  Bytes plaintext_;
  Bytes pending_;  // written before the handshake was done
  bool handshake_done_ = false;
  bool failed_ = false;
  std::string error_;
};

}  // namespace mx
