// mxegress-client: takes SMTP connections from a mail gateway (SOCKS5) and
// carries each through an authenticated TLS tunnel to mxegress-server.
#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>

#include "egress_client.h"
#include "mxegress/config/client_config.h"
#include "mxegress/crypto/client_identity.h"
#include "mxegress/crypto/password.h"
#include "mxegress/crypto/tls_engine.h"
#include "mxegress/loop/listen_probe.h"
#include "mxegress/loop/service_notifier.h"
#include "mxegress/loop/signal_watch.h"
#include "mxegress/util/command_line.h"
#include "mxegress/util/log.h"
#include "online_check.h"
#include "probe_command.h"

namespace {

constexpr const char* kUsage =
    R"(usage: mxegress-client [-c FILE] [--check [--online] [--for-reload]]
       mxegress-client keygen KEYFILE
       mxegress-client pubkey KEYFILE
       mxegress-client hash-password
       mxegress-client [-c FILE] probe HOST[:PORT] [--json] [--no-tls] [--verify]
                       [--helo NAME] [--timeout SECONDS] [--cert FILE --key FILE]
       mxegress-client --version | --help

Runs the gateway side of an mxegress pair: a SOCKS5 listener whose CONNECTs
are carried through an authenticated TLS 1.3 tunnel to mxegress-server, which
opens the TCP connection from the egress host.

  -c, --config FILE  configuration (default /etc/mxegress/client.toml)
  --check            validate the configuration (and load the key), check that
                     every listen address is free, then exit
  --online           with --check: also open one authenticated tunnel to each
                     [[server]] and say per server: ok, unreachable, wrong pin
                     (with the pin it presented) or key refused; exit 0 only
                     if every server is ok
  --for-reload       with --check: leave out the listen addresses (held by
                     the running client: --check --online --for-reload checks
                     the servers of a client that runs)
  keygen KEYFILE     write a new Ed25519 private key (mode 0600) and print its
                     public key, for the server's [[tenant]] keys
  pubkey KEYFILE     print the public key of an existing key file
  hash-password      read a password on stdin, print its argon2id hash
  probe HOST[:PORT]  look up HOST's MX hosts and test SMTP to them through the
                     configured servers as a session would: CONNECT (and the
                     source address used), banner, EHLO, STARTTLS, the MX's
                     certificate; exit 0 only with a 2xx banner and STARTTLS
                     done (docs/probe.md lists the other exit codes)

  SIGHUP reloads the configuration; an invalid one is refused and the
  running one stays.
)";

int run_keygen(const std::vector<std::string>& args, bool generate) {
  if (args.size() != 2) {
    std::cerr << "usage: mxegress-client " << args[0] << " KEYFILE\n";
    return 2;
  }
  std::string err;
  auto identity = generate ? mx::generate_key_file(args[1], err) : mx::load_key_file(args[1], err);
  if (!identity) {
    std::cerr << "mxegress-client " << args[0] << ": " << err << "\n";
    return 1;
  }
  std::cout << mx::encode_key(identity->public_key) << "\n";
  return 0;
}

// --check: the configuration and key (already loaded), the listen addresses
// (unless --for-reload), and with --online a tunnel to each server.
int run_check(const mx::CommandLine& cl, const mx::ClientConfig& config,
              const mx::ClientIdentity& identity) {
  if (auto refusal =
          cl.for_reload ? std::nullopt : mx::probe_listen_addresses(mx::listen_addresses(config))) {
    std::cerr << cl.config_path << ": " << mx::describe(*refusal, "mxegress-client") << "\n";
    return 1;
  }
  std::cout << cl.config_path << ": configuration OK (public key "
            << mx::encode_key(identity.public_key) << ")\n";
  if (!cl.online) return 0;
  mx::set_log_level(mx::LogLevel::Error);  // the verdicts below say what went wrong
  std::signal(SIGPIPE, SIG_IGN);
  mx::Loop loop;
  std::string err;
  const std::vector<mx::ServerCheck> checks = mx::check_servers_online(loop, config, identity, err);
  if (!err.empty()) {
    std::cerr << cl.config_path << ": " << err << "\n";
    return 1;
  }
  for (const mx::ServerCheck& check : checks) {
    (check.failure == mx::OpenFailure::None ? std::cout : std::cerr)
        << "server " << mx::describe(check) << "\n";
  }
  if (!mx::every_server_ok(checks)) {
    std::cerr << cl.config_path << ": not every server accepted a tunnel\n";
    return 1;
  }
  std::cout << cl.config_path << ": every server accepted a tunnel\n";
  return 0;
}

