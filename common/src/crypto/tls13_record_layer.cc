#include "mxegress/crypto/tls13_record_layer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace mx {
namespace {

// Record content types (RFC 8446 5.1).
constexpr uint8_t kChangeCipherSpec = 20;
constexpr uint8_t kAlert = 21;
constexpr uint8_t kHandshake = 22;
constexpr uint8_t kApplicationData = 23;

// Handshake message types that may follow the handshake (4.6).
constexpr uint8_t kNewSessionTicket = 4;
constexpr uint8_t kKeyUpdate = 24;

// Alert descriptions (6).
constexpr uint8_t kCloseNotify = 0;
constexpr uint8_t kUnexpectedMessage = 10;
constexpr uint8_t kBadRecordMac = 20;
constexpr uint8_t kRecordOverflow = 22;
constexpr uint8_t kIllegalParameter = 47;
constexpr uint8_t kDecodeError = 50;
constexpr uint8_t kInternalError = 80;
constexpr uint8_t kUserCanceled = 90;

constexpr uint8_t kWarning = 1;
constexpr uint8_t kFatal = 2;

// A record's ciphertext may carry up to 2^14 + 256 bytes (5.2).
constexpr size_t kMaxCiphertext = Tls13RecordLayer::kMaxPlaintext + 256;
// Post-handshake messages we accept are small; a ticket is a few hundred bytes.
constexpr size_t kMaxHandshakeBuffer = 64 * 1024;

std::string alert_name(uint8_t description) {
  switch (description) {
    case kCloseNotify:
      return "close_notify";
    case kUnexpectedMessage:
      return "unexpected_message";
    case kBadRecordMac:
      return "bad_record_mac";
    case kRecordOverflow:
      return "record_overflow";
    case 40:
      return "handshake_failure";
    case kIllegalParameter:
      return "illegal_parameter";
    case kDecodeError:
      return "decode_error";
    case 51:
      return "decrypt_error";
    case kInternalError:
      return "internal_error";
    case kUserCanceled:
      return "user_canceled";
    default:
      return "alert " + std::to_string(description);
  }
}

}  // namespace

std::unique_ptr<Tls13RecordLayer::Direction> Tls13RecordLayer::Direction::make(Tls13Suite suite,
                                                                               ByteView secret) {
  if (secret.size() != tls13_hash_length(suite)) return nullptr;
  auto keys = tls13_traffic_keys(suite, secret);
  if (!keys) return nullptr;
  auto direction = std::make_unique<Direction>(
      Direction{suite, SecretBytes(secret.begin(), secret.end()), std::move(keys->iv),
                RecordCipher(suite, keys->key), 0});
  if (!direction->cipher.ok()) return nullptr;
  return direction;
}

bool Tls13RecordLayer::Direction::update_keys() {
  SecretBytes next = tls13_next_traffic_secret(suite, secret);
  if (next.empty()) return false;
  auto keys = tls13_traffic_keys(suite, next);
  if (!keys) return false;
  RecordCipher next_cipher(suite, keys->key);
  if (!next_cipher.ok()) return false;
  secret = std::move(next);
  iv = std::move(keys->iv);
  cipher = std::move(next_cipher);
  sequence = 0;
  return true;
}

std::array<uint8_t, RecordCipher::kNonceLength> Tls13RecordLayer::Direction::next_nonce() {
  // The 64-bit sequence number, big-endian, left-padded to the IV's length
  // and XORed into it (5.3). It never wraps: 2^64 records cannot be sent.
  std::array<uint8_t, RecordCipher::kNonceLength> nonce;
  std::memcpy(nonce.data(), iv.data(), nonce.size());
  const uint64_t number = sequence++;
  for (size_t i = 0; i < 8; ++i) {
    nonce[nonce.size() - 1 - i] ^= static_cast<uint8_t>(number >> (8 * i));
  }
  return nonce;
}

std::unique_ptr<Tls13RecordLayer> Tls13RecordLayer::create(Tls13Suite suite, Role role,
                                                           ByteView client_secret,
                                                           ByteView server_secret) {
  if (!RecordCipher::available()) return nullptr;
  const bool client = role == Role::Client;
  auto read = Direction::make(suite, client ? server_secret : client_secret);
  auto write = Direction::make(suite, client ? client_secret : server_secret);
  if (!read || !write) return nullptr;
  return std::unique_ptr<Tls13RecordLayer>(
      new Tls13RecordLayer(role, std::move(read), std::move(write)));
}

Tls13RecordLayer::Tls13RecordLayer(Role role, std::unique_ptr<Direction> read,
                                   std::unique_ptr<Direction> write)
    : role_(role), read_(std::move(read)), write_(std::move(write)) {}

