// The sessions of one server tunnel: a CONNECT for a new id becomes an
// EgressSession on its own TunnelStream, or a refusal; each session's reply
// goes back on its stream; a session that ends (failed reply, relay over,
// cancelled by the client, tunnel lost) is removed. It does not know how
// many sessions the client puts on a tunnel.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "egress_session.h"
#include "mxegress/relay/tunnel_endpoint.h"
#include "mxegress/relay/tunnel_stream.h"
#include "server_snapshot.h"

namespace mx {

// What the tunnel decides for its sessions.
class SessionGate {
 public:
  // The tenant a new session runs for, under the snapshot in force now (set
  // in `snapshot`); null and `refusal` set when the tunnel may not open one.
  virtual const ServerConfig::Tenant* admit(std::shared_ptr<const ServerSnapshot>& snapshot,
                                            std::string& refusal) = 0;
  // A session was refused by admit(): the tunnel's key or tenant is no
  // longer allowed, so the tunnel retires.
  virtual void on_refused(const std::string& why) = 0;
  // GOAWAY went out: a CONNECT that crossed it is answered with RST.
  virtual bool retiring() const = 0;
  virtual void on_sessions_over() = 0;  // the last session ended

 protected:
  ~SessionGate() = default;
};

class SessionDispatch {
 public:
  SessionDispatch(EgressContext context, EgressOrigin origin, SessionGate& gate);
  ~SessionDispatch();
  SessionDispatch(const SessionDispatch&) = delete;
  SessionDispatch& operator=(const SessionDispatch&) = delete;

  // A CONNECT for the new session `id` on `endpoint`.
  void on_connect(TunnelEndpoint& endpoint, uint32_t id, ByteView body);
  // Ends every session (the tunnel closed, or its tenant was cut): relays
  // with resets, dials cancelled; each leaves its trail line.
  void cut_all(const std::string& why);
  size_t size() const { return sessions_.size(); }

 private:
  class Entry;
  void refuse(TunnelEndpoint& endpoint, uint32_t id, socks5::Reply reply,
              const std::string& why);
  void on_reply(uint32_t id, socks5::Reply reply, const Target& bound);
  void end(uint32_t id);

  EgressContext ctx_;
  EgressOrigin origin_;
  SessionGate& gate_;
  std::map<uint32_t, std::unique_ptr<Entry>> sessions_;
};

}  // namespace mx
