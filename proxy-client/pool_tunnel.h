// One authenticated tunnel the client's pool holds: a TunnelEndpoint, the
// server it goes to, and how many sessions it carries (at most
// `sessions_per_tunnel`; 1 means one session at a time). GOAWAY, or running
// out of session ids, retires it: no new session, closed after the last one.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "mxegress/relay/tunnel_endpoint.h"
#include "mxegress/relay/tunnel_stream.h"

namespace mx {

class PoolTunnel;

class PoolTunnelEvents {
 public:
  // The tunnel is over (lost, or closed by us); its sessions were told.
  virtual void on_pool_tunnel_closed(PoolTunnel& tunnel) = 0;
  // One of its sessions ended, so it has room again (perhaps none left on it).
  virtual void on_pool_tunnel_room(PoolTunnel& tunnel) = 0;

 protected:
  ~PoolTunnelEvents() = default;
};

class PoolTunnel final : private TunnelEndpointOwner {
 public:
  using Clock = std::chrono::steady_clock;
  PoolTunnel(Loop& loop, size_t server, std::string server_name, uint32_t sessions_per_tunnel,
             std::unique_ptr<Tunnel> tunnel, uint32_t send_window, Liveness::Settings liveness,
             PoolTunnelEvents& events);
  ~PoolTunnel() override;

  size_t server() const { return server_; }
  size_t sessions() const { return endpoint_.session_count(); }
  bool has_room() const {
    return !retiring_ && !endpoint_.closed() && sessions() < sessions_per_tunnel_;
  }
  bool closed() const { return endpoint_.closed(); }
  Clock::time_point empty_since() const { return empty_since_; }
  // A stream for a new session, or null when it can take none (then it retires).
  std::unique_ptr<TunnelStream> open_stream();
  // No new sessions; closed now if empty, else after the last one.
  void retire(const std::string& why);
  void close(const std::string& why);

 private:
  void on_session_request(uint32_t id, ByteView body) override;
  void on_goaway() override;
  void on_endpoint_closed(const std::string& why, size_t sessions) override;
  void on_stream_gone() override;

  size_t server_;
  std::string server_name_;
  uint32_t sessions_per_tunnel_;
  PoolTunnelEvents& events_;
  TunnelEndpoint endpoint_;
  Clock::time_point empty_since_ = Clock::now();
  bool retiring_ = false;
  bool closing_ = false;  // we closed it (not a loss)
};

}  // namespace mx
