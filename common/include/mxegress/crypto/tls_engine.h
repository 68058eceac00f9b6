// One TLS connection as a codec: ciphertext in and out, plaintext in and out,
// no sockets and no loop (style convention 2). OpenSSL reads ciphertext
// straight from the span given to feed_ciphertext() and writes it into a
// buffer that take_ciphertext() hands over whole: no memory BIO copies, and
// nothing retained between bursts, so an idle tunnel costs little memory.
//
// OpenSSL runs the handshake. Once it is done, the records are protected by
// Tls13RecordLayer (intel-ipsec-mb's AEAD, no copies) when the CPU and the
// build allow it, else by OpenSSL to the end; the wire is TLS 1.3 either way
// (docs/architecture.md, "TLS records after the handshake").
//
// Usage: start_handshake() on the client, then for every read from the socket
// feed_ciphertext(), consume plaintext(), and send what take_ciphertext() yields;
// after every write_plaintext() call take_ciphertext() too.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mxegress/crypto/tls13_key_schedule.h"
#include "mxegress/util/byte_buffer.h"
#include "mxegress/util/bytes.h"

namespace mx {

class Tls13RecordLayer;

class TlsEngine {
 public:
  enum class Role { Client, Server };
  // Who protects the records after the handshake. Auto: Tls13RecordLayer
  // when available, unless the environment says MXEGRESS_TLS_RECORDS=openssl.
  enum class Records { Auto, OpenSsl };
  // The most plaintext one TLS record carries (OpenSSL's default max_send_fragment).
  static constexpr size_t kMaxRecordPlaintext = 16 * 1024;

  // ctx is only referenced (SSL_new takes its own reference). Client: server_name is
  // sent as SNI and, for a CA-verifying context, is the name the certificate must
  // match (empty: the context's server_name). A setup failure shows as failed().
  TlsEngine(SSL_CTX* ctx, Role role, std::string server_name = {}, Records records = Records::Auto);
  TlsEngine(TlsEngine&&) noexcept;
  TlsEngine& operator=(TlsEngine&&) noexcept;
  ~TlsEngine();

  // Client: produces the ClientHello. Server: optional, does nothing visible.
  void start_handshake();

  // Bytes read from the socket. Advances the handshake, then decrypts every whole
  // record into plaintext(). false on a fatal TLS error (see error()); the engine
  // may then still hold an alert in its ciphertext for the peer.
  bool feed_ciphertext(ByteView in);

  // Decrypted bytes not yet consumed; the caller consumes what it used.
  ByteBuffer& plaintext() { return plaintext_; }
  // Frees the plaintext buffer's capacity when it is empty: call it after
  // consuming plaintext(), so an idle connection keeps no burst-sized buffer.
  void release_idle_memory();
  // Sizes the ciphertext buffer for `plaintext_bytes` about to be written, so
  // it is allocated once instead of growing record by record.
  void reserve_ciphertext(size_t plaintext_bytes);

  // Encrypts in. Before the handshake completes the bytes are held and encrypted
  // right after completion (never sent to an unverified peer). false on fatal error
  // or after send_close_notify().
  bool write_plaintext(ByteView in) { return write_plaintext(std::span<const ByteView>(&in, 1)); }
  // Encrypts the concatenation of parts (a frame header and its payload, say)
  // in full records, without first copying the parts together.
  bool write_plaintext(std::span<const ByteView> parts);

  // Our sending keys are updated (a TLS 1.3 KeyUpdate) after this many
  // plaintext bytes. AES-GCM should not see more than ~2^24.5 full records
  // under one key (~380 GB, RFC 8446 5.5), and a pooled or shared tunnel may
  // live long enough to carry that; the peer updates its own side likewise.
  static constexpr uint64_t kKeyUpdateBytes = uint64_t{64} << 30;
  void set_key_update_bytes(uint64_t bytes) { key_update_bytes_ = bytes; }
  uint64_t key_updates() const { return key_updates_; }
  // Every ciphertext byte produced so far (handshake, records, alerts).
  uint64_t ciphertext_bytes() const { return io_ ? io_->produced : 0; }
  // Appends all pending ciphertext to out and clears it.
  void take_ciphertext(Bytes& out);
  // All pending ciphertext, handed over without a copy.
  ByteBuffer take_ciphertext();
  size_t pending_ciphertext() const;

