// Finds, in the background, the provider of a destination address that no
// session named: gateways that resolve MX records themselves (Postfix,
// Exim, the transparent mode) ask for an address, and a refusing greeting
// ("554 5.7.1 ...") seldom names its host. The address's PTR name, read by
// ProviderMap, then names the provider (Microsoft's MX addresses resolve
// under outlook.com, Google's under 1e100.net or google.com, ...), and
// SmtpObservations remembers it for every loop. One per loop, on its own
// c-ares channel; a session never waits for it.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "check/dns_client.h"
#include "mxegress/loop/loop.h"
#include "mxegress/net/socket_address.h"
#include "smtp/smtp_observations.h"

namespace mx {

class ServerSnapshot;

class ProviderLearner {
 public:
  using Snapshot = std::function<std::shared_ptr<const ServerSnapshot>()>;

  ProviderLearner(Loop& loop, SmtpObservations& observations, Snapshot snapshot);
  // Lookups still under way are dropped.
  ~ProviderLearner();
  ProviderLearner(const ProviderLearner&) = delete;
  ProviderLearner& operator=(const ProviderLearner&) = delete;

  // Asks the PTR name of `destination` unless it was asked already (each
  // address once, until kMaxAsked addresses were asked) or kMaxInFlight
  // lookups are under way.
  void learn(const SocketAddress& destination);
  // A reload: the next lookups use the new [resolver] settings.
  void reset_resolver() { dns_.reset(); }

  static constexpr size_t kMaxInFlight = 64;
  static constexpr size_t kMaxAsked = 50000;

 private:
  void on_answer(const SocketAddress& destination, const check::DnsAnswer& answer);

  Loop& loop_;
  SmtpObservations& observations_;
  Snapshot snapshot_;
  std::unique_ptr<check::DnsClient> dns_;
  std::set<IpKey> asked_;
  bool broken_ = false;  // c-ares could not make a channel: logged once
};

}  // namespace mx