bool Tls13RecordLayer::open(ByteView in, ByteBuffer& plaintext, ByteBuffer& out) {
  const auto record_length = [](const uint8_t* header) {
    return kHeaderLength + read_u16(header + 3);
  };
  const auto header_is_valid = [this, &out](const uint8_t* header) {
    if (read_u16(header + 3) <= kMaxCiphertext) return true;
    fail(kRecordOverflow, "TLS record longer than 2^14 + 256 bytes", out);
    return false;
  };
  // Moves up to `wanted` bytes of `in` into the held record.
  const auto hold = [this, &in](size_t wanted) {
    const size_t n = std::min(wanted, in.size());
    partial_record_.append(in.first(n));
    in = in.subspan(n);
  };
  while (!failed_ && !peer_closed_) {
    if (!partial_record_.empty()) {
      // Complete the held record: its header first, then its body.
      if (partial_record_.size() < kHeaderLength) {
        hold(kHeaderLength - partial_record_.size());
        if (partial_record_.size() < kHeaderLength) break;
        if (!header_is_valid(partial_record_.readable().data())) break;
      }
      const size_t length = record_length(partial_record_.readable().data());
      hold(length - partial_record_.size());
      if (partial_record_.size() < length) break;
      open_record(partial_record_.readable(), plaintext, out);
      partial_record_.clear();
      if (in.empty()) partial_record_.release();  // an idle connection keeps no record buffer
      continue;
    }
    if (in.empty()) break;
    if (in.size() >= kHeaderLength && !header_is_valid(in.data())) break;
    if (in.size() < kHeaderLength || in.size() < record_length(in.data())) {
      hold(in.size());
      break;
    }
    const size_t length = record_length(in.data());
    open_record(in.first(length), plaintext, out);
    in = in.subspan(length);
  }
  return !failed_;
}

void Tls13RecordLayer::open_record(ByteView record, ByteBuffer& plaintext, ByteBuffer& out) {
  const uint8_t type = record[0];
  if (type != kApplicationData) {
    // change_cipher_spec is only tolerated before the peer's Finished (5),
    // and every record after the handshake is protected.
    fail(kUnexpectedMessage,
         type == kChangeCipherSpec ? "TLS change_cipher_spec after the handshake"
                                   : "unprotected TLS record after the handshake",
         out);
    return;
  }
  const size_t body = record.size() - kHeaderLength;
  if (body < 1 + RecordCipher::kTagLength) {
    fail(kBadRecordMac, "TLS record too short to be protected", out);
    return;
  }
  const size_t inner_length = body - RecordCipher::kTagLength;
  // Decrypted straight into the plaintext buffer; committed only once the
  // tag is verified and only for application data.
  uint8_t* inner = plaintext.prepare(inner_length).data();
  const auto nonce = read_->next_nonce();
  read_->cipher.begin(nonce, record.first(kHeaderLength), false);
  read_->cipher.update(inner, record.data() + kHeaderLength, inner_length);
  if (!read_->cipher.open(
          record.subspan(kHeaderLength + inner_length).first<RecordCipher::kTagLength>())) {
    fail(kBadRecordMac, "TLS record failed authentication (bad_record_mac)", out);
    return;
  }
  // TLSInnerPlaintext: content, the real content type, then zero padding.
  size_t end = inner_length;
  while (end > 0 && inner[end - 1] == 0) --end;
  if (end == 0) {
    fail(kUnexpectedMessage, "TLS record without a content type", out);
    return;
  }
  const uint8_t inner_type = inner[end - 1];
  const size_t content_length = end - 1;
  if (content_length > kMaxPlaintext) {
    fail(kRecordOverflow, "TLS record plaintext longer than 2^14 bytes", out);
    return;
  }
  switch (inner_type) {
    case kApplicationData:
      plaintext.commit(content_length);
      return;
    case kHandshake:
      if (content_length == 0) {
        fail(kUnexpectedMessage, "empty TLS handshake record", out);
        return;
      }
      on_handshake_bytes(ByteView(inner, content_length), out);
      return;
    case kAlert:
      on_alert(ByteView(inner, content_length), out);
      return;
    default:
      fail(kUnexpectedMessage, "TLS record of unknown content type " + std::to_string(inner_type),
           out);
      return;
  }
}

