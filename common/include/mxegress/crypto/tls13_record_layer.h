// TLS 1.3 record protection after the handshake (RFC 8446 section 5), as a
// codec: ciphertext in, plaintext and output records out, no sockets.
//
// OpenSSL does the handshake, certificates and key schedule; when it is done
// TlsEngine hands the two application traffic secrets to this layer and
// OpenSSL's record layer is not used again, as the kernel's kTLS would take
// it over (this kernel has none). The bytes on the wire are TLS 1.3 records
// whichever side protects them: the peer may be OpenSSL, or this layer.
//
// It seals application data into records of up to 16 KiB straight from the
// caller's buffers, opens records straight into the caller's plaintext
// buffer (only a record split across reads is copied, to complete it), and
// handles what may follow a handshake: KeyUpdate (either side, answered when
// the peer asks), NewSessionTicket (ignored), alerts (close_notify ends the
// peer's side; any other ends the connection). On an error it queues a fatal
// alert for the peer and stops.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "mxegress/crypto/record_cipher.h"
#include "mxegress/crypto/tls13_key_schedule.h"
#include "mxegress/util/byte_buffer.h"
#include "mxegress/util/bytes.h"

namespace mx {

class Tls13RecordLayer {
 public:
  static constexpr size_t kMaxPlaintext = 16 * 1024;  // per record (2^14)
  static constexpr size_t kHeaderLength = 5;
  // Header, inner content type and tag: the most a record adds to its data.
  static constexpr size_t kRecordOverhead = kHeaderLength + 1 + RecordCipher::kTagLength;

  enum class Role { Client, Server };

  // The application traffic secrets of both sides (client_application_
  // traffic_secret_0 and server_...). nullptr when the suite is not one of
  // TLS 1.3's three or the cipher is not available; the caller then keeps
  // OpenSSL's record layer.
  static std::unique_ptr<Tls13RecordLayer> create(Tls13Suite suite, Role role,
                                                  ByteView client_secret, ByteView server_secret);

  // Opens every whole record in `in` (and completes the one a previous call
  // held a part of). Application data is appended to `plaintext`; records
  // this side must send in answer (a KeyUpdate the peer requested, a fatal
  // alert) are appended to `out`. false once failed (see error()). After
  // the peer's close_notify the rest of `in` is ignored.
  bool open(ByteView in, ByteBuffer& plaintext, ByteBuffer& out);

  // Seals the concatenation of `parts` as application data records of up to
  // kMaxPlaintext bytes each, appended to `out`.
  void seal(std::span<const ByteView> parts, ByteBuffer& out);
  void seal(ByteView data, ByteBuffer& out) { seal(std::span<const ByteView>(&data, 1), out); }
  // A KeyUpdate, then the new sending keys for everything after it.
  bool seal_key_update(bool request_peer_update, ByteBuffer& out);
  void seal_close_notify(ByteBuffer& out);

  bool failed() const { return failed_; }
  bool peer_closed() const { return peer_closed_; }
  const std::string& error() const { return error_; }
  uint64_t key_updates_received() const { return key_updates_received_; }

  // One direction: its cipher under the current traffic secret, and the
  // sequence number of the next record (the nonce is iv XOR sequence).
  struct Direction {
    Tls13Suite suite;
    SecretBytes secret;
    SecretBytes iv;
    RecordCipher cipher;
    uint64_t sequence = 0;

    static std::unique_ptr<Direction> make(Tls13Suite suite, ByteView secret);
    bool update_keys();  // KeyUpdate: the next traffic secret, sequence 0
    std::array<uint8_t, RecordCipher::kNonceLength> next_nonce();
  };

 private:
  Tls13RecordLayer(Role role, std::unique_ptr<Direction> read, std::unique_ptr<Direction> write);

  void open_record(ByteView record, ByteBuffer& plaintext, ByteBuffer& out);
  void on_handshake_bytes(ByteView bytes, ByteBuffer& out);
  void on_alert(ByteView alert, ByteBuffer& out);
  // Writes one record of `length` bytes gathered from parts[*part] at
  // *offset onwards, followed by the inner content type.
  void seal_one(uint8_t content_type, std::span<const ByteView> parts, size_t& part, size_t& offset,
                size_t length, ByteBuffer& out);
  // One record holding one small message (an alert, a KeyUpdate).
  void seal_message(uint8_t content_type, ByteView message, ByteBuffer& out);
  void fail(uint8_t alert, const std::string& why, ByteBuffer& out);

  Role role_;
  std::unique_ptr<Direction> read_;
  std::unique_ptr<Direction> write_;
  ByteBuffer partial_record_;  // a record split across calls to open()
  Bytes handshake_;            // post-handshake messages split across records
  bool failed_ = false;
  bool peer_closed_ = false;
  bool close_notify_sent_ = false;
  std::string error_;
  uint64_t key_updates_received_ = 0;
};

}  // namespace mx
