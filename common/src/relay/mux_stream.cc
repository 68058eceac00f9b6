#include "mxegress/relay/mux_stream.h"

#include <algorithm>

#include "mxegress/relay/mux_tunnel.h"

namespace mx {

MuxStream::MuxStream(MuxTunnel& tunnel, uint32_t id, uint32_t receive_window, uint32_t send_window)
    : tunnel_(&tunnel), id_(id), receive_(receive_window), send_(send_window) {}

MuxStream::~MuxStream() {
  *alive_ = false;
  if (tunnel_ == nullptr) return;
  // A stream that never sent its CONNECT (its session went away while the
  // pool handed it over) has an id the server never saw: an RST for it would
  // be a protocol error that closes the tunnel.
  if (id_known_to_peer_ && !ended_ && !(fin_sent_ && fin_received_)) {
    Bytes rst;
    frame::encode_session_frame(rst, frame::Type::Rst, id_, {});
    tunnel_->send(rst);
  }
  tunnel_->remove(id_);
}

bool MuxStream::heard_since(std::chrono::steady_clock::time_point when) const {
  return tunnel_ != nullptr && tunnel_->last_heard() >= when;
}

void MuxStream::probe_tunnel() {
  if (tunnel_ == nullptr) return;
  Bytes ping;
  frame::encode_frame(ping, frame::Type::Ping, as_bytes("alive?"));
  tunnel_->send(ping);
}

void MuxStream::send_frame(frame::Type type, ByteView body) {
  if (!live()) return;
  id_known_to_peer_ = true;
  Bytes out;
  frame::encode_session_frame(out, type, id_, body);
  tunnel_->send(out);
}

void MuxStream::write(ByteView data) {
  if (!live() || fin_wanted_) return;
  if (held_.empty()) {
    const size_t n = std::min(data.size(), send_.available());
    if (n > 0) {
      send_.consume(n);
      std::weak_ptr<bool> alive = alive_;
      tunnel_->tunnel().write_session_data(id_, data.first(n));
      if (alive.expired() || ended_) return;  // the write failed and ended the tunnel
      data = data.subspan(n);
    }
  }
  held_.append(data);
}

size_t MuxStream::pending_bytes() const {
  return held_.size() + (tunnel_ ? tunnel_->tunnel().transport_pending() : 0);
}

bool MuxStream::send_held() {
  const size_t n = std::min(held_.size(), send_.available());
  if (n == 0) return true;
  send_.consume(n);
  std::weak_ptr<bool> alive = alive_;
  tunnel_->tunnel().write_session_data(id_, held_.readable().first(n));
  if (alive.expired() || ended_) return false;  // the write failed and ended the tunnel
  held_.consume(n);
  if (held_.empty()) held_.release();  // an idle session keeps no buffer
  return true;
}

void MuxStream::shutdown_write() {
  if (!live() || fin_wanted_) return;
  fin_wanted_ = true;
  if (held_.empty()) send_fin();
}

void MuxStream::send_fin() {
  fin_sent_ = true;
  send_frame(frame::Type::Fin, {});
  std::weak_ptr<bool> alive = alive_;
  tunnel_->loop().defer([this, alive] {
    if (!alive.expired() && reader_ != nullptr) reader_->on_stream_shutdown_done();
  });
}

void MuxStream::abort() {
  if (!live() || (fin_sent_ && fin_received_)) return;
  send_frame(frame::Type::Rst, {});
  ended_ = true;
  reader_ = nullptr;
  held_.release();
}

void MuxStream::send_credit(bool all) {
  if (!live()) return;
  const uint32_t increment = receive_.take_returnable(all);
  if (increment == 0) return;
  Bytes out;
  frame::encode_window(out, id_, increment);
  tunnel_->send(out);
}

void MuxStream::pause_reading() { receive_.pause(); }

void MuxStream::resume_reading() {
  receive_.resume();
  send_credit(true);
}

std::string MuxStream::describe() const {
  return "session " + std::to_string(id_) +
         (tunnel_ ? " of " + tunnel_->tunnel().describe() : std::string(" (tunnel gone)"));
}

void MuxStream::end_with_error(const std::string& why) {
  ended_ = true;
  held_.release();
  if (reader_ != nullptr) {
    StreamReader* reader = reader_;
    reader_ = nullptr;
    reader->on_stream_error(why);
  } else if (control_ != nullptr) {
    control_->on_session_closed(why);
  }
}

void MuxStream::on_frame(frame::Type type, ByteView body) {
  if (ended_) return;  // frames already on the way when we reset or forgot it
  switch (type) {
    case frame::Type::Data:
      if (reader_ == nullptr || fin_received_) {
        tunnel_->protocol_error(std::string("DATA ") +
                                (fin_received_ ? "after FIN" : "before the reply") +
                                " in session " + std::to_string(id_));
        return;
      }
      if (!receive_.on_received(body.size())) {
        tunnel_->protocol_error("session " + std::to_string(id_) + " sent beyond its window");
        return;
      }
      {
        std::weak_ptr<bool> alive = alive_;
        reader_->on_stream_data(body);
        if (!alive.expired()) send_credit(false);
      }
      return;
    case frame::Type::Fin:
      if (reader_ == nullptr || fin_received_) {
        tunnel_->protocol_error("unexpected FIN in session " + std::to_string(id_));
        return;
      }
      fin_received_ = true;
      reader_->on_stream_eof();
      return;
    case frame::Type::Rst:
      if (reader_ != nullptr) {
        end_with_error("session reset by peer");
      } else {
        ended_ = true;
        if (control_ != nullptr) control_->on_session_frame(type, body);
      }
      return;
    case frame::Type::Window: {
      auto increment = frame::parse_window(body);
      if (!increment || !send_.add(*increment)) {
        tunnel_->protocol_error("bad WINDOW for session " + std::to_string(id_));
        return;
      }
      // Held bytes go out, and a pump that stopped reading for want of
      // credit (held bytes or not) reads again.
      if (!send_held()) return;
      if (held_.empty() && fin_wanted_ && !fin_sent_) send_fin();
      if (reader_ != nullptr) reader_->on_stream_drained();
      return;
    }
    default:
      if (control_ == nullptr) {
        tunnel_->protocol_error(std::string("unexpected ") + frame::type_name(type) +
                                " in session " + std::to_string(id_));
        return;
      }
      control_->on_session_frame(type, body);
      return;
  }
}

void MuxStream::on_tunnel_closed(const std::string& why) {
  tunnel_ = nullptr;
  if (ended_) return;
  end_with_error(why);
}

void MuxStream::on_tunnel_drained() {
  if (reader_ != nullptr) reader_->on_stream_drained();
}

}  // namespace mx