// SIGHUP: the file is read and validated (its key loaded) before anything
// changes; a refused one leaves the running configuration as it was.
void reload(const std::filesystem::path& path, mx::EgressClient& client,
            const std::function<void(const std::string& refused)>& done) {
  MX_LOG(Info, "client") << "reloading " << path.string();
  auto loaded = mx::load_client_config(path);
  std::vector<std::string> errors = loaded.errors;
  std::optional<mx::ClientIdentity> identity;
  if (loaded.ok()) {
    std::string err;
    identity = mx::load_key_file(loaded.config->client.key_file, err);
    if (!identity) errors.push_back(path.string() + ": client.key: " + err);
  }
  if (errors.empty()) {
    mx::LogLevel level = loaded.config->client.log_level;
    mx::LogFormat format = loaded.config->client.log_format;
    const size_t servers = loaded.config->servers.size();
    if (std::string err = client.reload(std::move(*loaded.config), *identity); !err.empty()) {
      errors.push_back(path.string() + ": " + err);
    } else {
      mx::set_log_level(level);
      mx::set_log_format(format);
      MX_LOG(Info, "client") << "reloaded: " << servers << " servers";
      return done("");
    }
  }
  std::string why;
  for (const auto& e : errors) why += (why.empty() ? "" : "; ") + e;
  // One line, whatever the number of errors: the operator's grep finds it whole.
  MX_LOG(Error, "client") << "reload refused (still running on the previous configuration): " << why
                          << mx::log_json_kv("reason", why);
  done(why);
}

int run_client(const mx::CommandLine& cl) {
  // Until the loop watches it, a SIGHUP (a reload sent too early) must not
  // end the process, as its default action would.
  std::signal(SIGHUP, SIG_IGN);
  auto loaded = mx::load_client_config(cl.config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e << "\n";
    std::cerr << "mxegress-client: refusing to start with an invalid configuration\n";
    return 1;
  }
  mx::ClientConfig config = std::move(*loaded.config);
  std::string err;
  auto identity = mx::load_key_file(config.client.key_file, err);
  if (!identity) {
    std::cerr << cl.config_path << ": client.key: " << err << "\n";
    return 1;
  }
  if (cl.check) return run_check(cl, config, *identity);
  mx::init_log_output();  // "<N>" priorities when stderr is the journal
  mx::set_log_level(config.client.log_level);
  mx::set_log_format(config.client.log_format);
  std::signal(SIGPIPE, SIG_IGN);

  mx::Loop loop;
  // Under systemd (Type=notify): READY, STOPPING, STATUS and WATCHDOG
  // messages; nothing without NOTIFY_SOCKET.
  mx::ServiceNotifier notifier(loop);
  {
    mx::EgressClient client(loop, std::move(config));
    // READY=1 once the listeners are bound and the first server answered
    // (or retry_interval passed): a gateway sent here at once is served.
    if (std::string start_err = client.start(std::move(*identity), [&] { notifier.ready(); });
        !start_err.empty()) {
      MX_LOG(Error, "client") << start_err;
      return 1;
    }
    // SIGTERM: stop accepting, let live sessions finish (drain_timeout).
    // SIGINT, or a second signal: stop now.
    bool draining = false;
    auto stop_now = [&] {
      MX_LOG(Info, "client") << "stopping";
      notifier.stopping();
      client.stop();
      loop.stop();
    };
    mx::SignalWatch term(loop, SIGTERM, [&] {
      if (draining) return stop_now();
      draining = true;
      MX_LOG(Info, "client") << "SIGTERM: draining";
      notifier.stopping();
      client.drain([&] { loop.stop(); });
    });
    mx::SignalWatch interrupt(loop, SIGINT, stop_now);
    mx::SignalWatch hangup(loop, SIGHUP,
                           [&] { reload(cl.config_path, client, notifier.reloading()); });
    // One loop: the status and the watchdog's probe are answered by it at once.
    notifier.start([&client](auto report) { report(client.status()); },
                   [](auto alive) { alive(); });
    MX_LOG(Info, "client") << "mxegress-client " << MX_VERSION
                           << " running; TLS records after the handshake: "
                           << mx::TlsEngine::record_protection_available();
    loop.run();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const mx::CommandLine cl = mx::parse_command_line(argc, argv, "/etc/mxegress/client.toml");
  if (!cl.error.empty()) {
    std::cerr << "mxegress-client: " << cl.error << "\n" << kUsage;
    return 2;
  }
  if (cl.help) {
    std::cout << kUsage;
    return 0;
  }
  if (cl.version) {
    std::cout << "mxegress-client " << MX_VERSION << "\n"
              << "TLS records after the handshake: " << mx::TlsEngine::record_protection_available()
              << "\n";
    return 0;
  }
  if (!cl.positional.empty()) {
    const std::string& command = cl.positional[0];
    if (command == "keygen") return run_keygen(cl.positional, true);
    if (command == "pubkey") return run_keygen(cl.positional, false);
    if (command == "hash-password") return mx::run_hash_password(std::cin, std::cout, std::cerr);
    if (command == "probe") {
      return mx::run_probe({cl.positional.begin() + 1, cl.positional.end()}, cl.config_path,
                           std::cout, std::cerr);
    }
    std::cerr << "mxegress-client: unknown command " << command << "\n" << kUsage;
    return 2;
  }
  return run_client(cl);
}
