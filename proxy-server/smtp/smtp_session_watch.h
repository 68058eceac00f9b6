// The SMTP side of one relayed session to an observed port: the passive
// recogniser fed the bytes the pump moves (as its RelayTap), the provider
// of the destination, whether a source address should be avoided for it,
// and at the end what the session taught (counters, health, downgrade
// signals) with their log lines and the trail's fields.
#pragma once

#include <string>

#include "mxegress/codec/smtp_observer.h"
#include "mxegress/config/server_config.h"
#include "mxegress/net/socket_address.h"
#include "mxegress/net/target.h"
#include "dialer.h"
#include "mxegress/relay/pump.h"
#include "smtp/smtp_observations.h"

namespace mx {

class ProviderMap;
struct TrailRecord;

class SmtpSessionWatch final : public RelayTap, public SourcePreference {
 public:
  SmtpSessionWatch(SmtpObservations& observations, const ProviderMap& providers,
                   const SmtpConfig& config, const ServerConfig::Tenant& tenant,
                   const Target& target);

  // For the dialer, per destination address tried: whether this tenant
  // should not leave from `source` toward `destination` now (on_suspect =
  // "avoid" and the address is suspect at the destination's provider).
  bool avoid(const SocketAddress& source, const SocketAddress& destination) override;
  void leaving_from(const SocketAddress& source, const SocketAddress& destination) override;

  // What the gateway sent with its request, written before the relay began.
  void early_data(ByteView data) { observer_.from_client(data); }
  // Index 0 is the gateway's side, 1 the MX's (the pump's a and b).
  bool on_relayed(int from, ByteView data) override {
    return from == 0 ? observer_.from_client(data) : observer_.from_server(data);
  }

  // The relay ended (or never started): records what was seen, logs what
  // an operator should know, and adds the session's SMTP fields to `record`.
  void ended(const std::string& tenant, const std::optional<SocketAddress>& source,
             const std::optional<SocketAddress>& destination, TrailRecord& record);

 private:
  SmtpObservations& observations_;
  const ProviderMap& providers_;
  const SmtpConfig& config_;
  const ServerConfig::Tenant& tenant_;
  std::string host_name_;  // the target's, when it was a name
  // The provider of the destination last asked about (as known at the dial).
  void learn_provider(const SocketAddress& destination);
  std::optional<SocketAddress> provider_of_;
  std::string provider_;
  smtp::SessionObserver observer_;
};

}  // namespace mx
