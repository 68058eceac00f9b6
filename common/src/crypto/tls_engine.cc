#include "mxegress/crypto/tls_engine.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "mxegress/crypto/certificate_facts.h"
#include "mxegress/crypto/tls13_record_layer.h"
#include "mxegress/crypto/tls_context.h"
#include "span_bio.h"

namespace mx {

namespace {

// Where an SSL keeps a pointer to its engine's Io, for the key log callback.
int io_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// MXEGRESS_TLS_RECORDS=openssl keeps OpenSSL's record layer after the
// handshake: for diagnosis, and for A/B measurements (docs/performance.md).
bool records_left_to_openssl_by_environment() {
  static const bool openssl = [] {
    const char* value = std::getenv("MXEGRESS_TLS_RECORDS");
    return value != nullptr && std::string_view(value) == "openssl";
  }();
  return openssl;
}

// The secret of a key log line "LABEL <client random> <secret>", both hex.
bool parse_key_log_secret(std::string_view line, std::string_view label, SecretBytes& secret) {
  if (line.size() <= label.size() || line.substr(0, label.size()) != label ||
      line[label.size()] != ' ') {
    return false;
  }
  const size_t space = line.rfind(' ');
  const std::string_view hex = line.substr(space + 1);
  if (hex.size() % 2 != 0 || hex.size() > 2 * 64) return false;
  SecretBytes bytes(hex.size() / 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int high = nibble(hex[2 * i]);
    const int low = nibble(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    bytes[i] = static_cast<uint8_t>(high << 4 | low);
  }
  secret = std::move(bytes);
  return true;
}

std::string describe_verify_failure(const SSL* ssl, long verify_result) {
  if (verify_result != X509_V_ERR_APPLICATION_VERIFICATION) {
    return X509_verify_cert_error_string(verify_result);
  }
  const size_t pins = client_pin_count(SSL_get_SSL_CTX(ssl));
  std::string text =
      pins > 1 ? "server certificate matches none of the " + std::to_string(pins) + " pins"
               : "server certificate does not match the pin";
  if (X509* leaf = presented_leaf(ssl)) {
    text += "; it presented " + format_pin(spki_sha256(leaf));
  }
  return text;
}

}  // namespace

TlsEngine::TlsEngine(SSL_CTX* ctx, Role role, std::string server_name, Records records)
    : records_choice_(records) {
  ERR_clear_error();
  ssl_.reset(ctx != nullptr ? SSL_new(ctx) : nullptr);
  BIO* bio = BIO_new(span_bio_method<Io>());
  if (!ssl_ || bio == nullptr) {
    BIO_free(bio);
    fail("cannot create TLS connection");
    return;
  }
  BIO_set_data(bio, io_.get());
  SSL_set_ex_data(ssl_.get(), io_index(), io_.get());
  SSL_set_bio(ssl_.get(), bio, bio);  // one BIO both ways; SSL_free frees it once
  if (role == Role::Server) {
    SSL_set_accept_state(ssl_.get());
    return;
  }
  SSL_set_connect_state(ssl_.get());
  if (std::string err; !configure_client_connection(ssl_.get(), server_name, err)) fail(err);
}

TlsEngine::TlsEngine(TlsEngine&&) noexcept = default;
TlsEngine& TlsEngine::operator=(TlsEngine&&) noexcept = default;
TlsEngine::~TlsEngine() = default;

void TlsEngine::capture_traffic_secret(const SSL* ssl, const char* line) {
  auto* io = static_cast<Io*>(SSL_get_ex_data(ssl, io_index()));
  if (io == nullptr || line == nullptr) return;
  const std::string_view text(line);
  if (!parse_key_log_secret(text, "CLIENT_TRAFFIC_SECRET_0", io->client_traffic_secret)) {
    parse_key_log_secret(text, "SERVER_TRAFFIC_SECRET_0", io->server_traffic_secret);
  }
}

void TlsEngine::start_handshake() {
  if (usable() && !handshake_done_) advance_handshake();
}

bool TlsEngine::feed_ciphertext(ByteView in) {
  if (!usable()) return false;
  io_->input = in;
  if (!handshake_done_) advance_handshake();
  // In TLS 1.3 the client's first application data may arrive with its Finished.
  if (handshake_done_ && !failed_) {
    if (records_) {
      open_records();
    } else {
      decrypt_available_records();
    }
  }
  // OpenSSL has read everything (a partial record waits in its own buffer);
  // the span belongs to the caller and must not outlive this call.
  io_->input = {};
  return !failed_;
}

void TlsEngine::release_idle_memory() {
  // An idle tunnel keeps no plaintext buffer (a busy one allocates one per
  // read, from the heap's free lists); OpenSSL's own record buffers go with
  // SSL_MODE_RELEASE_BUFFERS.
  if (plaintext_.empty()) plaintext_.release();
}

void TlsEngine::reserve_ciphertext(size_t plaintext_bytes) {
  if (!io_) return;
  // Each record adds at most 22 bytes (header, content type, GCM tag).
  const size_t records = plaintext_bytes / kMaxRecordPlaintext + 1;
  // ByteBuffer grows geometrically: a turn may reserve many times.
  io_->output.prepare(plaintext_bytes + records * Tls13RecordLayer::kRecordOverhead);
}

bool TlsEngine::write_plaintext(std::span<const ByteView> parts) {
  if (!usable() || close_notify_sent_) return false;
  if (!handshake_done_) {
    for (const ByteView part : parts) {
      plaintext_before_handshake_.insert(plaintext_before_handshake_.end(), part.begin(),
                                         part.end());
    }
    return true;
  }
  return encrypt(parts);
}

void TlsEngine::take_ciphertext(Bytes& out) {
  if (!io_ || io_->output.empty()) return;
  const ByteView pending = io_->output.readable();
  out.insert(out.end(), pending.begin(), pending.end());
  io_->output.release();  // an idle tunnel keeps no ciphertext capacity
}

ByteBuffer TlsEngine::take_ciphertext() {
  if (!io_) return {};
  return std::move(io_->output);  // handed over whole: no copy
}

size_t TlsEngine::pending_ciphertext() const { return io_ ? io_->output.size() : 0; }

void TlsEngine::send_close_notify() {
  if (!usable() || close_notify_sent_ || !handshake_done_) return;
  close_notify_sent_ = true;
  if (records_) {
    const size_t before = io_->output.size();
    records_->seal_close_notify(io_->output);
    io_->produced += io_->output.size() - before;
    return;
  }
  ERR_clear_error();
  const int result = SSL_shutdown(ssl_.get());
  if (result < 0) {
    const int reason = SSL_get_error(ssl_.get(), result);
    if (reason != SSL_ERROR_WANT_READ && reason != SSL_ERROR_WANT_WRITE) {
      fail("TLS shutdown failed");
      return;
    }
  }
  ERR_clear_error();
}

bool TlsEngine::export_keying_material(std::span<uint8_t> out, std::string_view label) const {
  if (!usable() || !handshake_done_) return false;
  const bool exported = SSL_export_keying_material(ssl_.get(), out.data(), out.size(), label.data(),
                                                   label.size(), nullptr, 0, 0) == 1;
  if (!exported) ERR_clear_error();
  return exported;
}

std::string TlsEngine::peer_certificate_summary() const {
  X509* cert = ssl_ ? SSL_get0_peer_certificate(ssl_.get()) : nullptr;
  if (cert == nullptr) return "no peer certificate";
  return "subject=" + certificate_subject(cert) + " pin=" + format_pin(spki_sha256(cert));
}

TlsEngine::CertificateVerdict TlsEngine::certificate_verdict() const {
  const long result = ssl_ ? SSL_get_verify_result(ssl_.get()) : X509_V_OK;
  if (result == X509_V_OK) return CertificateVerdict::Accepted;
  // What the pinned context's verify callback sets (tls_context.cc).
  return result == X509_V_ERR_APPLICATION_VERIFICATION ? CertificateVerdict::PinMismatch
                                                       : CertificateVerdict::Untrusted;
}

std::optional<std::array<uint8_t, 32>> TlsEngine::presented_pin() const {
  X509* leaf = ssl_ ? presented_leaf(ssl_.get()) : nullptr;
  if (leaf == nullptr) return std::nullopt;
  return spki_sha256(leaf);
}

std::string_view TlsEngine::alpn() const {
  if (!ssl_) return {};
  const unsigned char* name = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_.get(), &name, &length);
  return name != nullptr ? std::string_view(reinterpret_cast<const char*>(name), length)
                         : std::string_view();
}

std::string_view TlsEngine::protocol_version() const {
  return ssl_ ? SSL_get_version(ssl_.get()) : std::string_view();
}

std::string_view TlsEngine::cipher_name() const {
  const SSL_CIPHER* cipher = ssl_ ? SSL_get_current_cipher(ssl_.get()) : nullptr;
  return cipher != nullptr ? SSL_CIPHER_standard_name(cipher) : std::string_view();
}

std::string TlsEngine::record_protection() const {
  return records_ ? RecordCipher::implementation() : std::string("openssl");
}

std::string TlsEngine::record_protection_available() {
  if (records_left_to_openssl_by_environment()) return "openssl (MXEGRESS_TLS_RECORDS=openssl)";
  if (!RecordCipher::available()) return "openssl (" + RecordCipher::why_unavailable() + ")";
  return RecordCipher::implementation();
}

void TlsEngine::advance_handshake() {
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_.get());
  if (result == 1) {
    complete_handshake();
    return;
  }
  const int reason = SSL_get_error(ssl_.get(), result);
  if (reason != SSL_ERROR_WANT_READ && reason != SSL_ERROR_WANT_WRITE) {
    fail("TLS handshake failed");
  }
}

