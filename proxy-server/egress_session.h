// One connection the server makes for a tenant, whoever asked for it (a
// tunnel's CONNECT or the server's own SOCKS5 listener): the tenant's
// limits, the dial, the reply, the relay, the bytes counted, and the trail
// line at the end. The asking side supplies the downstream stream and how
// to send the reply.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "dialer.h"
#include "mxegress/relay/pump.h"
#include "server_snapshot.h"
#include "smtp/smtp_session_watch.h"
#include "tenant_usage.h"
#include "trail.h"

namespace mx {

struct EgressContext {
  Loop& loop;
  UsageRegistry& usage;
  TrailWriter& trail;
  NameResolver& resolver;         // the loop's
  LookupGate* lookups = nullptr;  // the server's caps on lookups in flight (null: none)
  FleetClient* fleet = nullptr;   // the loop's, with [fleet] (null: limits counted here alone)
  SmtpObservations* smtp = nullptr;  // the server's (null: no SMTP observation)
  ProviderLearner* provider_learner = nullptr;  // the loop's (null: none)
};

struct EgressOrigin {
  std::string via;         // "tunnel" or "socks5"
  std::string peer;        // ip:port the request came from
  std::string credential;  // the tunnel's public key, or the SOCKS5 user
};

class EgressSession {
 public:
  // Called once. Any code but Succeeded ends the session (no relay follows).
  // On success it returns what the client sent while it waited, to be
  // written to the destination first.
  using ReplyCallback = std::function<Bytes(socks5::Reply reply, const Target& bound)>;
  // Called once after a successful reply, when the relay has ended.
  using DoneCallback = std::function<void(const RelayOutcome& outcome)>;

  EgressSession(EgressContext context, std::shared_ptr<const ServerSnapshot> snapshot,
                const ServerConfig::Tenant& tenant, EgressOrigin origin, Target target,
                Stream& downstream, ReplyCallback on_reply, DoneCallback on_done);
  // A session destroyed while it runs is ended as by cut("server stopped"),
  // trail line included, without calling back.
  ~EgressSession();
  EgressSession(const EgressSession&) = delete;
  EgressSession& operator=(const EgressSession&) = delete;

  void start();
  // Ends the session for `why` (the tenant was disabled, the client gave up,
  // the tunnel closed): a running relay with resets; a dial still under way
  // is stopped and leaves its trail line, with no reply (none was sent).
  void cut(const std::string& why);
  const std::string& tenant_name() const { return tenant_.name; }

 private:
  void refuse(socks5::Reply reply, const std::string& why, bool trail_line = true);
  void on_dialed(DialResult result);
  void on_relay_done(const RelayOutcome& outcome);
  void cancel_dial(const std::string& why);
  void write_trail(std::optional<int> reply, uint64_t up, uint64_t down, const std::string& end);
  // The session's end, for /metrics (once): its result, and the limit that
  // refused it when `why` names one.
  void count_end(SessionResult result, std::string_view why = {});

  EgressContext ctx_;
  std::shared_ptr<const ServerSnapshot> snapshot_;  // keeps tenant_ alive
  const ServerConfig::Tenant& tenant_;
  EgressOrigin origin_;
  Target target_;
  Stream& downstream_;
  ReplyCallback on_reply_;
  DoneCallback on_done_;
  WallTime started_wall_;
  SteadyTime started_;
  std::unique_ptr<UsageLease> lease_;
  std::unique_ptr<Dialer> dialer_;
  DialResult dial_;
  std::unique_ptr<TcpConnection> upstream_;
  std::unique_ptr<SmtpSessionWatch> smtp_;  // on [smtp] ports, while observing
  std::unique_ptr<Pump> pump_;
  uint64_t early_bytes_ = 0;          // sent with the request, written before the pump started
  TenantMetrics* metrics_ = nullptr;  // the tenant's, in the registry (never removed)
  SteadyTime dial_started_{};
};

}  // namespace mx
