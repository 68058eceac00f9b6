// Opens the outbound TCP connection for one CONNECT: checks the port,
// resolves a name (within the caps on lookups in flight, on the loop's
// resolver), and for each resolved address in turn: the
// deny-list, a source address of the tenant of the same family, the
// tenant's per-destination limit; then connects from that source, all
// within one connect timeout. The outcome is a SOCKS5 reply code that says
// what really happened.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "destination_policy.h"
#include "fleet/fleet_client.h"
#include "lookup_gate.h"
#include "mxegress/codec/socks5.h"
#include "mxegress/config/server_config.h"
#include "mxegress/loop/loop.h"
#include "mxegress/loop/resolver.h"
#include "mxegress/loop/tcp_connection.h"
#include "mxegress/loop/timer.h"
#include "mxegress/net/target.h"
#include "tenant_usage.h"

namespace mx {

struct DialResult {
  socks5::Reply reply = socks5::Reply::GeneralFailure;
  std::unique_ptr<TcpConnection> connection;  // set on success
  std::optional<SocketAddress> connected;     // the address dialed last (or connected)
  std::optional<SocketAddress> source;        // our side of that attempt (failed ones too)
  std::string detail;                         // why, for the log and the trail
};

// Which source addresses a session would rather not leave from toward a
// destination, for reasons of its own (SMTP health: the address is suspect
// at the destination's provider). Avoided addresses are used only when no
// other of the family is left.
class SourcePreference {
 public:
  virtual bool avoid(const SocketAddress& source, const SocketAddress& destination) = 0;
  // The attempt leaves from `source` (its SYN is sent).
  virtual void leaving_from(const SocketAddress& source, const SocketAddress& destination) = 0;

 protected:
  ~SourcePreference() = default;
};

// What the dialer needs to know about the tenant it dials for.
struct DialRules {
  const DestinationPolicy& policy;
  const ServerConfig::Tenant& tenant;
  UsageLease& lease;     // takes the destination and source slots of the connection made
  TcpLiveness liveness;  // set on each attempt's socket ([server] tcp_keepalive, ...)
  // The limits this server checks itself; unset: the tenant's (with a
  // fleet: what FleetState::local_limits leaves here).
  std::optional<ServerConfig::Limits> local_limits{};
  // With [fleet]: the fleet's admission before the first connect (null: none).
  FleetClient* fleet = nullptr;
  std::string fleet_session{};  // the session's id in the fleet's leases
  SourcePreference* preference = nullptr;  // null: every usable source is as good
};

// How the dialer resolves a name: the loop's resolver, after the gate (the
// server's caps on lookups in flight) has admitted the lookup.
struct DialNames {
  NameResolver& resolver;
  LookupGate* gate = nullptr;  // null: no caps
};

class Dialer {
 public:
  using Callback = std::function<void(DialResult)>;

  Dialer(Loop& loop, DialNames names, DialRules rules, std::chrono::milliseconds timeout,
         std::string log_tenant);  // the tenant's name, for log lines
  ~Dialer();
  Dialer(const Dialer&) = delete;
  Dialer& operator=(const Dialer&) = delete;

  // The port, the name, each address (deny-list, source, the local
  // per-destination limit, the fleet's admission), then connect.
  void dial(const Target& target, Callback done);
  bool dialing() const { return static_cast<bool>(done_); }
  // Stops a dial still under way without calling back; returns where it
  // had got to (reply and connection unset), for the trail.
  DialResult cancel();

 private:
  struct Refusal {
    socks5::Reply reply;
    std::string detail;
  };

  void on_resolved(ResolveResult resolved);
  void try_next();
  // With a fleet: asks it about `address` once per dial, then connects.
  void admit_in_fleet(const SocketAddress& address, const SocketAddress& source);
  void on_fleet_admission(const SocketAddress& address, const SocketAddress& source,
                          FleetAdmission admission);
  void connect_to(const SocketAddress& address, const SocketAddress& source);
  void on_connected(int status);
  void release_attempt();
  void note_refusal(socks5::Reply reply, std::string detail);
  void complete(socks5::Reply reply, std::string detail);

  Loop& loop_;
  DialNames names_;
  DialRules rules_;
  std::chrono::milliseconds timeout_;
  std::string log_tenant_;
  Target target_;
  Callback done_;
  std::unique_ptr<Resolution> resolution_;
  std::unique_ptr<TcpConnection> attempt_;
  std::vector<SocketAddress> candidates_;
  size_t next_candidate_ = 0;
  std::optional<SocketAddress> last_address_;
  std::optional<SocketAddress> attempt_source_;  // the tenant's address picked (port 0)
  std::optional<SocketAddress> last_source_;     // our address:port of the last attempt
  std::optional<Refusal> refusal_;  // the most telling reason so far, if nothing connects
  Timer deadline_;
  std::optional<uint64_t> fleet_ticket_;  // the fleet's answer awaited
  bool awaiting_fleet_ = false;           // holds the address's local slots meanwhile
  bool fleet_admitted_ = false;           // asked once per dial
};

socks5::Reply reply_for_connect_error(int uv_status);

}  // namespace mx
