// The whole server process: one EgressServer per loop thread (listeners
// shared with SO_REUSEPORT, so the kernel spreads tunnels over the cores),
// and, on the main thread, what concerns all of them: reload on SIGHUP
// (parsed and validated once, then handed to every thread) and the drain
// on SIGTERM.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "egress_server.h"
#include "mxegress/metrics/metrics_http_server.h"

namespace mx {

class ServerRuntime final : private TunnelBalancer {
 public:
  ServerRuntime(Loop& main_loop, std::filesystem::path config_path, ServerConfig config,
                SslCtxPtr tls);
  ~ServerRuntime();  // stops every thread and joins it

  struct Counts {
    size_t tunnels = 0;   // connections on the tunnel listeners (authenticated or not)
    size_t sessions = 0;  // on tunnels and on the SOCKS5 listener
  };

  std::string start();  // error text, empty when every thread listens
  // Reloads the file; `done` runs on the main loop with "" once every loop
  // applied the new configuration, or at once with why it was refused.
  void reload(std::function<void(const std::string& refused)> done = {});
  // `done` on the main loop with the sum of every loop's counts.
  void count(std::function<void(Counts)> done);
  // `all_turned` on the main loop once every loop ran a task (the watchdog's
  // proof that none is stuck).
  void probe_loops(std::function<void()> all_turned);
  void drain(std::function<void()> stopped);
  void stop(std::function<void()> stopped);
  // SIGUSR1: the trail file at its path again (logrotate's postrotate).
  void reopen_trail();
  size_t threads() const { return workers_.size(); }

 private:
  struct Worker {
    std::thread thread;
    std::mutex mutex;  // guards loop: null once the thread has left its loop
    Loop* loop = nullptr;
    EgressServer* server = nullptr;
    std::atomic<size_t> tunnels{0};   // running on its loop; written by that loop
    std::atomic<size_t> incoming{0};  // passed to it by other loops, not yet arrived
    size_t load() const {
      return tunnels.load(std::memory_order_relaxed) + incoming.load(std::memory_order_relaxed);
    }
  };

  // TunnelBalancer: a new tunnel goes to the loop with the fewest.
  bool pass_tunnel(size_t from, TcpConnection& connection,
                   ConcurrencyLimit::Slot& startup) override;
  void tunnels_now(size_t loop, size_t count) override;
  void tunnel_arrived(size_t loop) override;

  void run_worker(size_t index, std::promise<std::string>& started);
  // [metrics] listen: /metrics, /healthz, /readyz on the main loop.
  std::string start_metrics();
  std::string metrics_text() const;
  Readiness readiness() const;
  // Every second: a trail file moved or removed is reopened, held lines retried.
  void check_trail_soon();
  // Runs `work` on every worker's loop; `all_done` on the main loop once each
  // worker has called its `done`.
  void on_each(std::function<void(EgressServer&, std::function<void()> done)> work,
               std::function<void()> all_done);

  Loop& main_loop_;
  std::filesystem::path config_path_;
  std::shared_ptr<const ServerSnapshot> snapshot_;
  SharedSslCtx tls_;
  SharedServerState shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<MetricsHttpServer> metrics_;
  Timer trail_timer_;
  bool listening_ = false;  // every thread's listeners are up
  bool draining_ = false;
  const bool fleet_;  // [fleet] at start (it applies at start only)
};

}  // namespace mx
