#include "mxegress/relay/tunnel.h"

#include <algorithm>
#include <array>

namespace mx {
namespace {
constexpr size_t kKeptOutboxCapacity = 80 * 1024;
// A DATA payload of a record or more is encrypted from the caller's buffer
// (with the outbox in front of it) instead of being copied into the outbox.
constexpr size_t kEncryptInPlaceBytes = TlsEngine::kMaxRecordPlaintext;
// Bulk ciphertext leaves in batches of about this much (one write each).
constexpr size_t kCiphertextBatch = 256 * 1024;
// A full read is four whole DATA frames (no short fifth).
static_assert(TcpConnection::kReadBufferSize == 4 * frame::kMaxDataPayload,
              "a full read is four DATA frames");
}  // namespace

Tunnel::Tunnel(Loop& loop, std::unique_ptr<TcpConnection> transport, SSL_CTX* tls_context,
               TlsEngine::Role role, std::string server_name)
    : loop_(loop),
      transport_(std::move(transport)),
      tls_(tls_context, role, std::move(server_name)) {
  transport_->set_reader(this);
}

Tunnel::~Tunnel() {
  if (flush_scheduled_) loop_.cancel_turn_end(this);
  transport_->set_reader(nullptr);
  transport_->close();
}

void Tunnel::start() {
  MX_ASSERT_IN_LOOP(loop_);
  transport_->start_reading();
  tls_.start_handshake();
  flush_ciphertext();
}

void Tunnel::send(ByteView encoded_frames) {
  MX_ASSERT_IN_LOOP(loop_);
  if (closed_) return;
  outbox_.insert(outbox_.end(), encoded_frames.begin(), encoded_frames.end());
  schedule_flush();
}

void Tunnel::schedule_flush() {
  if (flush_scheduled_ || (outbox_.empty() && tls_.pending_ciphertext() == 0)) return;
  flush_scheduled_ = true;
  loop_.at_turn_end(this);
}

void Tunnel::on_turn_end() {
  flush_scheduled_ = false;
  if (!encrypt_outbox()) return;
  flush_ciphertext();
  // Everything reached the kernel without a write request, so no write
  // callback will say so: a session paused on our queue resumes here.
  if (transport_->pending_bytes() == 0) on_stream_drained();
}

bool Tunnel::encrypt_outbox() {
  if (closed_) return false;
  if (outbox_.empty()) return true;
  tls_.reserve_ciphertext(outbox_.size());
  const bool written = tls_.write_plaintext(outbox_);
  outbox_.clear();
  // A bulk turn may have collected a megabyte; an idle tunnel keeps little.
  if (outbox_.capacity() > kKeptOutboxCapacity) Bytes().swap(outbox_);
  if (!written) {
    end("TLS write failed: " + tls_.error(), false);
    return false;
  }
  return true;
}

void Tunnel::flush_ciphertext() {
  if (tls_.pending_ciphertext() == 0) return;
  transport_->write(tls_.take_ciphertext());
}

void Tunnel::close(const std::string& why) { end(why, true); }

// The one way a tunnel ends. `graceful`: what is queued still goes out,
// behind a close_notify (our own close); otherwise the socket is dropped.
void Tunnel::end(const std::string& why, bool graceful) {
  if (closed_) return;
  // Encrypting what is queued can fail, and that ends the tunnel with its
  // own reason.
  if (graceful && !encrypt_outbox()) return;
  closed_ = true;
  transport_->set_reader(nullptr);
  if (graceful) {
    tls_.send_close_notify();
    flush_ciphertext();
    transport_->close_after_flush();
  } else {
    Bytes().swap(outbox_);
    transport_->close();
  }
  if (handler_ != nullptr) handler_->on_tunnel_closed(why);
}

void Tunnel::on_stream_data(ByteView data) {
  if (!data.empty()) heard_ = true;
  if (!tls_.feed_ciphertext(data)) {
    flush_ciphertext();  // a TLS alert, if the engine produced one
    end("TLS: " + tls_.error(), false);
    return;
  }
  flush_ciphertext();
  // A write that failed at once (a reset peer) ended the tunnel inside the
  // flush: its handler was told, and may have let it go.
  if (closed_) return;
  if (!ready_ && tls_.handshake_done()) {
    ready_ = true;
    if (handler_ != nullptr) handler_->on_tunnel_ready();
    if (closed_) return;
  }
  dispatch_frames();
  if (!closed_ && tls_.peer_closed()) end("peer closed the tunnel", false);
}

void Tunnel::on_stream_eof() {
  if (tls_.peer_closed()) {
    end("peer closed the tunnel", false);
  } else if (transport_->reset_by_peer()) {
    end(uv_error_text(UV_ECONNRESET), false);  // as on_stream_error says a reset
  } else {
    end("connection closed without TLS close_notify", false);
  }
}

void Tunnel::on_stream_error(const std::string& why) { end(why, false); }

void Tunnel::on_stream_drained() {
  if (handler_ != nullptr && !closed_) handler_->on_tunnel_drained();
}

void Tunnel::dispatch_frames() {
  if (dispatching_) return;
  dispatching_ = true;
  // Handlers never destroy the tunnel from here (owners use destroy_later),
  // so only its state needs checking after each frame.
  while (!closed_) {
    ByteBuffer& plain = tls_.plaintext();
    const frame::DecodeResult r = frame::decode(plain.readable());
    if (r.status == frame::DecodeStatus::NeedMore) break;
    if (r.status == frame::DecodeStatus::Error) {
      end("protocol error: " + r.error, false);
      break;
    }
    // The frame's payload stays valid: only a new feed writes to the buffer.
    plain.consume(r.consumed);
    if (handler_ != nullptr) handler_->on_tunnel_frame(r.frame);
  }
  dispatching_ = false;
  if (!closed_) tls_.release_idle_memory();
}

void Tunnel::send_data(uint32_t session, ByteView data) {
  MX_ASSERT_IN_LOOP(loop_);
  if (closed_) return;
  while (!data.empty()) {
    const size_t n = std::min(data.size(), frame::kMaxDataPayload);
    frame::encode_header(outbox_, frame::Type::Data, n + frame::kSessionIdSize);
    append_u32(outbox_, session);
    if (n < kEncryptInPlaceBytes) {
      outbox_.insert(outbox_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(n));
    } else if (!encrypt_with_outbox(data.first(n))) {
      return;
    }
    data = data.subspan(n);
  }
  schedule_flush();
}

// The turn's frames so far and this payload leave as one run of full records,
// the payload encrypted from the caller's buffer: a bulk transfer's bytes are
// never copied into the outbox.
bool Tunnel::encrypt_with_outbox(ByteView payload) {
  if (tls_.pending_ciphertext() == 0) tls_.reserve_ciphertext(kCiphertextBatch);
  const std::array<ByteView, 2> parts = {ByteView(outbox_), payload};
  const bool written = tls_.write_plaintext(parts);
  outbox_.clear();
  if (!written) {
    end("TLS write failed: " + tls_.error(), false);
    return false;
  }
  if (tls_.pending_ciphertext() + frame::kMaxPayload > kCiphertextBatch) flush_ciphertext();
  return true;
}

size_t Tunnel::pending_bytes() const {
  return transport_->pending_bytes() + tls_.pending_ciphertext() + outbox_.size();
}

}  // namespace mx
