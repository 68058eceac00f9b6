// Authenticated tunnels to the egress servers, opened ahead of demand.
//
// Per server: `pool` idle tunnels are kept warm (TLS done, AUTH done), so a
// new session costs one round trip (CONNECT → reply); bursts open more, up
// to `pool_max` kept idle; extra idle tunnels close after
// `pool_idle_timeout`. Idle tunnels are kept alive with PING at
// `keepalive_interval` (below cloud NAT idle timeouts) and replaced when a
// PONG does not come back within `keepalive_timeout`.
//
// A server that grants the multiplexed mode (docs/PROTOCOL.md) gets shared
// tunnels instead: each carries up to `sessions_per_tunnel` sessions at once,
// new sessions go to the least loaded, and `pool` counts the tunnels with
// room to spare. The tunnel, not the session, is kept alive then.
//
// Servers: the lowest `priority` with a server up is used, `weight` shares
// sessions among equals. A server whose tunnel could not be opened is down
// until a probe every `retry_interval` succeeds; with every server down,
// acquire() fails at once instead of hanging.
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
#include "mxegress/relay/mux_stream.h"
#include "mxegress/relay/tunnel.h"

namespace mx {

class TunnelPool {
 public:
  struct Acquired {
    std::unique_ptr<Tunnel> tunnel;     // a tunnel of its own (single mode), or
    std::unique_ptr<MuxStream> stream;  // a session on a shared tunnel; both null on failure
    bool reused = false;                // came from the pool (it may have died unnoticed)
    std::string server;                 // address of the server, for logs
    size_t server_index = 0;            // give it back with release*()
    std::string error;                  // why, on failure
  };
  using AcquireCallback = std::function<void(Acquired)>;

  // Fails (null, err set) when a server's TLS context cannot be built.
  static std::unique_ptr<TunnelPool> create(Loop& loop, const ClientConfig& config,
                                            ClientIdentity identity, std::string& err);
  ~TunnelPool();

  void start();  // opens the warm tunnels
  // Calls `done` later, never from inside acquire(). `fresh`: do not take an
  // idle tunnel, open a new one (the retry after a dead pooled tunnel).
  void acquire(AcquireCallback done, bool fresh = false);
  // A tunnel whose CONNECT failed: idle at once.
  void release(std::unique_ptr<Tunnel> tunnel, size_t server_index);
  // A tunnel whose session ended (FIN both ways): idle once the server's END
  // arrives, closed if anything else does.
  void release_after_end(std::unique_ptr<Tunnel> tunnel, size_t server_index);
  void stop();  // closes idle tunnels and opens no more

 private:
  class Opening;
  class Idle;
  class Shared;
  struct Server;

  TunnelPool(Loop& loop, const ClientConfig& config, ClientIdentity identity);
  Server* choose(bool need_idle, const std::vector<Server*>& exclude);
  void open_for_session(AcquireCallback done, std::vector<Server*> tried);
  void maintenance_tick();
  void open_warm(Server& server);
  void on_open_failed(Server& server, const std::string& error);
  void mark_up(Server& server);
  void replenish();
  void add_idle(Server& server, std::unique_ptr<Tunnel> tunnel, bool awaiting_end);
  void remove_idle(Idle* idle);
  void add_shared(Server& server, std::unique_ptr<Tunnel> tunnel, uint32_t send_window);
  bool give_stream(Shared& shared, AcquireCallback& done, bool reused);
  void serve_waiting(Server& server, Shared* shared, bool failed);
  Shared* least_loaded(const Server& server);
  void remove_shared(Shared* shared);
  void retire_shared(const Server* server);  // null: every server's
  size_t ready_count(const Server& server) const;
  void forget_opening(Opening* opening);
  void replenish_later();

  Loop& loop_;
  const ClientConfig& config_;
  ClientIdentity identity_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::list<std::unique_ptr<Opening>> openings_;
  std::list<std::unique_ptr<Idle>> idle_;
  std::list<std::unique_ptr<Shared>> shared_;
  Timer maintenance_;
  std::mt19937 random_{std::random_device{}()};
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
