// The SMTP side of one relayed session to an observed port: the passive
// recogniser fed the bytes the pump moves (as its RelayTap), the provider
// of the destination, whether a source address should be avoided for it
// (as the dialer's SourcePreference), and at the end what the session
// taught (counters, health, downgrade signals) with their log lines and
// the trail's SMTP fields.
#pragma once

#include <optional>
#include <string>

#include "dialer.h"
#include "mxegress/codec/smtp_observer.h"
#include "mxegress/config/server_config.h"
#include "mxegress/net/socket_address.h"
#include "mxegress/net/target.h"
#include "mxegress/relay/pump.h"
#include "smtp/smtp_observations.h"
#include "trail.h"

namespace mx {

class ProviderLearner;
class ProviderMap;

class SmtpSessionWatch final : public RelayTap, public SourcePreference {
 public:
  // `learner`: the loop's, to find the provider of an address no session
  // named (null: none).
  SmtpSessionWatch(SmtpObservations& observations, ProviderLearner* learner,
                   const ProviderMap& providers, const SmtpConfig& config,
                   const ServerConfig::Tenant& tenant, const Target& target);

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

  // The session ended: records what was seen and logs what an operator
  // should know. Returns the trail's SMTP fields (none: no greeting seen).
  std::optional<TrailSmtp> ended(const std::optional<SocketAddress>& source,
                                 const std::optional<SocketAddress>& destination);

 private:
  bool avoiding() const { return tenant_.on_suspect == ServerConfig::OnSuspect::Avoid; }
  // The provider of `destination` as known before the dial, once per address.
  const std::string& provider_for(const SocketAddress& destination);

  SmtpObservations& observations_;
  ProviderLearner* learner_;
  const ProviderMap& providers_;
  const SmtpConfig& config_;
  const ServerConfig::Tenant& tenant_;
  std::string host_name_;  // the target's, when it was a name
  std::optional<SocketAddress> provider_of_;  // the destination provider_ is for
  std::string provider_;
  smtp::SessionObserver observer_;
};

}  // namespace mx
