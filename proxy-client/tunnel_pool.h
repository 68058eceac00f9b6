// The client's authenticated tunnels to its egress servers, and the sessions
// waiting for one. Its parts, each a reader can hold in their head:
//   server_choice.h  which server a session goes to (pure)
//   pool_policy.h    how many tunnels to open and keep (pure)
//   tunnel_opener.h  resolve → TCP → TLS → AUTH for one tunnel
//   pool_tunnel.h    one open tunnel and its sessions
// This class ties them together: it keeps `pool` ready tunnels per server
// warm, hands sessions streams on the least loaded tunnel, queues them
// while tunnels are being opened, marks a server down when a tunnel to it
// cannot be opened (and probes it every `retry_interval`), and with every
// server down fails sessions at once instead of letting them hang.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "mxegress/config/client_config.h"
#include "mxegress/crypto/client_identity.h"
#include "mxegress/crypto/tls_context.h"
#include "mxegress/loop/resolver.h"
#include "mxegress/loop/timer.h"
#include "mxegress/metrics/duration_histogram.h"
#include "pool_policy.h"
#include "pool_tunnel.h"
#include "reload_plan.h"
#include "server_choice.h"
#include "tunnel_opener.h"

namespace mx {

// A session waiting for a tunnel. Exactly one of the two is called, once,
// unless the waiter cancels first.
class PoolWaiter {
 public:
  // `reused`: the tunnel was open before this session asked (it may have
  // died unnoticed since: a session may retry once on a fresh one).
  virtual void on_tunnel_stream(std::unique_ptr<TunnelStream> stream, bool reused,
                                const std::string& server) = 0;
  virtual void on_no_tunnel(const std::string& why) = 0;

 protected:
  ~PoolWaiter() = default;
};

// One server as /metrics and /readyz see it (client_metrics.h).
struct PoolServerView {
  std::string name;  // host:port
  bool up = true;    // false from a failed opening until one succeeds
  size_t opening = 0;
  size_t open = 0;   // authenticated tunnels, retiring ones included
  size_t ready = 0;  // of which can take a session now
  uint64_t open_failures = 0;
  const DurationHistogram* open_seconds = nullptr;  // successful openings
};

// Sessions given a stream on a tunnel that was already open (hits) and
// those that had to wait for one to open (misses), retries included.
struct PoolCounts {
  uint64_t hits = 0;
  uint64_t misses = 0;
};

class TunnelPool final : private PoolTunnelEvents {
 public:
  // Fails (null, err set) when a server's TLS context cannot be built.
  static std::unique_ptr<TunnelPool> create(Loop& loop, const ClientConfig& config,
                                            ClientIdentity identity, std::string& err);
  // One TLS context per server of `config`, in its order; empty (err set)
  // when one cannot be built (a CA file that cannot be read).
  static std::vector<SslCtxPtr> make_contexts(const ClientConfig& config, std::string& err);

  // A reload: `config` (the one this pool reads, already holding the new
  // values) is now the configuration `plan` was made for; `contexts` are
  // make_contexts of it. Servers the plan retires take no new session, their
  // waiting sessions go to the others and their tunnels close after their
  // last session; new servers get their warm tunnels.
  void apply(const ReloadPlan& plan, std::vector<SslCtxPtr> contexts,
             const ClientIdentity& identity);
  ~TunnelPool();

  // Opens the warm tunnels. `first_answer` (optional) runs once, when the
  // first tunnel to any server is authenticated or fails.
  void start(std::function<void()> first_answer = {});
  // Gives `waiter` a stream now (called back before this returns) or once a
  // tunnel is open. `fresh`: only a tunnel opened from now on (the retry
  // after a tunnel that turned out dead).
  void acquire(PoolWaiter& waiter, bool fresh = false);
  void cancel(PoolWaiter& waiter);  // the waiter is going away
  // Opens no more tunnels, closes the empty ones; the others close after
  // their last session. Waiting sessions fail.
  void stop();

  size_t server_count() const { return active_.size(); }
  size_t servers_up() const;
  size_t tunnel_count() const { return tunnels_.size(); }
  std::vector<PoolServerView> server_views() const;
  const PoolCounts& counts() const { return counts_; }

 private:
  struct Waiting {
    PoolWaiter* waiter;
    std::vector<size_t> tried;  // servers whose tunnel could not be opened for it
    bool fresh = false;         // only a tunnel opened from now on
  };
  struct Server {
    ClientConfig::Server config;
    SslCtxPtr tls;
    std::string name;  // host:port for logs
    ServerStatus status;
    size_t opening = 0;
    std::list<Waiting> waiting;
    uint64_t open_failures = 0;
    std::unique_ptr<DurationHistogram> open_seconds = std::make_unique<DurationHistogram>();
    bool retired = false;  // a reload removed or changed it: no new session, no new tunnel
  };

  TunnelPool(Loop& loop, const ClientConfig& config, ClientIdentity identity);
  void dispatch(Waiting waiting);
  void open(size_t server);
  void on_opened(size_t server, OpenedTunnel opened, std::chrono::steady_clock::time_point began);
  void serve_waiting(size_t server, PoolTunnel& tunnel, bool opened_now);
  void on_open_failed(size_t server, const std::string& error);
  Server& add_server(const ClientConfig::Server& config, SslCtxPtr tls);
  void retire_server(size_t server, const std::string& why);
  void redispatch_waiting(size_t server, bool tried);
  void replenish();
  void maintenance_tick();
  void close_empty_beyond_pool(size_t server, bool only_over_max);
  PoolTunnel* least_loaded(size_t server);
  std::vector<ServerStatus> statuses();
  size_t ready_count(size_t server) const;
  WarmRule rule(size_t server) const;

  void on_pool_tunnel_closed(PoolTunnel& tunnel) override;
  void on_pool_tunnel_room(PoolTunnel& tunnel) override;

  Loop& loop_;
  const ClientConfig& config_;
  ClientIdentity identity_;
  Resolver resolver_;  // the server names' ([resolver]); outlives the openers
  // Indexes are stable (tunnels and openers refer to them): a server a
  // reload retires stays, marked, and a new one is appended.
  std::vector<Server> servers_;
  std::vector<size_t> active_;  // the configuration's servers, in its order
  std::list<std::unique_ptr<TunnelOpener>> openers_;
  std::list<std::unique_ptr<PoolTunnel>> tunnels_;  // oldest first
  Timer maintenance_;
  DeferredCall replenish_soon_;
  std::mt19937_64 random_{std::random_device{}()};
  std::function<void()> first_answer_;
  PoolCounts counts_;
  bool stopped_ = false;
};

}  // namespace mx
