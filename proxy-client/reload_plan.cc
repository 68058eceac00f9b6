#include "reload_plan.h"

#include <algorithm>

namespace mx {

std::string ListenerSpec::describe() const {
  switch (kind) {
    case Kind::Socks5:
      return "socks5";
    case Kind::Transparent:
      return "transparent";
    case Kind::Forward:
      return "forward to " + (target ? target->to_string() : std::string("?"));
  }
  return "?";
}

std::vector<ListenerSpec> listener_specs(const ClientConfig& config) {
  std::vector<ListenerSpec> specs;
  for (const SocketAddress& address : config.socks5.listen) {
    specs.push_back({ListenerSpec::Kind::Socks5, address, std::nullopt, {}});
  }
  if (config.transparent) {
    for (const SocketAddress& address : config.transparent->listen) {
      specs.push_back(
          {ListenerSpec::Kind::Transparent, address, std::nullopt, config.transparent->on_failure});
    }
  }
  for (const auto& forward : config.forwards) {
    specs.push_back(
        {ListenerSpec::Kind::Forward, forward.listen, forward.target, forward.on_failure});
  }
  return specs;
}

bool same_tunnels(const ClientConfig::Server& running, const ClientConfig::Server& next) {
  return running.address == next.address && running.pins == next.pins &&
         running.ca_file == next.ca_file && running.server_name == next.server_name &&
         running.sessions_per_tunnel == next.sessions_per_tunnel;
}

namespace {

bool contains(const std::vector<ListenerSpec>& specs, const ListenerSpec& spec) {
  return std::find(specs.begin(), specs.end(), spec) != specs.end();
}

std::vector<std::string> need_restart(const ClientConfig& running, const ClientConfig& next) {
  std::vector<std::string> keys;
  if (running.metrics != next.metrics) keys.push_back("metrics");
  const auto users = [](const ClientConfig& c) {
    std::vector<std::pair<std::string, std::string>> list;
    for (const auto& user : c.socks5.users) list.emplace_back(user.name, user.password_hash);
    return list;
  };
  if (users(running) != users(next)) keys.push_back("socks5.user");
  return keys;
}

}  // namespace

ReloadPlan plan_reload(const ClientConfig& running, const ClientConfig& next, bool key_changed) {
  ReloadPlan plan;
  std::vector<bool> continued(running.servers.size(), false);
  for (const auto& server : next.servers) {
    std::optional<size_t> match;
    for (size_t i = 0; i < running.servers.size() && !key_changed; ++i) {
      if (!continued[i] && same_tunnels(running.servers[i], server)) {
        match = i;
        break;
      }
    }
    if (match) continued[*match] = true;
    plan.servers.push_back(match);
  }
  for (size_t i = 0; i < running.servers.size(); ++i) {
    if (!continued[i]) plan.retired_servers.push_back(i);
  }
  const std::vector<ListenerSpec> before = listener_specs(running);
  const std::vector<ListenerSpec> after = listener_specs(next);
  for (const ListenerSpec& spec : before) {
    (contains(after, spec) ? plan.listeners_kept : plan.listeners_closed).push_back(spec);
  }
  for (const ListenerSpec& spec : after) {
    if (!contains(before, spec)) plan.listeners_opened.push_back(spec);
  }
  plan.need_restart = need_restart(running, next);
  return plan;
}

}  // namespace mx
