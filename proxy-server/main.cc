// mxegress-server: accepts authenticated tunnels from mxegress-client and
// opens the TCP connections they ask for, within each tenant's policy.
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>

#include "check/check_command.h"
#include "mxegress/config/server_config.h"
#include "mxegress/crypto/password.h"
#include "mxegress/crypto/server_identity.h"
#include "mxegress/crypto/tls_context.h"
#include "mxegress/crypto/tls_engine.h"
#include "mxegress/loop/listen_probe.h"
#include "mxegress/loop/service_notifier.h"
#include "mxegress/loop/signal_watch.h"
#include "mxegress/util/command_line.h"
#include "mxegress/util/log.h"
#include "server_runtime.h"
#include "trail_query.h"
#include "warmup.h"

namespace {

constexpr const char* kUsage = R"(usage: mxegress-server [-c FILE] [--check [--for-reload]]
       mxegress-server init DIR [NAME]
       mxegress-server pin [CERTFILE]
       mxegress-server hash-password
       mxegress-server trail FILE... [--tenant T] [--source IP[:PORT]] [--dest HOST|IP[:PORT]]
                             [--around TIME [--window D]] [--since T] [--until T] [--json]
       mxegress-server [-c FILE] check [--domain D] [--dnsbl ZONE...] [--json]
       mxegress-server --version | --help

Runs the egress side of an mxegress pair: accepts TLS 1.3 tunnels from
mxegress-client, authenticates each tenant by its Ed25519 key, and opens the
TCP connections they ask for, within the tenant's policy.

  -c, --config FILE  configuration (default /etc/mxegress/server.toml)
  --check            validate the configuration (and load cert/key), check that
                     every listen address is free, then exit
  --for-reload       with --check: leave out the listen addresses, which the
                     running server holds (systemd's ExecReload)
  init DIR [NAME]    write DIR/server.key and a self-signed DIR/server.crt for
                     NAME (default: mxegress-server) and print the pin that
                     goes into the client's [[server]] section
  pin [CERTFILE]     print the pin of CERTFILE, or of the configured
                     certificate ([server] cert of the -c file)
  hash-password      read a password on stdin, print its argon2id hash
  trail FILE [FILTER...]
                     search the abuse trail; see `mxegress-server trail --help`
  check [--domain D] [--dnsbl ZONE...] [--json]
                     check each tenant source address: bindable, PTR, FCrDNS,
                     SPF of D (or the tenant's domain), DNSBL listings; exit 0
                     only when all pass; see `mxegress-server check --help`
  SIGHUP reloads the configuration; an invalid one is refused and the
  running one stays. SIGUSR1 reopens the trail file (after logrotate).
)";

int run_init(const std::vector<std::string>& args) {
  if (args.size() < 2 || args.size() > 3) {
    std::cerr << "usage: mxegress-server init DIR [NAME]\n";
    return 2;
  }
  std::string err;
  const std::string name = args.size() == 3 ? args[2] : "mxegress-server";
  auto pin = mx::write_server_identity(args[1], name, err);
  if (!pin) {
    std::cerr << "mxegress-server init: " << err << "\n";
    return 1;
  }
  std::cout << "wrote " << args[1] << "/server.key and " << args[1] << "/server.crt\n"
            << "pin = \"" << *pin << "\"\n";
  return 0;
}

// `pin [CERTFILE]`; `-c FILE` may also follow `pin`, as operators type it.
int run_pin(const mx::CommandLine& cl) {
  std::string config_path = cl.config_path;
  std::optional<std::filesystem::path> cert_file;
  const std::vector<std::string>& args = cl.positional;
  for (size_t i = 1; i < args.size(); ++i) {
    if ((args[i] == "-c" || args[i] == "--config") && i + 1 < args.size()) {
      config_path = args[++i];
    } else if (!cert_file && !args[i].starts_with("-")) {
      cert_file = args[i];
    } else {
      std::cerr << "usage: mxegress-server [-c FILE] pin [CERTFILE]\n";
      return 2;
    }
  }
  if (!cert_file) {
    auto loaded = mx::load_server_config(config_path);
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors) std::cerr << e << "\n";
      return 1;
    }
    cert_file = loaded.config->server.cert_file;
  }
  std::string err;
  const auto pin = mx::pin_of_certificate_file(*cert_file, err);
  if (!pin) {
    std::cerr << "mxegress-server pin: " << err << "\n";
    return 1;
  }
  std::cout << "pin = \"" << mx::format_pin(*pin) << "\"\n";
  return 0;
}

