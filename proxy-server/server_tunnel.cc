#include "server_tunnel.h"

#include "mxegress/codec/auth.h"
#include "mxegress/util/log.h"
#include "mxegress/util/log_rate_limit.h"

namespace mx {
namespace {
constexpr const char* kLog = "tunnel";

bool allowed_from(const std::vector<Cidr>& cidrs, const std::optional<SocketAddress>& peer) {
  if (cidrs.empty()) return true;
  if (!peer) return false;
  for (const Cidr& cidr : cidrs) {
    if (cidr.contains(*peer)) return true;
  }
  return false;
}

}  // namespace

ServerTunnel::ServerTunnel(EgressContext context, SnapshotSource snapshots, SSL_CTX* tls,
                           std::unique_ptr<TcpConnection> connection,
                           ConcurrencyLimit::Slot startup, AuthRefusals& refusals,
                           FinishedCallback finished)
    : ctx_(context),
      snapshots_(std::move(snapshots)),
      startup_(std::move(startup)),
      refusals_(refusals),
      finished_(std::move(finished)),
      timer_(context.loop) {
  peer_address_ = connection->peer_address();
  peer_ = peer_address_ ? peer_address_->to_string() : "?";
  tunnel_ =
      std::make_unique<Tunnel>(ctx_.loop, std::move(connection), tls, TlsEngine::Role::Server);
  tunnel_->set_handler(this);
}

ServerTunnel::~ServerTunnel() {
  dispatch_.reset();  // its streams go before the endpoint
  endpoint_.reset();
  if (tunnel_) tunnel_->set_handler(nullptr);
}

void ServerTunnel::start() {
  MX_ASSERT_IN_LOOP(ctx_.loop);
  MX_LOG(Debug, kLog) << "accepted" << log_kv("peer", peer_);
  tunnel_->start();
  timer_.start(snapshots_()->config().server.handshake_timeout, [this] {
    const char* why = "no TLS handshake and AUTH within the handshake timeout";
    // A connection that never sent a byte (a port scan, a health probe
    // holding it open) is no failed login.
    if (tunnel_ && !tunnel_->heard_from_peer()) {
      MX_LOG(Debug, kLog) << "closed silent connection" << log_kv("peer", peer_)
                          << log_kv("reason", why);
    } else {
      MX_LOG(Warn, kLog) << "auth failed" << log_kv("peer", peer_) << log_kv("reason", why);
    }
    close("handshake timeout");
  });
}

void ServerTunnel::on_tunnel_ready() {
  MX_LOG(Debug, kLog) << "TLS established" << log_kv("peer", peer_) << " "
                      << tunnel_->tls().protocol_version();
}

void ServerTunnel::on_tunnel_frame(const frame::Frame& f) {
  // Before AUTH succeeded only AUTH may come; afterwards the endpoint gets
  // the frames.
  if (!endpoint_) authenticate(f);
}

void ServerTunnel::authenticate(const frame::Frame& f) {
  std::array<uint8_t, 32> exporter{};
  if (!tunnel_->tls().export_keying_material(exporter, kAuthExporterLabel)) {
    return refuse_auth(frame::AuthStatus::Malformed, "TLS exporter failed");
  }
  std::shared_ptr<const ServerSnapshot> snapshot = snapshots_();
  const auth::Verdict verdict = auth::check_request(
      f, exporter, [&](const PublicKey& key) { return snapshot->tenant_for_key(key) != nullptr; });
  if (verdict.status != frame::AuthStatus::Ok) return refuse_auth(verdict.status, verdict.detail);
  key_ = verdict.key;
  key_text_ = encode_key(key_);
  const ServerConfig::Tenant* tenant = nullptr;
  if (auto refused = key_refusal(*snapshot, &tenant)) {
    return refuse_auth(frame::AuthStatus::NotAllowed, *refused);
  }
  tenant_ = tenant->name;
  startup_.release();
  MX_LOG(Info, kLog) << "auth ok" << log_kv("tenant", tenant_) << log_kv("peer", peer_)
                     << log_kv("cipher", tunnel_->tls().cipher_name())
                     << log_kv("records", tunnel_->tls().record_protection());
  tunnel_->send(auth::answer(frame::AuthStatus::Ok, kDefaultSessionWindow));
  const ServerConfig::Server& server = snapshot->config().server;
  tunnel_->set_handler(nullptr);
  dispatch_ = std::make_unique<SessionDispatch>(ctx_, EgressOrigin{"tunnel", peer_, key_text_},
                                                static_cast<SessionGate&>(*this));
  // From here on the endpoint gets the tunnel's frames (the rest of this
  // read's too) and hands us the CONNECTs.
  endpoint_ = std::make_unique<TunnelEndpoint>(
      ctx_.loop, std::move(tunnel_), TunnelEndpoint::Side::Server, kDefaultSessionWindow,
      verdict.window, Liveness::Settings{server.keepalive_interval, server.keepalive_timeout},
      static_cast<TunnelEndpointOwner&>(*this));
  start_idle_timer();
}

void ServerTunnel::refuse_auth(frame::AuthStatus status, const std::string& detail) {
  const std::string address = peer_address_ ? peer_address_->ip_string() : "?";
  if (auto left_out = refusals_.refuse(address, status, detail)) {
    MX_LOG(Warn, kLog) << "auth failed" << log_kv("peer", peer_) << log_kv("reason", detail)
                       << left_out_note(*left_out);
  }
  tunnel_->send(auth::answer(status, 0));
  close("auth failed");
}

std::optional<std::string> ServerTunnel::key_refusal(const ServerSnapshot& snapshot,
                                                     const ServerConfig::Tenant** tenant) const {
  *tenant = snapshot.tenant_for_key(key_);
  if (*tenant == nullptr) return "unknown key " + key_text_;
  if (!(*tenant)->enabled) return "tenant " + (*tenant)->name + " is disabled";
  if (!allowed_from((*tenant)->tunnel_from, peer_address_)) {
    return "tenant " + (*tenant)->name + " may not open tunnels from " +
           (peer_address_ ? peer_address_->ip_string() : "?");
  }
  return std::nullopt;
}

void ServerTunnel::on_session_request(uint32_t id, ByteView body) {
  timer_.stop();
  dispatch_->on_connect(*endpoint_, id, body);
}

// The rules in force now, not those of the AUTH: a reload may have changed
// the tenant since.
const ServerConfig::Tenant* ServerTunnel::admit(std::shared_ptr<const ServerSnapshot>& snapshot,
                                                std::string& refusal) {
  snapshot = snapshots_();
  const ServerConfig::Tenant* tenant = nullptr;
  if (auto refused = key_refusal(*snapshot, &tenant)) {
    refusal = *refused;
    return nullptr;
  }
  tenant_ = tenant->name;
  return tenant;
}

void ServerTunnel::on_sessions_over() {
  if (!endpoint_ || endpoint_->closed()) return;
  if (goaway_sent_) return close("retired after its sessions (reload or drain)");
  start_idle_timer();
}

void ServerTunnel::start_idle_timer() {
  // A tunnel without sessions is kept for the client's pool as long as a
  // relayed connection may stay idle.
  timer_.start(snapshots_()->config().server.idle_timeout,
               [this] { close("idle tunnel timeout"); });
}

void ServerTunnel::on_reload() {
  if (!endpoint_ || endpoint_->closed()) return;
  const std::shared_ptr<const ServerSnapshot> snapshot = snapshots_();
  const ServerConfig::Tenant* tenant = nullptr;
  auto refused = key_refusal(*snapshot, &tenant);
  if (!refused) return;
  if (dispatch_->size() == 0) {
    MX_LOG(Info, kLog) << "closing idle tunnel" << log_kv("peer", peer_)
                       << log_kv("reason", *refused);
    close(*refused);
    return;
  }
  // A disabled or removed tenant's sessions are cut; a removed key's may
  // finish. No new ones either way.
  const ServerConfig::Tenant* session_tenant = snapshot->tenant(tenant_);
  if (session_tenant == nullptr || !session_tenant->enabled) {
    MX_LOG(Info, kLog) << "cutting " << dispatch_->size() << " sessions" << log_kv("peer", peer_)
                       << log_kv("reason", *refused);
    dispatch_->cut_all(*refused);
  }
  retire(*refused);
}

void ServerTunnel::on_drain() {
  if (!endpoint_) return close("server stopping");
  retire("server stopping");
}

void ServerTunnel::retire(const std::string& why) {
  if (goaway_sent_ || !endpoint_ || endpoint_->closed()) return;
  goaway_sent_ = true;
  MX_LOG(Info, kLog) << "retiring tunnel" << log_kv("peer", peer_)
                     << log_kv("sessions", dispatch_->size()) << log_kv("reason", why);
  Bytes goaway;
  frame::encode_frame(goaway, frame::Type::GoAway, {});
  endpoint_->send(goaway);
  if (dispatch_->size() == 0) close(why);
}

// Both phases end here, through the tunnel's or the endpoint's report.
void ServerTunnel::close(const std::string& why) {
  closing_ = true;
  if (endpoint_) {
    endpoint_->close(why);
  } else {
    tunnel_->close(why);
  }
}

void ServerTunnel::finish(const std::string& why, size_t sessions) {
  if (finished_called_) return;
  finished_called_ = true;
  timer_.stop();
  if (!endpoint_) {
    if (!closing_) {
      // A connection that left without sending a byte is a TCP health
      // probe or a port scan, not a failed tunnel.
      if (tunnel_ && !tunnel_->heard_from_peer()) {
        MX_LOG(Debug, kLog) << "tunnel failed" << log_kv("peer", peer_) << log_kv("reason", why);
      } else {
        MX_LOG(Warn, kLog) << "tunnel failed" << log_kv("peer", peer_) << log_kv("reason", why);
      }
    }
  } else if (closing_) {
    MX_LOG(Debug, kLog) << "closed" << log_kv("peer", peer_) << log_kv("tenant", tenant_)
                        << log_kv("reason", why);
  } else {
    MX_LOG(Warn, kLog) << "tunnel lost" << log_kv("peer", peer_) << log_kv("tenant", tenant_)
                       << log_kv("sessions", sessions) << log_kv("reason", why);
  }
  // The endpoint has told every session's stream already, so this finds
  // none left; it is the guarantee, not the mechanism.
  if (dispatch_) dispatch_->cut_all("tunnel lost: " + why);
  finished_(this);
}

}  // namespace mx
