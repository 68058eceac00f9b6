// mxegress-client's configuration (config/client.toml; reference in
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
#include "mxegress/config/log_level.h"
#include "mxegress/config/metrics_config.h"
#include "mxegress/net/resolver_settings.h"
#include "mxegress/net/socket_address.h"
#include "mxegress/net/tcp_liveness.h"

namespace mx {

struct ClientConfig {
  // [client]
  struct Client {
    std::filesystem::path key_file;  // Ed25519 private key
    LogLevel log_level = LogLevel::Info;
    LogFormat log_format = LogFormat::Text;  // log lines: text or one JSON object each
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds idle_timeout = std::chrono::minutes(10);
    // On SIGTERM: stop accepting, let live sessions finish this long, then exit.
    std::chrono::milliseconds drain_timeout = std::chrono::seconds(30);
    // PING on idle pooled tunnels this often; below 4 minutes (Azure NAT).
    std::chrono::milliseconds keepalive_interval = std::chrono::seconds(60);
    // No PONG within this: the tunnel is dead. Below keepalive_interval.
    std::chrono::milliseconds keepalive_timeout = std::chrono::seconds(10);
    // Idle tunnels above a server's `pool` are closed after this long.
    std::chrono::milliseconds pool_idle_timeout = std::chrono::minutes(5);
    // A server marked down is probed this often.
    std::chrono::milliseconds retry_interval = std::chrono::seconds(10);
    // TCP liveness of the tunnel sockets (TcpLiveness; 0 = off): a dead
    // path ends a busy tunnel within 30 s and finds an idle one within 60 s.
    std::chrono::milliseconds tcp_keepalive = std::chrono::seconds(30);
    std::chrono::milliseconds tcp_user_timeout = std::chrono::seconds(30);

    TcpLiveness liveness() const { return {tcp_keepalive, tcp_user_timeout}; }
  };

  // [[server]]: how to reach and verify one mxegress-server.
  struct Server {
    HostPort address;
    // Exactly one of these two is set. Several pins (`pins = [...]`, or one
    // `pin`): the server may present any of them, for a certificate rotation.
    std::vector<Key32> pins;                       // SPKI SHA-256s of the server's key
    std::optional<std::filesystem::path> ca_file;  // CA bundle (PEM)
    // Name sent as SNI and, with ca_file, verified; defaults to address.host.
    std::string server_name;
    uint32_t priority = 10;  // lower is preferred (like SRV); 0..65535
    uint32_t weight = 100;   // share among servers of equal priority; 1..65535
    uint32_t pool = 2;       // idle authenticated tunnels kept warm; 0..1024
    uint32_t pool_max = 32;  // most idle tunnels kept (bursts grow the pool); pool..4096
    // Sessions one tunnel carries at once (the multiplexed mode); 1 keeps
    // version 1's one session per tunnel. 1..4096.
    uint32_t sessions_per_tunnel = 100;
  };

  // [[socks5.user]]: an RFC 1929 username and its password's Argon2id hash.
  struct Socks5User {
    std::string name;
    std::string password_hash;
  };

  // [socks5] (optional): an empty `listen` means no [socks5] section.
  struct Socks5 {
    std::vector<SocketAddress> listen;
    std::vector<Socks5User> users;  // empty: no authentication
  };

  // What the SMTP client of a transparent or forwarded connection sees when
  // no tunnel to its destination can be had: an abortive close (RST), or an
  // SMTP "421 4.4.x <reason>" greeting and then a close.
  enum class FailureAction { Reset, Reply421 };

  // [transparent]: connections redirected by nftables/iptables, tunnelled to
  // their original destination (SO_ORIGINAL_DST).
  struct Transparent {
    std::vector<SocketAddress> listen;  // at least one
    FailureAction on_failure = FailureAction::Reset;
  };

  // [[forward]]: every connection to `listen` is tunnelled to `target`.
  struct Forward {
    SocketAddress listen;
    HostPort target;  // a name or an IP literal; port 1..65535
    FailureAction on_failure = FailureAction::Reset;
  };

  // At least one of socks5 (non-empty listen), transparent and forwards is set.
  Client client;
  std::vector<Server> servers;
  Socks5 socks5;
  std::optional<Transparent> transparent;  // [transparent]
  std::vector<Forward> forwards;           // [[forward]]
  ResolverSettings resolver;               // [resolver]: optional; resolves server names
  MetricsConfig metrics;                   // [metrics]: optional
};

// `source_name` prefixes every error; relative file names resolve against base_dir.
ConfigResult<ClientConfig> parse_client_config(std::string_view toml_text,
                                               const std::string& source_name,
                                               const std::filesystem::path& base_dir);
ConfigResult<ClientConfig> load_client_config(const std::filesystem::path& path);

// Every address the client listens on: SOCKS5, transparent, forwards, metrics.
std::vector<SocketAddress> listen_addresses(const ClientConfig& config);

}  // namespace mx
