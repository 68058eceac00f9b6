#include "probe_command.h"

#include <netdb.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <memory>

#include "mxegress/config/client_config.h"
#include "mxegress/crypto/client_identity.h"
#include "mxegress/loop/mx_lookup.h"
#include "mxegress/net/socket_address.h"
#include "mxegress/util/log.h"
#include "probe_args.h"
#include "probe_output.h"
#include "probe_session.h"
#include "tunnel_pool.h"

namespace mx {
namespace {

constexpr std::chrono::milliseconds kFlushGrace{200};  // for QUIT's FIN and the tunnel's close

// One probe on one loop: the MX lookup, then a ProbeSession per MX host
// until one is not refused.
class ProbeRun {
 public:
  ProbeRun(Loop& loop, TunnelPool& pool, const ClientConfig& config, const ProbeArgs& args,
           ProbeReport& report)
      : loop_(loop),
        pool_(pool),
        config_(config),
        args_(args),
        report_(report),
        grace_(loop),
        began_(std::chrono::steady_clock::now()) {}

  void start() {
    if (SocketAddress::parse_ip(args_.host, args_.port)) {
      hosts_ = {args_.host};
      return try_host(0);
    }
    lookup_ = std::make_unique<MxLookup>(loop_, config_.resolver, args_.host,
                                         [this](MxResult r) { on_mx(std::move(r)); });
  }
  void end() {
    session_.reset();
    lookup_.reset();
  }

 private:
  int64_t now() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 began_)
        .count();
  }

  void on_mx(MxResult result) {
    loop_.destroy_later(std::move(lookup_));
    switch (result.status) {
      case MxResult::Status::Ok: {
        std::string list;
        for (const MxHost& mx : result.hosts) {
          hosts_.push_back(mx.host);
          list += (list.empty() ? "" : ", ") + mx.host + " (" + std::to_string(mx.preference) + ")";
        }
        report_.add("mx-lookup", now(), true, args_.host + " MX " + list);
        break;
      }
      case MxResult::Status::NoMx:
        hosts_ = {args_.host};
        report_.add("mx-lookup", now(), true,
                    args_.host + ": no MX records (" + result.error + "): the host itself");
        break;
      case MxResult::Status::Timeout:
      case MxResult::Status::Failed:
        report_.add("mx-lookup", now(), false, args_.host + ": " + result.error);
        report_.fail(ProbeFailure::LookupFailed, "mx-lookup",
                     "MX lookup of " + args_.host + ": " + result.error);
        return stop();
    }
    try_host(0);
  }

  void try_host(size_t index) {
    if (index >= hosts_.size()) {
      const std::string why = report_.reason;
      report_.reason.clear();
      report_.fail(ProbeFailure::ConnectRefused, "connect",
                   hosts_.size() > 1 ? "every MX host refused; last: " + why : why);
      return stop();
    }
    report_.mx_host = hosts_[index];
    ProbeSession::Options options;
    options.smtp = {args_.helo, args_.tls, args_.verify};
    options.tls = {args_.cert, args_.key};
    options.timeout = args_.timeout;
    session_ = std::make_unique<ProbeSession>(
        loop_, pool_, hosts_[index], args_.port, options, report_, [this] { return now(); },
        [this, index](ProbeSession::End end) {
          loop_.destroy_later(std::move(session_));
          if (end == ProbeSession::End::Refused) return try_host(index + 1);
          stop();
        });
    session_->start();
  }

  void stop() {
    pool_.stop();
    grace_.start(kFlushGrace, [this] { loop_.stop(); });
  }

  Loop& loop_;
  TunnelPool& pool_;
  const ClientConfig& config_;
  const ProbeArgs& args_;
  ProbeReport& report_;
  Timer grace_;
  std::chrono::steady_clock::time_point began_;
  std::unique_ptr<MxLookup> lookup_;
  std::vector<std::string> hosts_;
  std::unique_ptr<ProbeSession> session_;
};

}  // namespace

std::string default_helo_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  addrinfo hints{};
  hints.ai_flags = AI_CANONNAME;
  addrinfo* result = nullptr;
  std::string fqdn = name;
  if (::getaddrinfo(name, nullptr, &hints, &result) == 0) {
    if (result != nullptr && result->ai_canonname != nullptr) fqdn = result->ai_canonname;
    ::freeaddrinfo(result);
  }
  return fqdn;
}

int run_probe(const std::vector<std::string>& argv, const std::string& config_path,
              std::ostream& out, std::ostream& err) {
  ProbeArgs args = parse_probe_args(argv, config_path);
  if (!args.error.empty()) {
    err << "mxegress-client probe: " << args.error << "\n"
        << "usage: mxegress-client [-c FILE] probe HOST[:PORT] [--json] [--no-tls] [--verify]\n"
           "         [--helo NAME] [--timeout SECONDS] [--cert FILE --key FILE]\n";
    return exit_code(ProbeFailure::Usage);
  }
  auto loaded = load_client_config(args.config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) err << e << "\n";
    return exit_code(ProbeFailure::Usage);
  }
  const ClientConfig config = std::move(*loaded.config);
  std::string why;
  auto identity = load_key_file(config.client.key_file, why);
  if (!identity) {
    err << args.config_path << ": client.key: " << why << "\n";
    return exit_code(ProbeFailure::Usage);
  }
  if (args.helo.empty()) args.helo = default_helo_name();
  set_log_level(LogLevel::Error);  // the steps below say what went wrong
  std::signal(SIGPIPE, SIG_IGN);

  ProbeReport report;
  report.target = args.explicit_port ? args.host + ":" + std::to_string(args.port) : args.host;
  if (!args.json) {
    out << "probing " << report.target << " through " << config.servers.size()
        << " configured server(s)\n";
    report.on_step = [&](const ProbeStep& step) {
      out << format_step(step) << "\n";
      if (step.name == "tls" && report.tls_done) out << format_tls(report.tls);
      out.flush();
    };
  }
  {
    Loop loop;
    auto pool = TunnelPool::create(loop, config, std::move(*identity), why);
    if (!pool) {
      err << args.config_path << ": " << why << "\n";
      return exit_code(ProbeFailure::Usage);
    }
    ProbeRun run(loop, *pool, config, args, report);
    pool->start();
    run.start();
    loop.run();
    run.end();
    pool.reset();
    loop.run_deferred();
  }
  report.on_step = nullptr;
  if (args.json) {
    out << probe_json(report);
  } else {
    (report.ok() ? out : err) << format_verdict(report) << "\n";
  }
  return exit_code(report.failure);
}

}  // namespace mx
