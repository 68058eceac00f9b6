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
// A full read is four DATA frames in either mode (no short fifth): four full
// multiplexed payloads, and at most four of the single mode's larger ones.
static_assert(TcpConnection::kReadBufferSize == 4 * frame::kMaxMuxDataPayload &&
                  frame::kMaxDataPayload >= frame::kMaxMuxDataPayload,
              "a full read is four DATA frames in either mode");
}  // namespace

Tunnel::Tunnel(Loop& loop, std::unique_ptr<TcpConnection> transport, SSL_CTX* tls_context,
               TlsEngine::Role role, std::string server_name)
    : loop_(loop),
      transport_(std::move(transport)),
      tls_(tls_context, role, std::move(server_name)) {
  transport_->set_reader(this);
}

Tunnel::~Tunnel() {
  *alive_ = false;
  if (flush_scheduled_) loop_.cancel_turn_end(this);
  transport_->set_reader(nullptr);
  transport_->close();
}

void Tunnel::start() {
  transport_->start_reading();
  tls_.start_handshake();
  flush_ciphertext();
}

void Tunnel::send(const Bytes& encoded_frames) {
  if (dead_) return;
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
  if (dead_) return false;
  if (outbox_.empty()) return true;
  tls_.reserve_ciphertext(outbox_.size());
  const bool written = tls_.write_plaintext(outbox_);
  outbox_.clear();
  // A bulk turn may have collected a megabyte; an idle tunnel keeps little.
  if (outbox_.capacity() > kKeptOutboxCapacity) Bytes().swap(outbox_);
  if (!written) {
    die("TLS write failed: " + tls_.error());
    return false;
  }
  return true;
}

void Tunnel::flush_ciphertext() {
  if (tls_.pending_ciphertext() == 0) return;
  transport_->write(tls_.take_ciphertext());
}

void Tunnel::close() {
  if (dead_) return;
  if (!encrypt_outbox()) return;
  dead_ = true;
  tls_.send_close_notify();
  flush_ciphertext();
  transport_->set_reader(nullptr);
  transport_->close_after_flush();
}

void Tunnel::die(const std::string& why) {
  if (dead_) return;
  dead_ = true;
  Bytes().swap(outbox_);
  transport_->set_reader(nullptr);
  transport_->close();
  if (session_ != nullptr) {
    session_->on_stream_error(why);
  } else if (handler_ != nullptr) {
    handler_->on_tunnel_closed(why);
  }
}

void Tunnel::attach_session(StreamReader* reader) {
  session_ = reader;
  if (reader != nullptr) {
    fin_sent_ = false;
    fin_received_ = false;
    end_received_ = false;
  }
}

void Tunnel::detach_session() { session_ = nullptr; }

void Tunnel::on_stream_data(ByteView data) {
  std::weak_ptr<bool> alive = alive_;
  if (!tls_.feed_ciphertext(data)) {
    flush_ciphertext();  // a TLS alert, if the engine produced one
    die("TLS: " + tls_.error());
    return;
  }
  flush_ciphertext();
  if (!ready_ && tls_.handshake_done()) {
    ready_ = true;
    if (handler_) handler_->on_tunnel_ready();
    if (alive.expired() || dead_) return;
  }
  dispatch_frames();
  // A frame handler may have destroyed this tunnel.
  if (alive.expired()) return;
  if (!dead_ && tls_.peer_closed()) die("peer closed the tunnel");
}

void Tunnel::on_stream_eof() {
  die(tls_.peer_closed() ? "peer closed the tunnel" : "connection closed without TLS close_notify");
}

void Tunnel::on_stream_error(const std::string& why) { die(why); }

void Tunnel::on_stream_drained() {
  if (session_) {
    session_->on_stream_drained();
  } else if (handler_) {
    handler_->on_tunnel_drained();
  }
}

