#include "server_runtime.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mxegress/loop/listen_probe.h"
#include "mxegress/util/log.h"
#include "server_metrics.h"

namespace mx {
namespace {
constexpr const char* kLog = "server";
constexpr std::chrono::seconds kTrailCheckInterval{1};

SharedSslCtx share(SslCtxPtr tls) { return SharedSslCtx(tls.release(), SSL_CTX_free); }
}  // namespace

ServerRuntime::ServerRuntime(Loop& main_loop, std::filesystem::path config_path,
                             ServerConfig config, SslCtxPtr tls)
    : main_loop_(main_loop),
      config_path_(std::move(config_path)),
      tls_(share(std::move(tls))),
      trail_timer_(main_loop),
      fleet_(config.fleet.has_value()) {
  set_log_level(config.server.log_level);
  set_log_format(config.server.log_format);
  shared_.startups.apply(config.server);
  shared_.lookups.set_caps(lookup_caps(config));
  shared_.passwords.apply(password_settings(config));
  // Every configured tenant shows in /metrics from the start, at zero.
  for (const auto& tenant : config.tenants) shared_.usage.for_tenant(tenant.name);
  snapshot_ = std::make_shared<const ServerSnapshot>(std::move(config));
}

ServerRuntime::~ServerRuntime() {
  metrics_.reset();
  for (auto& worker : workers_) {
    std::lock_guard lock(worker->mutex);
    if (worker->loop != nullptr) {
      worker->loop->post([w = worker.get()] {
        // Null when the thread already left its loop (the task then runs
        // from the Loop's destructor).
        if (w->server == nullptr) return;
        w->server->stop();
        w->loop->stop();
      });
    }
  }
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

void ServerRuntime::run_worker(size_t index, std::promise<std::string>& started) {
  Worker& worker = *workers_[index];
  Loop loop;
  // The balancer with one thread too: it passes nothing then, and its
  // counts are the tunnels /metrics reports.
  EgressServer server(loop, shared_, snapshot_, tls_, this, index);
  std::string err = server.start(workers_.size() > 1);
  {
    std::lock_guard lock(worker.mutex);
    if (err.empty()) {
      worker.loop = &loop;
      worker.server = &server;
    }
  }
  started.set_value(err);
  if (!err.empty()) return;
  loop.run();
  std::lock_guard lock(worker.mutex);
  server.stop();
  worker.loop = nullptr;
  worker.server = nullptr;
}

bool ServerRuntime::pass_tunnel(size_t from, TcpConnection& connection,
                                ConcurrencyLimit::Slot& startup) {
  size_t target = from;
  size_t fewest = workers_[from]->load();
  for (size_t i = 0; i < workers_.size(); ++i) {
    const size_t count = workers_[i]->load();
    if (count < fewest) {
      fewest = count;
      target = i;
    }
  }
  if (target == from) return false;
  Worker& to = *workers_[target];
  std::lock_guard lock(to.mutex);
  if (to.loop == nullptr) return false;
  const int fd = connection.release_socket();
  if (fd < 0) {
    MX_LOG(Warn, kLog) << "cannot pass a tunnel to loop " << target << ": " << std::strerror(errno);
    return true;  // the connection is closed; the client opens another
  }
  // Counted at once, so that a burst of accepts does not all go to one loop.
  to.incoming.fetch_add(1, std::memory_order_relaxed);
  // A posted task is a std::function, so copyable: the slot goes in a shared_ptr.
  auto slot = std::make_shared<ConcurrencyLimit::Slot>(std::move(startup));
  to.loop->post([&to, fd, slot] {
    // Null when that loop has ended (the task then runs from the Loop's destructor).
    if (to.server == nullptr) {
      ::close(fd);
      return;
    }
    to.server->adopt_tunnel(fd, std::move(*slot));
  });
  return true;
}

void ServerRuntime::tunnels_now(size_t loop, size_t count) {
  workers_[loop]->tunnels.store(count, std::memory_order_relaxed);
}

void ServerRuntime::tunnel_arrived(size_t loop) {
  workers_[loop]->incoming.fetch_sub(1, std::memory_order_relaxed);
}

std::string ServerRuntime::start() {
  // A server that cannot write its trail does not start: a session without
  // its record must not happen silently (docs/abuse-desk.md).
  const ServerConfig::Trail& trail = snapshot_->config().trail;
  if (std::string err =
          shared_.trail.open(trail.file, trail.to_stdout, trail.on_error, trail.backlog);
      !err.empty()) {
    return err;
  }
  check_trail_soon();
  const uint32_t configured = snapshot_->config().server.threads;
  const size_t count =
      configured != 0 ? configured : std::max(1u, std::thread::hardware_concurrency());
  // Our loops share each address (SO_REUSEPORT); nobody else may: a group
  // another process already holds would take us in without a word.
  if (auto refusal = probe_listen_addresses(listen_addresses(snapshot_->config()))) {
    return describe(*refusal, "mxegress-server");
  }
  for (size_t i = 0; i < count; ++i) workers_.push_back(std::make_unique<Worker>());
  for (size_t i = 0; i < workers_.size(); ++i) {
    std::promise<std::string> started;
    std::future<std::string> result = started.get_future();
    workers_[i]->thread = std::thread([this, i, &started] { run_worker(i, started); });
    if (std::string err = result.get(); !err.empty()) return err;
  }
  const ServerConfig& config = snapshot_->config();
  for (const SocketAddress& address : config.server.listen) {
    MX_LOG(Info, kLog) << "listening on " << address.to_string() << " (" << count << " threads)";
  }
  for (const SocketAddress& address : config.socks5.listen) {
    MX_LOG(Info, kLog) << "socks5 listening on " << address.to_string();
  }
  listening_ = true;
  return start_metrics();
}

std::string ServerRuntime::start_metrics() {
  const MetricsConfig& config = snapshot_->config().metrics;
  if (!config.listen) return {};
  MetricsEndpoints endpoints{[this] { return metrics_text(); }, [this] { return readiness(); }};
  metrics_ = std::make_unique<MetricsHttpServer>(main_loop_, std::move(endpoints));
  if (std::string err = metrics_->listen(*config.listen); !err.empty()) return err;
  MX_LOG(Info, kLog) << "metrics listening on " << metrics_->address().to_string();
  return {};
}

std::string ServerRuntime::metrics_text() const {
  ServerGauges gauges;
  gauges.threads = workers_.size();
  gauges.fleet = fleet_;
  for (const auto& worker : workers_) gauges.tunnels += worker->load();
  return render_server_metrics(shared_, gauges);
}

Readiness ServerRuntime::readiness() const {
  std::vector<std::string> problems;
  if (auto refusal = shared_.trail.refusal()) {
    problems.push_back(*refusal + ": new sessions are refused");
  }
  auto sources = check_source_addresses(snapshot_->config(), config_path_.string());
  problems.insert(problems.end(), sources.begin(), sources.end());
  return server_readiness(listening_, draining_, problems);
}

void ServerRuntime::check_trail_soon() {
  trail_timer_.start(kTrailCheckInterval, [this] {
    shared_.trail.check();
    check_trail_soon();
  });
}

void ServerRuntime::reopen_trail() {
  MX_LOG(Info, kLog) << "reopening the trail (SIGUSR1)";
  shared_.trail.reopen();
}

void ServerRuntime::on_each(std::function<void(EgressServer&, std::function<void()>)> work,
                            std::function<void()> all_done) {
  auto remaining = std::make_shared<std::atomic<size_t>>(workers_.size());
  auto finish_one = [this, remaining, all_done] {
    if (--*remaining == 0) main_loop_.post(all_done);
  };
  for (auto& worker : workers_) {
    std::lock_guard lock(worker->mutex);
    if (worker->loop == nullptr) {
      finish_one();
      continue;
    }
    worker->loop->post([w = worker.get(), work, finish_one] {
      if (w->server == nullptr) return finish_one();
      work(*w->server, finish_one);
    });
  }
}

void ServerRuntime::reload(std::function<void(const std::string&)> done) {
  MX_LOG(Info, kLog) << "reloading " << config_path_.string();
  // Reopen the trail first, whatever the new file says: logrotate moved it
  // and sent SIGHUP, and a refused reload must not keep writing there.
  const ServerConfig& current = snapshot_->config();
  if (std::string err = shared_.trail.open(current.trail.file, current.trail.to_stdout,
                                           current.trail.on_error, current.trail.backlog);
      !err.empty()) {
    MX_LOG(Error, kLog) << err;
  }
  auto loaded = load_server_config(config_path_);
  std::vector<std::string> errors = loaded.errors;
  if (loaded.ok()) {
    auto more = check_server_environment(*loaded.config, config_path_.string());
    errors.insert(errors.end(), more.begin(), more.end());
  }
  SslCtxPtr tls;
  if (errors.empty()) {
    std::string err;
    tls = make_server_tls_context(loaded.config->server.cert_file, loaded.config->server.key_file,
                                  err);
    if (!tls) errors.push_back(config_path_.string() + ": server.cert/server.key: " + err);
  }
  if (!errors.empty()) {
    std::string why;
    for (const auto& e : errors) {
      MX_LOG(Error, kLog) << e;
      why += (why.empty() ? "" : "; ") + e;
    }
    MX_LOG(Error, kLog) << "reload refused: still running on the previous configuration";
    if (done) done(why);
    return;
  }
  const ServerConfig& old = snapshot_->config();
  if (old.server.listen != loaded.config->server.listen ||
      old.socks5.listen != loaded.config->socks5.listen ||
      old.server.threads != loaded.config->server.threads ||
      old.metrics != loaded.config->metrics) {
    MX_LOG(Warn, kLog) << "listen addresses, metrics.listen and threads apply after a restart";
  }
  if (old.fleet != loaded.config->fleet) {
    MX_LOG(Warn, kLog) << "[fleet] applies after a restart";
  }
  if (old.socks5.password_workers != loaded.config->socks5.password_workers) {
    MX_LOG(Warn, kLog) << "socks5.password_workers applies after a restart";
  }
  set_log_level(loaded.config->server.log_level);
  set_log_format(loaded.config->server.log_format);
  shared_.startups.apply(loaded.config->server);
  shared_.lookups.set_caps(lookup_caps(*loaded.config));
  shared_.passwords.apply(password_settings(*loaded.config));
  const ServerConfig::Trail& trail = loaded.config->trail;
  if (std::string err =
          shared_.trail.open(trail.file, trail.to_stdout, trail.on_error, trail.backlog);
      !err.empty()) {
    MX_LOG(Error, kLog) << err;
  }
  for (const auto& tenant : loaded.config->tenants) shared_.usage.for_tenant(tenant.name);
  snapshot_ = std::make_shared<const ServerSnapshot>(std::move(*loaded.config));
  tls_ = share(std::move(tls));
  const size_t tenants = snapshot_->config().tenants.size();
  on_each(
      [snapshot = snapshot_, tls = tls_](EgressServer& server, std::function<void()> done) {
        server.apply(snapshot, tls);
        done();
      },
      [tenants, done] {
        MX_LOG(Info, kLog) << "reloaded: " << tenants << " tenants";
        if (done) done("");
      });
}

void ServerRuntime::count(std::function<void(Counts)> done) {
  struct Sum {
    std::atomic<size_t> tunnels{0};
    std::atomic<size_t> sessions{0};
  };
  auto sum = std::make_shared<Sum>();
  on_each(
      [sum](EgressServer& server, std::function<void()> one_done) {
        sum->tunnels += server.tunnel_count();
        sum->sessions += server.session_count();
        one_done();
      },
      [sum, done = std::move(done)] {
        done(Counts{sum->tunnels.load(), sum->sessions.load()});
      });
}

void ServerRuntime::probe_loops(std::function<void()> all_turned) {
  on_each([](EgressServer&, std::function<void()> one_done) { one_done(); }, std::move(all_turned));
}

void ServerRuntime::drain(std::function<void()> stopped) {
  draining_ = true;
  MX_LOG(Info, kLog) << "draining: at most " << snapshot_->config().server.drain_timeout.count()
                     << " ms for live sessions";
  on_each([](EgressServer& server, std::function<void()> done) { server.drain(done); },
          std::move(stopped));
}

void ServerRuntime::stop(std::function<void()> stopped) {
  on_each(
      [](EgressServer& server, std::function<void()> done) {
        server.stop();
        done();
      },
      std::move(stopped));
}

}  // namespace mx
