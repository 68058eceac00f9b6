#include "startup_gate.h"

#include "mxegress/util/log.h"

namespace mx {

StartupGate::StartupGate() : limit_(ConcurrencyLimit::Caps{}) {}

void StartupGate::apply(const ServerConfig::Server& server) {
  limit_.set_caps({server.max_unauthenticated, server.max_unauthenticated_per_address});
}

ConcurrencyLimit::Slot StartupGate::admit(const SocketAddress& peer, std::string_view port) {
  const std::string address = peer.ip_string();
  ConcurrencyLimit::Grant grant = limit_.acquire(address);
  if (grant.slot) return std::move(grant.slot);
  if (auto left_out = log_.admit()) {
    const ConcurrencyLimit::Caps caps = limit_.caps();
    const bool per_address = grant.refusal == ConcurrencyLimit::Refusal::PerKey;
    MX_LOG(Warn, "server")
        << "refused " << port << " connection from " << address << ": "
        << (per_address ? std::to_string(caps.per_key) + " connections from this address"
                        : std::to_string(caps.total) + " connections in all")
        << " are not yet authenticated ("
        << (per_address ? "max_unauthenticated_per_address" : "max_unauthenticated") << ")"
        << left_out_note(*left_out);
  }
  return {};
}

}  // namespace mx
