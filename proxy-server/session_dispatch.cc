#include "session_dispatch.h"

#include <vector>

#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "tunnel";
}

// One session: its stream and the egress behind it. Before the reply it
// hears what only the stream can tell: the client cancelled, or the tunnel
// was lost while the egress was still dialing.
class SessionDispatch::Entry final : public TunnelStreamControl {
 public:
  Entry(SessionDispatch& owner, std::unique_ptr<TunnelStream> s)
      : owner_(owner), stream(std::move(s)) {
    stream->set_control(this);
  }

  void on_session_frame(frame::Type type, ByteView) override {
    const uint32_t id = stream->id();
    if (type != frame::Type::Rst) {
      // The endpoint lets only CONNECT_REPLY and RST through to a control;
      // a client never sends CONNECT_REPLY.
      MX_LOG(Warn, kLog) << "session " << id << ": unexpected " << frame::type_name(type)
                         << " before its reply" << log_kv("peer", owner_.origin_.peer);
    } else {
      MX_LOG(Info, kLog) << "session " << id << " cancelled by the client before the reply"
                         << log_kv("peer", owner_.origin_.peer);
    }
    session->cut("cancelled by the client before the reply");
    owner_.end(id);
  }
  void on_session_lost(const std::string& why) override {
    session->cut("tunnel " + why);
    owner_.end(stream->id());
  }

  SessionDispatch& owner_;
  std::unique_ptr<TunnelStream> stream;  // declared first: the session's pump uses it
  std::unique_ptr<EgressSession> session;
};

SessionDispatch::SessionDispatch(EgressContext context, EgressOrigin origin, SessionGate& gate)
    : ctx_(context), origin_(std::move(origin)), gate_(gate) {}

SessionDispatch::~SessionDispatch() = default;

void SessionDispatch::on_connect(TunnelEndpoint& endpoint, uint32_t id, ByteView body) {
  if (gate_.retiring()) {
    // Sent before our GOAWAY reached the client. An RST before any reply
    // tells it that nothing was dialed, so it may try another tunnel.
    Bytes rst;
    frame::encode_session_frame(rst, frame::Type::Rst, id, {});
    endpoint.send(rst);
    return;
  }
  bool bad_address_type = false;
  auto target = frame::parse_connect(body, bad_address_type);
  if (!target) {
    if (!bad_address_type) return endpoint.close("protocol error: malformed CONNECT");
    return refuse(endpoint, id, socks5::Reply::AddressTypeNotSupported,
                  "address type not supported");
  }
  std::shared_ptr<const ServerSnapshot> snapshot;
  std::string refusal;
  const ServerConfig::Tenant* tenant = gate_.admit(snapshot, refusal);
  if (tenant == nullptr) {
    refuse(endpoint, id, socks5::Reply::NotAllowed,
           refusal + " (target " + target->to_string() + ")");
    gate_.on_refused(refusal);
    return;
  }
  auto entry = std::make_unique<Entry>(*this, endpoint.accept_stream(id));
  Entry& e = *entry;
  sessions_[id] = std::move(entry);
  e.session = std::make_unique<EgressSession>(
      ctx_, snapshot, *tenant, origin_, *target, *e.stream,
      [this, id](socks5::Reply reply, const Target& bound) {
        on_reply(id, reply, bound);
        return Bytes{};  // the client sends its bytes after the reply
      },
      [this, id](const RelayOutcome&) { end(id); });
  e.session->start();
}

void SessionDispatch::refuse(TunnelEndpoint& endpoint, uint32_t id, socks5::Reply reply,
                             const std::string& why) {
  // A tenant disabled or a key removed since the AUTH is policy (info); an
  // address type the protocol has no room for is the client's bug (warn).
  if (reply == socks5::Reply::NotAllowed) {
    MX_LOG(Info, kLog) << "refused" << log_kv("peer", origin_.peer) << log_kv("reason", why);
  } else {
    MX_LOG(Warn, kLog) << "refused" << log_kv("peer", origin_.peer) << log_kv("reason", why);
  }
  Bytes out;
  frame::encode_connect_reply(out, id, {static_cast<uint8_t>(reply), Target{}});
  endpoint.send(out);
  if (sessions_.empty()) gate_.on_sessions_over();
}

void SessionDispatch::on_reply(uint32_t id, socks5::Reply reply, const Target& bound) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  TunnelStream& stream = *it->second->stream;
  stream.send_reply({static_cast<uint8_t>(reply), bound});
  if (reply == socks5::Reply::Succeeded) return;
  // A failed CONNECT ends the session on both sides without an RST.
  stream.forget();
  end(id);
}

void SessionDispatch::end(uint32_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  it->second->stream->set_control(nullptr);
  ctx_.loop.destroy_later(std::move(it->second));  // we may be inside its callback
  sessions_.erase(it);
  if (sessions_.empty()) gate_.on_sessions_over();
}

void SessionDispatch::cut_all(const std::string& why) {
  std::vector<uint32_t> ids;
  ids.reserve(sessions_.size());
  for (const auto& [id, entry] : sessions_) ids.push_back(id);
  for (uint32_t id : ids) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;
    it->second->session->cut(why);
    // One still dialing has no relay to end it: it ends here, reset.
    end(id);
  }
}

}  // namespace mx