void TlsEngine::complete_handshake() {
  if (alpn() != kAlpn) {
    fail((SSL_is_server(ssl_.get()) ? "TLS client did not negotiate ALPN "
                                    : "TLS server did not select ALPN ") +
         std::string(kAlpn));
    return;
  }
  handshake_done_ = true;
  take_over_records();
  if (plaintext_before_handshake_.empty()) return;
  const Bytes held = std::exchange(plaintext_before_handshake_, {});
  const ByteView part(held);
  encrypt(std::span<const ByteView>(&part, 1));
}

// From here on Tls13RecordLayer protects the records, if it can start at
// exactly the point OpenSSL stopped: the application traffic secrets are
// known and OpenSSL has neither sent nor received a record under them (no
// session tickets; the span BIO lets OpenSSL read only whole records it
// asked for, so what follows its Finished is still in our input).
void TlsEngine::take_over_records() {
  SecretBytes client_secret = std::move(io_->client_traffic_secret);
  SecretBytes server_secret = std::move(io_->server_traffic_secret);
  if (records_choice_ == Records::OpenSsl || records_left_to_openssl_by_environment()) return;
  if (client_secret.empty() || server_secret.empty()) return;
  SSL* ssl = ssl_.get();
  if (SSL_is_server(ssl) && SSL_CTX_get_num_tickets(SSL_get_SSL_CTX(ssl)) != 0) return;
  if (SSL_has_pending(ssl) != 0) return;
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  const auto suite =
      cipher != nullptr ? tls13_suite_from_id(SSL_CIPHER_get_protocol_id(cipher)) : std::nullopt;
  if (!suite) return;
  records_ = Tls13RecordLayer::create(
      *suite, SSL_is_server(ssl) ? Tls13RecordLayer::Role::Server : Tls13RecordLayer::Role::Client,
      client_secret, server_secret);
  if (records_) SSL_free_buffers(ssl);  // OpenSSL's record buffers are not used again
}

