#include "mxegress/relay/tunnel_stream.h"

#include <algorithm>

#include "mxegress/relay/tunnel_endpoint.h"

namespace mx {

TunnelStream::TunnelStream(TunnelEndpoint& endpoint, uint32_t id, uint32_t receive_window,
                           uint32_t send_window)
    : endpoint_(&endpoint),
      id_(id),
      receive_(receive_window),
      send_(send_window),
      shutdown_done_(endpoint.loop()) {}

TunnelStream::~TunnelStream() {
  if (endpoint_ == nullptr) return;
  // A stream that never sent its CONNECT (its session went away while the
  // pool handed it over) has an id the server never saw: an RST for it would
  // be a protocol error that closes the tunnel.
  if (id_known_to_peer_ && !ended_ && !(fin_sent_ && fin_received_)) {
    Bytes rst;
    frame::encode_session_frame(rst, frame::Type::Rst, id_, {});
    endpoint_->send(rst);
  }
  endpoint_->remove(id_);
}

void TunnelStream::send_frame(frame::Type type, ByteView body) {
  if (!live()) return;
  id_known_to_peer_ = true;
  Bytes out;
  frame::encode_session_frame(out, type, id_, body);
  endpoint_->send(out);
}

void TunnelStream::send_connect(const Target& target) {
  if (!live()) return;
  id_known_to_peer_ = true;
  Bytes out;
  frame::encode_connect(out, id_, target);
  endpoint_->send(out);
  endpoint_->expect_answer();
}

void TunnelStream::send_reply(const frame::ConnectReplyMessage& reply) {
  if (!live()) return;
  Bytes out;
  frame::encode_connect_reply(out, id_, reply);
  endpoint_->send(out);
}

void TunnelStream::write(ByteView data) {
  if (!live() || fin_wanted_) return;
  if (held_.empty()) {
    const size_t n = std::min(data.size(), send_.available());
    if (n > 0) {
      send_.consume(n);
      endpoint_->tunnel().send_data(id_, data.first(n));
      if (!live()) return;  // the write failed and ended the tunnel
      data = data.subspan(n);
    }
  }
  held_.append(data);
}

size_t TunnelStream::pending_bytes() const {
  return held_.size() + (endpoint_ != nullptr ? endpoint_->tunnel().pending_bytes() : 0);
}

bool TunnelStream::send_held() {
  const size_t n = std::min(held_.size(), send_.available());
  if (n == 0) return true;
  send_.consume(n);
  endpoint_->tunnel().send_data(id_, held_.readable().first(n));
  if (!live()) return false;  // the write failed and ended the tunnel
  held_.consume(n);
  if (held_.empty()) held_.release();  // an idle session keeps no buffer
  return true;
}

void TunnelStream::shutdown_write() {
  if (!live() || fin_wanted_) return;
  fin_wanted_ = true;
  if (held_.empty()) send_fin();
}

void TunnelStream::send_fin() {
  fin_sent_ = true;
  send_frame(frame::Type::Fin, {});
  shutdown_done_.schedule([this] {
    if (reader_ != nullptr) reader_->on_stream_shutdown_done();
  });
}

void TunnelStream::abort() {
  if (!live() || (fin_sent_ && fin_received_)) return;
  // A stream whose CONNECT was never sent is unknown to the peer: no RST.
  if (id_known_to_peer_) send_frame(frame::Type::Rst, {});
  ended_ = true;
  reader_ = nullptr;
  held_.release();
}

void TunnelStream::send_credit(bool all) {
  if (!live()) return;
  const uint32_t increment = receive_.take_returnable(all);
  if (increment == 0) return;
  Bytes out;
  frame::encode_window(out, id_, increment);
  endpoint_->send(out);
}

void TunnelStream::pause_reading() { receive_.pause(); }

void TunnelStream::resume_reading() {
  receive_.resume();
  send_credit(true);
}

std::string TunnelStream::describe() const {
  return "session " + std::to_string(id_) +
         (endpoint_ != nullptr ? " of " + endpoint_->tunnel().describe()
                               : std::string(" (tunnel gone)"));
}

void TunnelStream::end_with_error(const std::string& why) {
  ended_ = true;
  held_.release();
  shutdown_done_.cancel();
  if (reader_ != nullptr) {
    StreamReader* reader = std::exchange(reader_, nullptr);
    reader->on_stream_error(why);
  } else if (control_ != nullptr) {
    control_->on_session_lost(why);
  }
}

void TunnelStream::on_frame(frame::Type type, ByteView body) {
  if (ended_) return;  // frames already on the way when we reset or forgot it
  switch (type) {
    case frame::Type::Data:
      if (reader_ == nullptr || fin_received_) {
        endpoint_->protocol_error(std::string("DATA ") +
                                  (fin_received_ ? "after FIN" : "before the reply") +
                                  " in session " + std::to_string(id_));
        return;
      }
      if (!receive_.on_received(body.size())) {
        endpoint_->protocol_error("session " + std::to_string(id_) + " sent beyond its window");
        return;
      }
      reader_->on_stream_data(body);
      send_credit(false);
      return;
    case frame::Type::Fin:
      if (reader_ == nullptr || fin_received_) {
        endpoint_->protocol_error("unexpected FIN in session " + std::to_string(id_));
        return;
      }
      fin_received_ = true;
      reader_->on_stream_eof();
      return;
    case frame::Type::Rst:
      if (reader_ != nullptr) {
        end_with_error("reset by peer");
      } else {
        ended_ = true;
        if (control_ != nullptr) control_->on_session_frame(type, body);
      }
      return;
    case frame::Type::Window: {
      auto increment = frame::parse_window(body);
      if (!increment || !send_.add(*increment)) {
        endpoint_->protocol_error("bad WINDOW for session " + std::to_string(id_));
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
      if (control_ == nullptr || reader_ != nullptr) {
        endpoint_->protocol_error(std::string("unexpected ") + frame::type_name(type) +
                                  " in session " + std::to_string(id_));
        return;
      }
      control_->on_session_frame(type, body);
      return;
  }
}

void TunnelStream::on_tunnel_lost(const std::string& why) {
  endpoint_ = nullptr;
  if (ended_) return;
  end_with_error("lost: " + why);
}

void TunnelStream::on_tunnel_drained() {
  if (reader_ != nullptr) reader_->on_stream_drained();
}

}  // namespace mx
