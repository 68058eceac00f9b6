// The pool's side of a client reload (SIGHUP): servers the new file keeps
// keep their tunnels, new ones are added, the others are retired. The plan
// (which server is which) is ReloadPlan's; this only carries it out.
#include <utility>

#include "mxegress/util/log.h"
#include "tunnel_pool.h"

namespace mx {
namespace {
constexpr const char* kLog = "pool";
using Clock = std::chrono::steady_clock;
}  // namespace

void TunnelPool::apply(const ReloadPlan& plan, std::vector<SslCtxPtr> contexts,
                       const ClientIdentity& identity) {
  MX_ASSERT_IN_LOOP(loop_);
  if (std::string why = resolver_.configure(config_.resolver); !why.empty()) {
    MX_LOG(Error, kLog) << "resolver: " << why << "; server names resolve as before";
  }
  // The openers in flight sign with the key of the identity they were given
  // (this one, assigned in place); a new key retires every server anyway.
  identity_.public_key = identity.public_key;
  identity_.secret_key = identity.secret_key;
  const std::vector<size_t> running = std::exchange(active_, {});
  for (size_t i = 0; i < plan.servers.size(); ++i) {
    const ClientConfig::Server& next = config_.servers[i];
    if (!plan.servers[i]) {
      MX_LOG(Info, kLog) << "server " << add_server(next, std::move(contexts[i])).name
                         << " added by the reload";
      continue;
    }
    Server& kept = servers_[running[*plan.servers[i]]];
    kept.config = next;  // pool sizes, priority and weight; its tunnels stay
    kept.status.priority = next.priority;
    kept.status.weight = next.weight;
    active_.push_back(running[*plan.servers[i]]);
  }
  for (size_t old : plan.retired_servers) {
    retire_server(running[old], "removed or changed by a reload");
  }
  if (!stopped_) replenish();
}

// No new session or tunnel for this server; its tunnels close after their
// last session; the sessions waiting for it go to the others.
void TunnelPool::retire_server(size_t server, const std::string& why) {
  Server& s = servers_[server];
  s.retired = true;
  s.status.up = false;
  s.status.retry_at = Clock::time_point::max();
  std::vector<PoolTunnel*> retiring;
  for (auto& tunnel : tunnels_) {
    if (tunnel->server() == server) retiring.push_back(tunnel.get());
  }
  size_t sessions = 0;
  for (PoolTunnel* tunnel : retiring) sessions += tunnel->sessions();
  MX_LOG(Info, kLog) << "server " << s.name << " " << why << ": its " << retiring.size()
                     << " tunnels take no new session (" << sessions << " sessions go on)";
  for (PoolTunnel* tunnel : retiring) tunnel->retire("server " + s.name + " " + why);
  // Its TLS context goes once no opening uses it (a connection holds its own).
  if (s.opening == 0) s.tls.reset();
  redispatch_waiting(server, false);
}

// The sessions waiting on `server` try the others (`tried`: and not it again).
void TunnelPool::redispatch_waiting(size_t server, bool tried) {
  auto waiting = std::move(servers_[server].waiting);
  servers_[server].waiting.clear();
  for (Waiting& w : waiting) {
    if (tried) w.tried.push_back(server);
    dispatch(std::move(w));
  }
}

}  // namespace mx