void TlsEngine::open_records() {
  if (io_->input.empty()) return;
  // Room for everything this feed can yield, so the buffer grows at most once.
  plaintext_.prepare(io_->input.size());
  const size_t before = io_->output.size();
  const bool ok = records_->open(io_->input, plaintext_, io_->output);
  io_->produced += io_->output.size() - before;
  if (records_->peer_closed()) peer_closed_ = true;
  if (!ok) fail(records_->error());
}

// Reads until WANT_READ: a single feed may carry many records, and stopping early
// would strand decrypted bytes inside OpenSSL (SSL_pending) until the next feed.
// Output OpenSSL produces meanwhile (KeyUpdate replies) waits in the write BIO.
void TlsEngine::decrypt_available_records() {
  // Room for everything this feed can yield (its bytes, and a record OpenSSL
  // may hold from the last feed), so that the buffer grows at most once.
  plaintext_.prepare(io_->input.size() + kMaxRecordPlaintext);
  for (;;) {
    ERR_clear_error();
    size_t read = 0;
    const std::span<uint8_t> room = plaintext_.prepare(kMaxRecordPlaintext);
    if (SSL_read_ex(ssl_.get(), room.data(), room.size(), &read) == 1) {
      plaintext_.commit(read);
      continue;
    }
    switch (SSL_get_error(ssl_.get(), 0)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        if (SSL_pending(ssl_.get()) > 0) continue;
        return;
      case SSL_ERROR_ZERO_RETURN:
        peer_closed_ = true;
        return;
      default:
        fail("TLS read failed");
        return;
    }
  }
}