void Tls13RecordLayer::on_handshake_bytes(ByteView bytes, ByteBuffer& out) {
  handshake_.insert(handshake_.end(), bytes.begin(), bytes.end());
  if (handshake_.size() > kMaxHandshakeBuffer) {
    fail(kUnexpectedMessage, "TLS post-handshake message too long", out);
    return;
  }
  size_t at = 0;
  while (!failed_ && handshake_.size() - at >= 4) {
    const uint8_t type = handshake_[at];
    const size_t length = (size_t{handshake_[at + 1]} << 16) | read_u16(&handshake_[at + 2]);
    if (handshake_.size() - at - 4 < length) break;
    const ByteView body(handshake_.data() + at + 4, length);
    at += 4 + length;
    switch (type) {
      case kNewSessionTicket:
        // This client resumes no sessions; a server never receives one.
        if (role_ == Role::Server)
          fail(kUnexpectedMessage, "TLS NewSessionTicket from a client", out);
        break;
      case kKeyUpdate: {
        if (length != 1 || body[0] > 1) {
          fail(length != 1 ? kDecodeError : kIllegalParameter, "malformed TLS KeyUpdate", out);
          break;
        }
        // The next record uses the new keys, so nothing may follow the
        // KeyUpdate in its record (4.6.3, 5.1).
        if (at != handshake_.size()) {
          fail(kUnexpectedMessage, "TLS KeyUpdate not at the end of its record", out);
          break;
        }
        if (!read_->update_keys()) {
          fail(kInternalError, "TLS key update failed", out);
          break;
        }
        ++key_updates_received_;
        if (body[0] == 1) seal_key_update(false, out);  // update_requested: answer with ours
        break;
      }
      default:
        fail(kUnexpectedMessage,
             "unexpected TLS handshake message " + std::to_string(type) + " after the handshake",
             out);
        break;
    }
  }
  handshake_.erase(handshake_.begin(), handshake_.begin() + static_cast<ptrdiff_t>(at));
  if (handshake_.empty()) Bytes().swap(handshake_);
}

void Tls13RecordLayer::on_alert(ByteView alert, ByteBuffer& out) {
  if (alert.size() != 2) {
    fail(kDecodeError, "malformed TLS alert", out);
    return;
  }
  const uint8_t description = alert[1];
  if (description == kCloseNotify) {
    peer_closed_ = true;  // data after it is ignored (6.1)
    return;
  }
  if (description == kUserCanceled) return;  // a warning; close_notify follows
  // A fatal alert: the peer has closed, so none is sent back.
  failed_ = true;
  error_ = "peer sent TLS alert " + alert_name(description);
}

void Tls13RecordLayer::seal(std::span<const ByteView> parts, ByteBuffer& out) {
  if (failed_ || close_notify_sent_) return;
  size_t total = 0;
  for (const ByteView part : parts) total += part.size();
  const size_t records = (total + kMaxPlaintext - 1) / kMaxPlaintext;
  out.prepare(total + records * kRecordOverhead);  // one allocation for all of them
  size_t part = 0;
  size_t offset = 0;
  for (size_t left = total; left > 0;) {
    const size_t length = std::min(left, kMaxPlaintext);
    seal_one(kApplicationData, parts, part, offset, length, out);
    left -= length;
  }
}

void Tls13RecordLayer::seal_one(uint8_t content_type, std::span<const ByteView> parts, size_t& part,
                                size_t& offset, size_t length, ByteBuffer& out) {
  const size_t record_length = kRecordOverhead + length;
  uint8_t* record = out.prepare(record_length).data();
  record[0] = kApplicationData;  // the outer type of every protected record
  record[1] = 0x03;
  record[2] = 0x03;
  const size_t body = length + 1 + RecordCipher::kTagLength;
  record[3] = static_cast<uint8_t>(body >> 8);
  record[4] = static_cast<uint8_t>(body);
  const auto nonce = write_->next_nonce();
  write_->cipher.begin(nonce, ByteView(record, kHeaderLength), true);
  uint8_t* at = record + kHeaderLength;
  for (size_t left = length; left > 0;) {
    const ByteView piece = parts[part].subspan(offset);
    const size_t n = std::min(left, piece.size());
    write_->cipher.update(at, piece.data(), n);
    at += n;
    left -= n;
    offset += n;
    if (offset == parts[part].size()) {
      ++part;
      offset = 0;
    }
  }
  write_->cipher.update(at, &content_type, 1);
  ++at;
  write_->cipher.seal(std::span<uint8_t, RecordCipher::kTagLength>(at, RecordCipher::kTagLength));
  out.commit(record_length);
}

bool Tls13RecordLayer::seal_key_update(bool request_peer_update, ByteBuffer& out) {
  if (failed_ || close_notify_sent_) return false;
  const std::array<uint8_t, 5> message = {kKeyUpdate, 0, 0, 1,
                                          static_cast<uint8_t>(request_peer_update ? 1 : 0)};
  seal_message(kHandshake, message, out);
  if (!write_->update_keys()) {
    failed_ = true;
    error_ = "TLS key update failed";
    return false;
  }
  return true;
}

void Tls13RecordLayer::seal_close_notify(ByteBuffer& out) {
  if (failed_ || close_notify_sent_) return;
  seal_message(kAlert, std::array<uint8_t, 2>{kWarning, kCloseNotify}, out);
  close_notify_sent_ = true;
}

void Tls13RecordLayer::seal_message(uint8_t content_type, ByteView message, ByteBuffer& out) {
  size_t part = 0;
  size_t offset = 0;
  seal_one(content_type, std::span<const ByteView>(&message, 1), part, offset, message.size(), out);
}

void Tls13RecordLayer::fail(uint8_t alert, const std::string& why, ByteBuffer& out) {
  if (failed_) return;
  if (!close_notify_sent_) seal_message(kAlert, std::array<uint8_t, 2>{kFatal, alert}, out);
  failed_ = true;
  error_ = why;
}

}  // namespace mx
