#include "online_check.h"

#include <memory>

#include "mxegress/loop/resolver.h"
#include "mxegress/relay/tunnel_endpoint.h"

namespace mx {

std::vector<ServerCheck> check_servers_online(Loop& loop, const ClientConfig& config,
                                              const ClientIdentity& identity, std::string& err) {
  Resolver resolver(loop);
  if (std::string why = resolver.configure(config.resolver); !why.empty()) {
    err = "resolver: " + why;
    return {};
  }
  std::vector<SslCtxPtr> contexts;
  for (const auto& server : config.servers) {
    contexts.push_back(client_tls_context_for(server, err));
    if (!contexts.back()) {
      err = "server " + server.address.to_string() + ": " + err;
      return {};
    }
  }
  std::vector<ServerCheck> checks(config.servers.size());
  std::vector<std::unique_ptr<Tunnel>> opened(config.servers.size());
  std::vector<std::unique_ptr<TunnelOpener>> openers;
  size_t remaining = config.servers.size();
  for (size_t i = 0; i < config.servers.size(); ++i) {
    const auto& server = config.servers[i];
    checks[i].server = server.address.to_string();
    openers.push_back(std::make_unique<TunnelOpener>(
        loop, resolver, TunnelOpener::Target{server.address, contexts[i].get(), server.server_name},
        identity, kDefaultSessionWindow, config.client.handshake_timeout, config.client.liveness(),
        [&, i](OpenedTunnel result) {
          ServerCheck& check = checks[i];
          check.failure = result.failure;
          check.presented_pin = result.presented_pin;
          check.error = std::move(result.error);
          if (result.tunnel) check.tls_version = result.tunnel->tls().protocol_version();
          opened[i] = std::move(result.tunnel);
          if (--remaining == 0) loop.stop();
        }));
  }
  if (remaining > 0) loop.run();
  opened.clear();
  openers.clear();
  loop.run_deferred();
  return checks;
}

std::string describe(const ServerCheck& check) {
  std::string line = check.server + ": " + open_failure_name(check.failure);
  switch (check.failure) {
    case OpenFailure::None:
      return line + " (" + check.tls_version + ")";
    case OpenFailure::WrongPin:
      if (check.presented_pin) {
        return line + ": the server presented " + format_pin(*check.presented_pin);
      }
      break;
    default:
      break;
  }
  return line + ": " + check.error;
}

bool every_server_ok(const std::vector<ServerCheck>& checks) {
  for (const ServerCheck& check : checks) {
    if (check.failure != OpenFailure::None) return false;
  }
  return !checks.empty();
}

}  // namespace mx
