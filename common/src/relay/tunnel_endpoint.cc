#include "mxegress/relay/tunnel_endpoint.h"

#include <vector>

#include "mxegress/relay/tunnel_stream.h"

namespace mx {

TunnelEndpoint::TunnelEndpoint(Loop& loop, std::unique_ptr<Tunnel> tunnel, Side side,
                               uint32_t receive_window, uint32_t send_window,
                               Liveness::Settings liveness, TunnelEndpointOwner& owner)
    : loop_(loop),
      tunnel_(std::move(tunnel)),
      side_(side),
      owner_(owner),
      receive_window_(receive_window),
      send_window_(send_window),
      liveness_(liveness, uv_now(loop.get())),
      liveness_timer_(loop) {
  tunnel_->set_handler(this);
  if (!tunnel_->closed()) arm_liveness(liveness_.next_check_ms());
}

TunnelEndpoint::~TunnelEndpoint() {
  tunnel_->set_handler(nullptr);
  for (auto& [id, stream] : streams_) stream->endpoint_ = nullptr;
}

std::unique_ptr<TunnelStream> TunnelEndpoint::open_stream() {
  MX_ASSERT_IN_LOOP(loop_);
  if (tunnel_->closed() || highest_id_ >= UINT32_MAX - 2) return nullptr;
  return make_stream(highest_id_ == 0 ? 1 : highest_id_ + 2);
}

std::unique_ptr<TunnelStream> TunnelEndpoint::accept_stream(uint32_t id) {
  MX_ASSERT_IN_LOOP(loop_);
  auto stream = make_stream(id);
  stream->opened_by_peer();
  return stream;
}

std::unique_ptr<TunnelStream> TunnelEndpoint::make_stream(uint32_t id) {
  highest_id_ = std::max(highest_id_, id);
  auto stream = std::make_unique<TunnelStream>(*this, id, receive_window_, send_window_);
  streams_[id] = stream.get();
  return stream;
}

void TunnelEndpoint::remove(uint32_t id) {
  if (streams_.erase(id) != 0) owner_.on_stream_gone();
}

void TunnelEndpoint::on_tunnel_frame(const frame::Frame& f) {
  liveness_.heard(uv_now(loop_.get()));
  if (frame::is_session_frame(f.type)) {
    auto sf = frame::split_session(f.payload);
    if (!sf) return protocol_error(std::string(frame::type_name(f.type)) + " without a session id");
    return on_session_frame(f.type, *sf);
  }
  switch (f.type) {
    case frame::Type::Ping: {
      Bytes pong;
      frame::encode_frame(pong, frame::Type::Pong, f.payload);
      tunnel_->send(pong);
      return;
    }
    case frame::Type::Pong:
      return;  // hearing it was the point
    case frame::Type::GoAway:
      if (side_ == Side::Client) return owner_.on_goaway();
      break;
    default:
      break;
  }
  protocol_error(std::string("unexpected ") + frame::type_name(f.type));
}

void TunnelEndpoint::on_session_frame(frame::Type type, const frame::SessionFrame& sf) {
  auto it = streams_.find(sf.session);
  if (it != streams_.end()) {
    it->second->on_frame(type, sf.body);
    return;
  }
  if (type == frame::Type::Connect && side_ == Side::Server) {
    // New sessions take new odd ids: a reused id could be mistaken for the
    // late frames of the session that had it.
    if (sf.session % 2 == 0 || sf.session <= highest_id_) {
      return protocol_error("CONNECT for session " + std::to_string(sf.session) +
                            ", not a new odd id");
    }
    highest_id_ = sf.session;
    owner_.on_session_request(sf.session, sf.body);
    return;
  }
  // A session that ended here may still get the peer's frames already on
  // the way (WINDOW, a late RST): they are dropped. An id never used is not.
  if (sf.session == 0 || sf.session > highest_id_) {
    protocol_error(std::string(frame::type_name(type)) + " for unknown session " +
                   std::to_string(sf.session));
  }
}

void TunnelEndpoint::on_tunnel_closed(const std::string& why) {
  liveness_timer_.stop();
  // Streams are never destroyed from inside these calls (their owners use
  // destroy_later), so the pointers stay valid while we go through them.
  std::vector<TunnelStream*> streams;
  streams.reserve(streams_.size());
  for (const auto& [id, stream] : streams_) streams.push_back(stream);
  streams_.clear();
  for (TunnelStream* stream : streams) stream->on_tunnel_lost(why);
  owner_.on_endpoint_closed(why, streams.size());
}

void TunnelEndpoint::on_tunnel_drained() {
  std::vector<TunnelStream*> streams;
  streams.reserve(streams_.size());
  for (const auto& [id, stream] : streams_) streams.push_back(stream);
  for (TunnelStream* stream : streams) stream->on_tunnel_drained();
}

void TunnelEndpoint::expect_answer() {
  const uint64_t now = uv_now(loop_.get());
  liveness_.expect_answer(now);
  const uint64_t next = liveness_.next_check_ms();
  if (next < liveness_due_ms_) arm_liveness(next);
}

void TunnelEndpoint::arm_liveness(uint64_t at_ms) {
  const uint64_t now = uv_now(loop_.get());
  liveness_due_ms_ = at_ms;
  liveness_timer_.start(std::chrono::milliseconds(at_ms > now ? at_ms - now : 0),
                        [this] { on_liveness_timer(); });
}

// Frames only stamp the time they were heard; the timer, when it fires,
// asks what is due (no timer-heap update per frame).
void TunnelEndpoint::on_liveness_timer() {
  const Liveness::Decision decision = liveness_.check(uv_now(loop_.get()));
  switch (decision.action) {
    case Liveness::Action::Dead:
      // Nothing more can reach a peer that stopped answering: no flush.
      tunnel_->abort("no answer within keepalive_timeout (" +
            std::to_string(liveness_.settings().timeout.count()) + " ms)");
      return;
    case Liveness::Action::Ping: {
      Bytes ping;
      frame::encode_frame(ping, frame::Type::Ping, as_bytes("alive?"));
      tunnel_->send(ping);
      break;
    }
    case Liveness::Action::Wait:
      break;
  }
  arm_liveness(decision.next_check_ms);
}

}  // namespace mx
