// Authenticated tunnels to the egress server(s). A session takes one, and
// gives it back when its relay ended cleanly, so the next session skips the
// TLS handshake. (Issue 4 grows this into the warm pool: tunnels opened ahead
// of demand, keepalive, several servers with health.)
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "mxegress/config/client_config.h"
#include "mxegress/crypto/client_identity.h"
#include "mxegress/crypto/tls_context.h"
#include "mxegress/loop/resolver.h"
#include "mxegress/loop/timer.h"
#include "mxegress/relay/tunnel.h"

namespace mx {

class TunnelPool {
 public:
  // tunnel is null on failure, with the reason in `error`.
  using Acquired = std::function<void(std::unique_ptr<Tunnel> tunnel, const std::string& error)>;

  // Fails (returns null, sets err) when a server's TLS context cannot be built.
  static std::unique_ptr<TunnelPool> create(Loop& loop, const ClientConfig& config,
                                            ClientIdentity identity, std::string& err);
  ~TunnelPool();

  // Calls `done` later, never from inside acquire().
  void acquire(Acquired done);
  // A tunnel whose CONNECT failed: idle at once.
  void release(std::unique_ptr<Tunnel> tunnel);
  // A tunnel whose session ended (FIN both ways): idle once the server's END
  // arrives, closed if anything else does.
  void release_after_end(std::unique_ptr<Tunnel> tunnel);
  void stop();

  size_t idle_count() const { return idle_.size(); }
  uint64_t handshakes() const { return handshakes_; }

 private:
  class Opening;
  class Idle;
  struct ServerEntry {
    ClientConfig::Server config;
    SslCtxPtr tls;
  };

  TunnelPool(Loop& loop, const ClientConfig& config, ClientIdentity identity,
             std::vector<ServerEntry> servers);
  void open(size_t server_index, Acquired done, std::string previous_error);
  void forget_opening(Opening* opening);
  void remove_idle(Idle* idle);
  void add_idle(std::unique_ptr<Tunnel> tunnel, bool awaiting_end);

  Loop& loop_;
  const ClientConfig& config_;
  ClientIdentity identity_;
  std::vector<ServerEntry> servers_;
  std::list<std::unique_ptr<Opening>> openings_;
  std::list<std::unique_ptr<Idle>> idle_;
  uint64_t handshakes_ = 0;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mx