bool TlsEngine::encrypt(std::span<const ByteView> parts) {
  size_t total = 0;
  for (const ByteView part : parts) total += part.size();
  if (total == 0) return true;
  if (records_) {
    const size_t before = io_->output.size();
    records_->seal(parts, io_->output);
    io_->produced += io_->output.size() - before;
    if (records_->failed()) {
      fail(records_->error());
      return false;
    }
  } else if (!encrypt_with_openssl(parts)) {
    return false;
  }
  sent_under_key_ += total;
  return sent_under_key_ < key_update_bytes_ || update_keys();
}

// A KeyUpdate ahead of the next record we write; the peer's keys for this
// direction follow it.
bool TlsEngine::update_keys() {
  if (records_) {
    const size_t before = io_->output.size();
    const bool updated = records_->seal_key_update(false, io_->output);
    io_->produced += io_->output.size() - before;
    if (!updated) {
      fail("TLS key update failed: " + records_->error());
      return false;
    }
  } else if (SSL_key_update(ssl_.get(), SSL_KEY_UPDATE_NOT_REQUESTED) != 1) {
    fail("TLS key update failed");
    return false;
  }
  sent_under_key_ = 0;
  ++key_updates_;
  return true;
}

// SSL_write makes one record per call of up to 16 KiB, so small parts are
// gathered into one record's worth first (a frame header, then the start of
// its payload) and only whole records are written from the parts themselves.
bool TlsEngine::encrypt_with_openssl(std::span<const ByteView> parts) {
  thread_local std::array<uint8_t, kMaxRecordPlaintext> gathered;
  size_t held = 0;
  for (ByteView part : parts) {
    while (!part.empty()) {
      if (held > 0 || part.size() < kMaxRecordPlaintext) {
        const size_t n = std::min(part.size(), gathered.size() - held);
        std::memcpy(gathered.data() + held, part.data(), n);
        held += n;
        part = part.subspan(n);
        if (held == gathered.size()) {
          if (!ssl_write(ByteView(gathered.data(), held))) return false;
          held = 0;
        }
        continue;
      }
      const size_t whole = part.size() - part.size() % kMaxRecordPlaintext;
      if (!ssl_write(part.first(whole))) return false;
      part = part.subspan(whole);
    }
  }
  return held == 0 || ssl_write(ByteView(gathered.data(), held));
}

bool TlsEngine::ssl_write(ByteView in) {
  ERR_clear_error();
  size_t written = 0;
  if (SSL_write_ex(ssl_.get(), in.data(), in.size(), &written) != 1 || written != in.size()) {
    fail("TLS write failed");
    return false;
  }
  return true;
}

void TlsEngine::fail(std::string_view what) {
  failed_ = true;
  error_ = what;
  if (const std::string reason = take_openssl_error(); !reason.empty()) error_ += ": " + reason;
  if (ssl_) {
    if (const long verify_result = SSL_get_verify_result(ssl_.get()); verify_result != X509_V_OK) {
      error_ += " (" + describe_verify_failure(ssl_.get(), verify_result) + ")";
    }
  }
  plaintext_before_handshake_.clear();
}

}  // namespace mx