  bool handshake_done() const { return handshake_done_; }
  bool failed() const { return failed_; }
  bool peer_closed() const { return peer_closed_; }  // close_notify received
  const std::string& error() const { return error_; }

  // Queues a close_notify once the handshake is done; idempotent. Later writes fail.
  void send_close_notify();

  // The key log callback new_tls13_context installs on every context: it
  // hands a connection's application traffic secrets to its engine, which
  // gives them to Tls13RecordLayer after the handshake (as nginx's and
  // ngtcp2's OpenSSL 3.0 compatibility layers obtain QUIC's secrets).
  static void capture_traffic_secret(const SSL* ssl, const char* line);

  // RFC 8446 section 7.5 exporter with no context; false before the handshake is done.
  bool export_keying_material(std::span<uint8_t> out, std::string_view label) const;

  // "subject=<RFC 2253 subject> pin=sha256/<base64>", or "no peer certificate".
  std::string peer_certificate_summary() const;
  // Whether the peer's certificate was refused, and how: not the pinned key
  // (a pinned context), or not trusted (CA verification). Accepted also when
  // it was not checked (yet).
  enum class CertificateVerdict { Accepted, PinMismatch, Untrusted };
  CertificateVerdict certificate_verdict() const;
  // The SPKI pin of the leaf the peer presented, also when it was refused.
  std::optional<std::array<uint8_t, 32>> presented_pin() const;
  std::string_view alpn() const;              // empty until negotiated
  std::string_view protocol_version() const;  // e.g. "TLSv1.3"
  std::string_view cipher_name() const;       // e.g. "TLS_AES_128_GCM_SHA256"
  // Who protects the records now: "openssl", or the record layer's cipher
  // implementation (e.g. "intel-ipsec-mb-1.3.0-avx512") once it took over.
  std::string record_protection() const;
  bool records_taken_over() const { return records_ != nullptr; }
  // What engines of this process use after the handshake, for --version:
  // "intel-ipsec-mb-1.3.0-avx512", or "openssl (<why>)".
  static std::string record_protection_available();

 private:
  struct SslDeleter {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };

  bool usable() const { return ssl_ && !failed_; }
  void advance_handshake();
  void complete_handshake();
  void take_over_records();
  void decrypt_available_records();
  void open_records();
  bool encrypt(std::span<const ByteView> parts);
  bool encrypt_with_openssl(std::span<const ByteView> parts);
  bool ssl_write(ByteView in);
  bool update_keys();
  void fail(std::string_view what);

  // The buffers OpenSSL's BIO reads from and writes to, and the traffic
  // secrets its key log hands over. On the heap so that the BIO's and the
  // SSL's pointers to them survive a move of the engine.
  struct Io {
    ByteView input;     // the span being fed; empty outside feed_ciphertext()
    ByteBuffer output;  // ciphertext not yet taken
    uint64_t produced = 0;
    SecretBytes client_traffic_secret;  // client_application_traffic_secret_0
    SecretBytes server_traffic_secret;
  };

  std::unique_ptr<Io> io_ = std::make_unique<Io>();
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::unique_ptr<Tls13RecordLayer> records_;
  Records records_choice_ = Records::Auto;
  ByteBuffer plaintext_;  // SSL_read (or the record layer) writes straight into it
  Bytes plaintext_before_handshake_;
  std::string error_;
  bool handshake_done_ = false;
  bool failed_ = false;
  bool peer_closed_ = false;
  bool close_notify_sent_ = false;
  uint64_t key_update_bytes_ = kKeyUpdateBytes;
  uint64_t sent_under_key_ = 0;  // plaintext bytes encrypted since the last key update
  uint64_t key_updates_ = 0;
};

}  // namespace mx