void Tunnel::dispatch_frames() {
  if (dispatching_) return;
  dispatching_ = true;
  std::weak_ptr<bool> alive = alive_;
  while (!paused_ && !dead_) {
    ByteBuffer& plain = tls_.plaintext();
    const frame::DecodeResult r = frame::decode(plain.readable());
    if (r.status == frame::DecodeStatus::NeedMore) break;
    if (r.status == frame::DecodeStatus::Error) {
      die("protocol error: " + r.error);
      break;
    }
    // The frame's payload stays valid: only a new feed writes to the buffer.
    plain.consume(r.consumed);
    if (!dispatch_one(r.frame) || alive.expired()) return;
  }
  if (alive.expired()) return;
  dispatching_ = false;
  tls_.release_idle_memory();
}

// Returns false when the tunnel may have been destroyed by the callback.
bool Tunnel::dispatch_one(const frame::Frame& f) {
  std::weak_ptr<bool> alive = alive_;
  const bool session_frame =
      !multiplexed_ &&
      (f.type == frame::Type::Data || f.type == frame::Type::Fin || f.type == frame::Type::Rst);
  if (!session_frame) {
    if (f.type == frame::Type::End) end_received_ = true;
    if (handler_) handler_->on_tunnel_frame(f);
    return !alive.expired();
  }
  if (session_ == nullptr) {
    die(std::string("protocol error: ") + frame::type_name(f.type) + " outside a session");
    return !alive.expired();
  }
  switch (f.type) {
    case frame::Type::Data:
      if (fin_received_) {
        die("protocol error: DATA after FIN");
      } else {
        session_->on_stream_data(f.payload);
      }
      break;
    case frame::Type::Fin:
      fin_received_ = true;
      session_->on_stream_eof();
      break;
    default:  // Rst: the session is over and this tunnel will not be reused.
      die("session reset by peer");
      break;
  }
  return !alive.expired();
}

void Tunnel::write(ByteView data) { write_data_frames(data, std::nullopt); }

void Tunnel::write_session_data(uint32_t session, ByteView data) {
  write_data_frames(data, session);
}

void Tunnel::write_data_frames(ByteView data, std::optional<uint32_t> session) {
  if (dead_) return;
  const size_t max_payload = session ? frame::kMaxMuxDataPayload : frame::kMaxDataPayload;
  while (!data.empty()) {
    const size_t n = std::min(data.size(), max_payload);
    frame::encode_header(outbox_, frame::Type::Data, n + (session ? frame::kSessionIdSize : 0));
    if (session) append_u32(outbox_, *session);
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
    die("TLS write failed: " + tls_.error());
    return false;
  }
  if (tls_.pending_ciphertext() + frame::kMaxPayload > kCiphertextBatch) flush_ciphertext();
  return true;
}

size_t Tunnel::pending_bytes() const { return transport_pending(); }

size_t Tunnel::transport_pending() const {
  return transport_->pending_bytes() + tls_.pending_ciphertext() + outbox_.size();
}

void Tunnel::shutdown_write() {
  if (dead_ || fin_sent_) return;
  fin_sent_ = true;
  Bytes fin;
  frame::encode_frame(fin, frame::Type::Fin, {});
  send(fin);
  std::weak_ptr<bool> alive = alive_;
  loop_.defer([this, alive] {
    if (!alive.expired() && session_ != nullptr) session_->on_stream_shutdown_done();
  });
}

void Tunnel::abort() {
  if (dead_ || (fin_sent_ && fin_received_)) return;
  Bytes rst;
  frame::encode_frame(rst, frame::Type::Rst, {});
  send(rst);
  session_ = nullptr;
  close();
}

void Tunnel::pause_reading() {
  if (paused_) return;
  paused_ = true;
  transport_->pause_reading();
}

void Tunnel::resume_reading() {
  if (!paused_) return;
  paused_ = false;
  transport_->resume_reading();
  // Frames already decrypted would otherwise wait for the next TCP read.
  std::weak_ptr<bool> alive = alive_;
  loop_.defer([this, alive] {
    if (!alive.expired() && !dead_) dispatch_frames();
  });
}

std::string Tunnel::describe() const { return "tunnel " + transport_->describe(); }

}  // namespace mx
