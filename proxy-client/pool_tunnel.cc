#include "pool_tunnel.h"

#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "pool";
}

PoolTunnel::PoolTunnel(Loop& loop, size_t server, std::string server_name,
                       uint32_t sessions_per_tunnel, std::unique_ptr<Tunnel> tunnel,
                       uint32_t send_window, Liveness::Settings liveness, PoolTunnelEvents& events)
    : server_(server),
      server_name_(std::move(server_name)),
      sessions_per_tunnel_(sessions_per_tunnel),
      events_(events),
      endpoint_(loop, std::move(tunnel), TunnelEndpoint::Side::Client, kDefaultSessionWindow,
                send_window, liveness, *this) {}

PoolTunnel::~PoolTunnel() = default;

std::unique_ptr<TunnelStream> PoolTunnel::open_stream() {
  if (!has_room()) return nullptr;
  auto stream = endpoint_.open_stream();
  if (!stream) retire("its session ids are used up");
  return stream;
}

void PoolTunnel::retire(const std::string& why) {
  if (retiring_ || endpoint_.closed()) return;
  retiring_ = true;
  MX_LOG(Debug, kLog) << "tunnel to " << server_name_ << " retired (" << why << ") with "
                      << sessions() << " sessions";
  if (sessions() == 0) close("retired: " + why);
}

void PoolTunnel::close(const std::string& why) {
  if (endpoint_.closed()) return;
  closing_ = true;
  endpoint_.close(why);
}

void PoolTunnel::on_session_request(uint32_t, ByteView) {
  // The endpoint reports CONNECTs only on the server's side.
}

void PoolTunnel::on_goaway() {
  MX_LOG(Info, kLog) << "server " << server_name_ << " retires a tunnel with " << sessions()
                     << " sessions";
  retire("GOAWAY from the server");
}

void PoolTunnel::on_endpoint_closed(const std::string& why, size_t sessions) {
  if (closing_) {
    MX_LOG(Debug, kLog) << "tunnel to " << server_name_ << " closed: " << why;
  } else {
    MX_LOG(Warn, kLog) << "tunnel to " << server_name_ << " lost (" << sessions
                       << " sessions): " << why << log_json_kv("server", server_name_)
                       << log_json_kv("sessions", sessions) << log_json_kv("reason", why);
  }
  events_.on_pool_tunnel_closed(*this);
}

void PoolTunnel::on_stream_gone() {
  if (sessions() == 0) empty_since_ = Clock::now();
  if (retiring_) {
    if (sessions() == 0) close("retired and its last session ended");
    return;
  }
  // A slot freed on a full tunnel serves a waiting session at once, as the
  // last slot of an empty one does.
  events_.on_pool_tunnel_room(*this);
}

}  // namespace mx
