// What a reload (SIGHUP) changes in a running client: a pure function of the
// running configuration and the new one (tests/unit/client/reload_plan_test.cc).
// EgressClient applies it: listeners in `listeners_opened` are bound, those in
// `listeners_closed` closed, the kept ones stay open (no gap); the pool keeps
// the tunnels of each server a new one continues, and retires the tunnels of
// the others (no new session; closed after their last one).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mxegress/config/client_config.h"

namespace mx {

// One listening address and what its connections become.
struct ListenerSpec {
  enum class Kind { Socks5, Transparent, Forward };
  Kind kind = Kind::Socks5;
  SocketAddress address;
  std::optional<HostPort> target;  // Forward only
  ClientConfig::FailureAction on_failure = ClientConfig::FailureAction::Reset;

  bool operator==(const ListenerSpec&) const = default;
  // "socks5", "transparent", "forward to mx.example.net:25": what the logs say.
  std::string describe() const;
};

// Every listener of a configuration, in the order they are started:
// [socks5], [transparent], [[forward]].
std::vector<ListenerSpec> listener_specs(const ClientConfig& config);

// Whether tunnels opened to `running` serve sessions for `next` unchanged:
// the same address, verification (pins or CA, server name) and
// sessions_per_tunnel. Priority, weight, pool and pool_max apply in place.
bool same_tunnels(const ClientConfig::Server& running, const ClientConfig::Server& next);

struct ReloadPlan {
  // By the new configuration's server index: the running server (its index
  // in the running configuration) whose tunnels it keeps, or nullopt for a
  // server whose tunnels are all new.
  std::vector<std::optional<size_t>> servers;
  // Running servers no new one continues: removed, or changed.
  std::vector<size_t> retired_servers;
  std::vector<ListenerSpec> listeners_kept;
  std::vector<ListenerSpec> listeners_opened;
  std::vector<ListenerSpec> listeners_closed;
  // Keys whose change only a restart applies ("metrics.listen", ...).
  std::vector<std::string> need_restart;
};

// `key_changed`: the client's identity differs (another key file or a new key
// in the same file): tunnels authenticated with the old key serve no new
// session, so every server counts as changed.
ReloadPlan plan_reload(const ClientConfig& running, const ClientConfig& next, bool key_changed);

}  // namespace mx
