// mxegress-server's configuration (config/server.toml; reference in
// docs/configuration.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxegress/config/base64_key.h"
#include "mxegress/config/config_result.h"
#include "mxegress/config/fleet_config.h"
#include "mxegress/config/log_level.h"
#include "mxegress/config/metrics_config.h"
#include "mxegress/config/resolver_config.h"
#include "mxegress/config/smtp_config.h"
#include "mxegress/config/warmup_config.h"
#include "mxegress/net/cidr.h"
#include "mxegress/net/socket_address.h"
#include "mxegress/net/tcp_liveness.h"

namespace mx {

struct ServerConfig {
  // [server]
  struct Server {
    std::vector<SocketAddress> listen;
    std::filesystem::path cert_file;  // PEM certificate (chain)
    std::filesystem::path key_file;   // PEM private key
    LogLevel log_level = LogLevel::Info;
    LogFormat log_format = LogFormat::Text;  // log lines: text or one JSON object each
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(30);
    std::chrono::milliseconds idle_timeout = std::chrono::minutes(10);
    // On SIGTERM, how long to wait for live sessions before closing them.
    std::chrono::milliseconds drain_timeout = std::chrono::seconds(30);
    // Event-loop threads, each with its own listeners (SO_REUSEPORT); 0 = one per core.
    uint32_t threads = 0;
    // A tunnel heard from for this long gets a PING; one that stays silent
    // for keepalive_timeout after it is lost, and its sessions end.
    std::chrono::milliseconds keepalive_interval = std::chrono::seconds(60);
    std::chrono::milliseconds keepalive_timeout = std::chrono::seconds(10);
    // TCP liveness of tunnel, SOCKS5 and destination sockets (TcpLiveness;
    // 0 = off): a dead path ends a busy connection within 30 s and finds an
    // idle one within 60 s.
    std::chrono::milliseconds tcp_keepalive = std::chrono::seconds(30);
    std::chrono::milliseconds tcp_user_timeout = std::chrono::seconds(30);

    // Connections not yet authenticated (tunnel: TLS + AUTH; SOCKS5: the
    // login), like OpenSSH's MaxStartups: above either cap a new one is
    // closed at once. 0 = unlimited.
    uint32_t max_unauthenticated = 1024;
    uint32_t max_unauthenticated_per_address = 32;

    TcpLiveness liveness() const { return {tcp_keepalive, tcp_user_timeout}; }
  };

  // [policy]: the defaults for every tenant; Tenant::policy holds what applies
  // to each one. Build the destination check with
  // DestinationFilter(policy.deny, policy.allow).
  struct Policy {
    std::vector<uint16_t> ports = {25};  // destination ports allowed
    std::vector<Cidr> allow;             // exempt from the built-in deny-list
    std::vector<Cidr> deny;              // always denied, whatever `allow` says
  };

  // How a tenant with several source addresses of one family picks one.
  enum class SourceSelection {
    RoundRobin,  // "round-robin": each in turn
    LeastUsed,   // "least-used": the one with the fewest live connections
  };

  // What a tenant's sessions do about a source address that receivers at
  // one provider reject (docs/smtp-health.md).
  enum class OnSuspect {
    Report,  // "report": log, metric, status only
    Avoid,   // "avoid": leave from another address for that provider until the cooldown
  };

  // The limits of one tenant; 0 means unlimited for each.
  struct Limits {
    uint32_t max_connections = 0;         // concurrent connections of the tenant
    uint32_t connections_per_minute = 0;  // token bucket, burst = this value
    uint32_t max_per_destination = 0;     // concurrent connections to one destination IP
    uint64_t bytes_per_day = 0;           // both directions, per UTC day
  };

  // [[tenant]]
  struct Tenant {
    std::string name;         // unique, [A-Za-z0-9._-]{1,64}
    std::vector<Key32> keys;  // Ed25519 public keys; each belongs to one tenant only
    bool enabled = true;      // false: every connection of the tenant is refused
    // IP literals with port 0, no duplicates, none unspecified, IPv4-mapped
    // ones stored as IPv4; empty = the kernel picks. Whether they exist on
    // this host is for the server to check, not the parser.
    std::vector<SocketAddress> source;
    SourceSelection source_selection = SourceSelection::RoundRobin;
    // EFFECTIVE destination rules: each of ports, allow and deny is the
    // tenant's own when its [[tenant]] sets it, else [policy]'s.
    Policy policy;
    Limits limits;
    std::vector<Cidr> tunnel_from;  // empty = any address may open tunnels for this tenant
    // The mail domain whose SPF record should authorise the source addresses
    // (`mxegress-server check`); lower case, no trailing dot; empty = none.
    std::string domain;
    OnSuspect on_suspect = OnSuspect::Report;
    // [[tenant.warmup]]: schedules of source addresses new to receivers;
    // an address is in one at most.
    std::vector<Warmup> warmup;
  };

  // [trail]: one JSON line per finished or refused connection.
  struct Trail {
    std::filesystem::path file;  // empty = no file
    // `stdout` in the file. Not `stdout` here: the C and C++ standards make
    // that a macro, and some C libraries (musl) define it as `(stdout)`, which
    // breaks `trail.stdout`.
    bool to_stdout = false;
    // `on_trail_error`: what new sessions get while the file cannot be
    // written (docs/abuse-desk.md "When the trail cannot be written").
    enum class OnError {
      Refuse,    // "refuse": refused like a tenant limit until it can again
      Continue,  // "continue": relayed; lines beyond the backlog are lost, counted
    };
    OnError on_error = OnError::Refuse;
    // `backlog`: bytes of lines held in memory while the file fails.
    uint64_t backlog = uint64_t{1} << 20;
  };

  // [[socks5.user]]: an RFC 1929 user of the server's own SOCKS5 listener.
  struct Socks5User {
    std::string name;           // 1 to 255 bytes, unique
    std::string password_hash;  // "$argon2id$..."
    std::string tenant;         // the name of a tenant of this file
    std::vector<Cidr> from;     // never empty: the addresses this user may come from
  };

  // [socks5]: optional; absent = no listener. When present, `listen` and
  // `users` are both non-empty.
  struct Socks5 {
    std::vector<SocketAddress> listen;
    std::vector<Socks5User> users;
    // The argon2id checks of logins (PasswordChecker): its threads (read at
    // start only), the checks queued or running in all and per source
    // address (0 = unlimited), and the backoff of an address after
    // `login_failures` failures (0 = none).
    uint32_t password_workers = 2;
    uint32_t max_password_checks = 32;
    uint32_t max_password_checks_per_address = 4;
    uint32_t login_failures = 5;
    std::chrono::milliseconds login_backoff = std::chrono::seconds(60);
  };

  Server server;
  Policy policy;
  std::vector<Tenant> tenants;
  Trail trail;
  Socks5 socks5;
  ServerResolverConfig resolver;  // [resolver]: optional
  MetricsConfig metrics;          // [metrics]: optional
  std::optional<FleetConfig> fleet;  // [fleet]: optional; absent = limits counted locally
  SmtpConfig smtp;                   // [smtp]: optional; absent = the defaults
};

// `source_name` prefixes every error; relative file names resolve against base_dir.
ConfigResult<ServerConfig> parse_server_config(std::string_view toml_text,
                                               const std::string& source_name,
                                               const std::filesystem::path& base_dir);
ConfigResult<ServerConfig> load_server_config(const std::filesystem::path& path);

// Every address the server listens on: tunnels, SOCKS5, metrics.
std::vector<SocketAddress> listen_addresses(const ServerConfig& config);

}  // namespace mx
