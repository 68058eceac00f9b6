#include "startup_gate.h"

#include <algorithm>
#include <array>
#include <span>

#include "mxegress/util/log.h"

namespace mx {

StartupGate::StartupGate() : limit_(ConcurrencyLimit::Caps{}) {}

void StartupGate::apply(const ServerConfig::Server& server) {
  limit_.set_caps({server.max_unauthenticated, server.max_unauthenticated_per_address});
}

std::string StartupGate::key_for(const SocketAddress& peer) {
  const SocketAddress address = peer.unmapped();
  if (address.family() != AF_INET6) return address.ip_string();
  // Whoever holds one IPv6 address usually holds its whole /64.
  std::array<uint8_t, 16> prefix{};
  std::span<const uint8_t> bytes = address.ip_bytes();
  std::copy(bytes.begin(), bytes.begin() + 8, prefix.begin());
  return SocketAddress::ipv6(prefix, 0).ip_string() + "/64";
}

ConcurrencyLimit::Slot StartupGate::admit(const SocketAddress& peer, Port port) {
  const std::string key = key_for(peer);
  ConcurrencyLimit::Grant grant = limit_.acquire(key);
  if (grant.slot) return std::move(grant.slot);
  LogRateLimit& log = port == Port::Tunnel ? tunnel_log_ : socks5_log_;
  if (auto left_out = log.admit()) {
    const ConcurrencyLimit::Caps caps = limit_.caps();
    const bool per_address = grant.refusal == ConcurrencyLimit::Refusal::PerKey;
    MX_LOG(Warn, "server") << "refused " << (port == Port::Tunnel ? "tunnel" : "socks5")
                           << " connection from " << peer.to_string() << ": "
                           << (per_address
                                   ? std::to_string(caps.per_key) + " connections from " + key
                                   : std::to_string(caps.total) + " connections in all")
                           << " are not yet authenticated ("
                           << (per_address ? "max_unauthenticated_per_address"
                                           : "max_unauthenticated")
                           << ")" << left_out_note(*left_out)
                           << log_json_kv("peer", peer.to_string());
  }
  return {};
}

void StartupGate::refuse_stranger(const std::optional<SocketAddress>& peer) {
  strangers_.fetch_add(1, std::memory_order_relaxed);
  if (auto left_out = strangers_log_.admit()) {
    // Policy, decided before the client sent a byte (a health check from
    // outside every `from` gets this too): info, not warn.
    MX_LOG(Info, "socks5") << "refused connection from " << (peer ? peer->to_string() : "?")
                           << ": not in any user's `from`" << left_out_note(*left_out)
                           << log_json_kv("peer", peer ? peer->to_string() : "?");
  }
}

}  // namespace mx