int run_server(const mx::CommandLine& cl) {
  auto loaded = mx::load_server_config(cl.config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e << "\n";
    std::cerr << "mxegress-server: refusing to start with an invalid configuration\n";
    return 1;
  }
  mx::ServerConfig config = std::move(*loaded.config);
  if (auto errors = mx::check_server_environment(config, cl.config_path); !errors.empty()) {
    for (const auto& e : errors) std::cerr << e << "\n";
    std::cerr << "mxegress-server: refusing to start with an invalid configuration\n";
    return 1;
  }
  std::string err;
  mx::SslCtxPtr tls =
      mx::make_server_tls_context(config.server.cert_file, config.server.key_file, err);
  if (!tls) {
    std::cerr << cl.config_path << ": server.cert/server.key: " << err << "\n";
    return 1;
  }
  if (cl.check) {
    // Not under ExecReload: the running server holds these addresses then.
    if (auto refusal = cl.for_reload ? std::nullopt
                                     : mx::probe_listen_addresses(mx::listen_addresses(config))) {
      std::cerr << cl.config_path << ": " << mx::describe(*refusal, "mxegress-server") << "\n";
      return 1;
    }
    std::cout << cl.config_path << ": configuration OK (" << config.tenants.size() << " tenants"
              << (cl.for_reload ? "; listen addresses not probed" : "") << ")\n";
    for (const std::string& line : mx::describe_warmups(config, std::chrono::system_clock::now())) {
      std::cout << cl.config_path << ": " << line << "\n";
    }
    return 0;
  }
  std::signal(SIGPIPE, SIG_IGN);
  mx::init_log_output();  // "<N>" priorities when stderr is the journal

  mx::Loop loop;
  // Under systemd (Type=notify): READY, RELOADING, STOPPING, STATUS and
  // WATCHDOG messages; nothing without NOTIFY_SOCKET. It outlives the
  // runtime, whose loops may still answer its probes while they stop.
  mx::ServiceNotifier notifier(loop);
  int exit_code = 0;
  {
    mx::ServerRuntime server(loop, cl.config_path, std::move(config), std::move(tls));
    if (std::string start_err = server.start(); !start_err.empty()) {
      MX_LOG(Error, "server") << start_err;
      return 1;
    }
    // SIGTERM: stop accepting, let live sessions finish (drain_timeout).
    // SIGINT, or a second SIGTERM: stop now.
    bool stopping = false;
    auto stopped = [&] {
      MX_LOG(Info, "server") << "stopped";
      loop.stop();
    };
    mx::SignalWatch term(loop, SIGTERM, [&] {
      if (stopping) return server.stop(stopped);
      stopping = true;
      notifier.stopping();
      server.drain(stopped);
    });
    mx::SignalWatch interrupt(loop, SIGINT, [&] {
      stopping = true;
      notifier.stopping();
      server.stop(stopped);
    });
    mx::SignalWatch hangup(loop, SIGHUP, [&] { server.reload(notifier.reloading()); });
    // logrotate's postrotate: the trail file at its path again, nothing else.
    mx::SignalWatch rotate(loop, SIGUSR1, [&] { server.reopen_trail(); });
    notifier.start(
        [&server](auto report) {
          server.count([report](mx::ServerRuntime::Counts counts) {
            report(std::to_string(counts.tunnels) + " tunnels, " + std::to_string(counts.sessions) +
                   " sessions");
          });
        },
        [&server](auto alive) { server.probe_loops(alive); });
    MX_LOG(Info, "server") << "mxegress-server " << MX_VERSION
                           << " running; TLS records after the handshake: "
                           << mx::TlsEngine::record_protection_available();
    // Every listener of every loop is bound (start() waited for them).
    notifier.ready();
    // Signal watchers keep the main loop alive; the threads do the work.
    loop.run();
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  const mx::CommandLine cl = mx::parse_command_line(argc, argv, "/etc/mxegress/server.toml");
  if (!cl.error.empty()) {
    std::cerr << "mxegress-server: " << cl.error << "\n" << kUsage;
    return 2;
  }
  if (cl.help) {
    std::cout << kUsage;
    return 0;
  }
  if (cl.version) {
    std::cout << "mxegress-server " << MX_VERSION << "\n"
              << "TLS records after the handshake: " << mx::TlsEngine::record_protection_available()
              << "\n";
    return 0;
  }
  if (cl.online) {
    std::cerr << "mxegress-server: --online is an option of mxegress-client --check\n" << kUsage;
    return 2;
  }
  if (!cl.positional.empty()) {
    const std::string& command = cl.positional[0];
    if (command == "init") return run_init(cl.positional);
    if (command == "pin") return run_pin(cl);
    if (command == "hash-password") return mx::run_hash_password(std::cin, std::cout, std::cerr);
    if (command == "check") {
      return mx::check::run_check_command({cl.positional.begin() + 1, cl.positional.end()},
                                          cl.config_path, std::cout, std::cerr);
    }
    if (command == "trail") {
      return mx::run_trail_query({cl.positional.begin() + 1, cl.positional.end()}, std::cout,
                                 std::cerr);
    }
    std::cerr << "mxegress-server: unknown command " << command << "\n" << kUsage;
    return 2;
  }
  return run_server(cl);
}
