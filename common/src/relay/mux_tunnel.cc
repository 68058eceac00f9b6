#include "mxegress/relay/mux_tunnel.h"

#include <vector>

#include "mxegress/relay/mux_stream.h"

namespace mx {

MuxTunnel::MuxTunnel(Loop& loop, Tunnel& tunnel, uint32_t receive_window, uint32_t send_window,
                     MuxTunnelHandler& handler)
    : loop_(loop),
      tunnel_(tunnel),
      handler_(handler),
      receive_window_(receive_window),
      send_window_(send_window) {
  tunnel_.set_multiplexed();
  tunnel_.set_handler(this);
}

MuxTunnel::~MuxTunnel() {
  *alive_ = false;
  tunnel_.set_handler(nullptr);
  for (auto& [id, stream] : streams_) stream->detach();
}

std::unique_ptr<MuxStream> MuxTunnel::open_next_stream() {
  if (highest_id_ >= UINT32_MAX - 2) return nullptr;
  return make_stream(highest_id_ == 0 ? 1 : highest_id_ + 2);
}

std::unique_ptr<MuxStream> MuxTunnel::open_stream(uint32_t session) {
  auto stream = make_stream(session);
  stream->opened_by_peer();
  return stream;
}

std::unique_ptr<MuxStream> MuxTunnel::make_stream(uint32_t session) {
  highest_id_ = std::max(highest_id_, session);
  auto stream = std::make_unique<MuxStream>(*this, session, receive_window_, send_window_);
  streams_[session] = stream.get();
  return stream;
}

void MuxTunnel::remove(uint32_t session) {
  if (streams_.erase(session) != 0) handler_.on_mux_stream_gone();
}

void MuxTunnel::on_tunnel_frame(const frame::Frame& f) {
  last_heard_ = std::chrono::steady_clock::now();
  if (!frame::is_session_frame(f.type)) {
    handler_.on_mux_frame(f);
    return;
  }
  auto sf = frame::split_session(f.payload);
  if (!sf) return protocol_error(std::string(frame::type_name(f.type)) + " without a session id");
  on_session_frame(f.type, *sf);
}

void MuxTunnel::on_session_frame(frame::Type type, const frame::SessionFrame& sf) {
  auto it = streams_.find(sf.session);
  if (it != streams_.end()) {
    it->second->on_frame(type, sf.body);
    return;
  }
  if (type == frame::Type::Connect) {
    // New sessions take new odd ids: a reused id could be mistaken for the
    // late frames of the session that had it.
    if (sf.session % 2 == 0 || sf.session <= highest_id_) {
      return protocol_error("CONNECT for session " + std::to_string(sf.session) +
                            ", not a new odd id");
    }
    highest_id_ = sf.session;
    handler_.on_mux_connect(sf.session, sf.body);
    return;
  }
  // A session that ended here may still get the peer's frames already on
  // the way (WINDOW, a late RST): they are dropped. An id never used is not.
  if (sf.session == 0 || sf.session > highest_id_) {
    protocol_error(std::string(frame::type_name(type)) + " for unknown session " +
                   std::to_string(sf.session));
  }
}

void MuxTunnel::protocol_error(const std::string& why) {
  // Closing ends every stream through on_tunnel_closed below.
  tunnel_.close();
  on_tunnel_closed("protocol error: " + why);
}

void MuxTunnel::on_tunnel_closed(const std::string& why) {
  std::weak_ptr<bool> alive = alive_;
  std::vector<uint32_t> ids;
  ids.reserve(streams_.size());
  for (const auto& [id, stream] : streams_) ids.push_back(id);
  for (uint32_t id : ids) {
    auto it = streams_.find(id);  // an earlier callback may have freed it
    if (it == streams_.end()) continue;
    MuxStream* stream = it->second;
    streams_.erase(it);
    stream->on_tunnel_closed(why);
    if (alive.expired()) return;
  }
  handler_.on_mux_closed(why);
}

void MuxTunnel::on_tunnel_drained() {
  std::weak_ptr<bool> alive = alive_;
  std::vector<MuxStream*> streams;
  streams.reserve(streams_.size());
  for (const auto& [id, stream] : streams_) streams.push_back(stream);
  for (MuxStream* stream : streams) {
    if (alive.expired()) return;
    // Skip a stream an earlier callback removed.
    auto it = streams_.find(stream->id());
    if (it != streams_.end() && it->second == stream) stream->on_tunnel_drained();
  }
}

}  // namespace mx
