// What the server learns from the plaintext start of the SMTP sessions it
// relays (docs/smtp-health.md), kept for the whole process and shared by
// the loop threads: counters per tenant, source address and provider for
// /metrics, each source address's health at each provider, which MX hosts
// offered STARTTLS before (a downgrade signal), and the provider of each
// destination address seen (sessions to an IP literal learn it from the
// MX's greeting, so a later session to that IP knows it before it dials).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "mxegress/codec/smtp_observer.h"
#include "smtp/source_health.h"

namespace mx {

class ProviderMap;

// One session's end, as EgressSession knows it.
struct ObservedSession {
  std::string tenant;
  std::string source;       // our address (IP, no port)
  std::string destination;  // the MX's address (IP, no port)
  std::string provider;     // as known when it dialed; empty: learn it from the banner
  const smtp::SessionFacts* facts = nullptr;
};

// What ended() found worth a line in the log (the caller has the context).
struct ObservedSignals {
  std::string provider;  // the session's provider, as finally known ("unknown": none)
  SourceHealth::Verdict health;
  bool downgrade = false;         // this MX offered STARTTLS before and did not now
  bool starttls_unused = false;   // offered, and the gateway went on to MAIL without it
};

struct SmtpCounters {
  uint64_t sessions = 0;  // observed: a banner came
  uint64_t banner_2xx = 0, banner_4xx = 0, banner_5xx = 0;
  uint64_t starttls_offered = 0;  // EHLO answered with STARTTLS
  uint64_t starttls_used = 0;     // the gateway sent STARTTLS and the MX said 2xx
  uint64_t starttls_unused = 0;   // offered, then MAIL without it
  uint64_t downgrades = 0;        // the MX offered STARTTLS to us before, not now
};

class SmtpObservations {
 public:
  using Key = std::tuple<std::string, std::string, std::string>;  // tenant, source, provider

  // The provider of a session before it dials: the host name asked for, or
  // what an earlier session learned for `destination`; empty: not known.
  std::string provider_before_dial(const ProviderMap& providers, const std::string& host_name,
                                   const std::string& destination) const;

  ObservedSignals ended(const ObservedSession& session, const ProviderMap& providers,
                        const SourceHealth::Settings& settings,
                        SourceHealth::Clock::time_point now);

  SourceHealth& health() { return health_; }
  const SourceHealth& health() const { return health_; }
  void for_each(const std::function<void(const Key&, const SmtpCounters&)>& visit) const;

  // Bounds: counter keys beyond kMaxKeys are counted under provider "other";
  // the destination tables forget everything when full (they refill).
  static constexpr size_t kMaxKeys = 10000;
  static constexpr size_t kMaxDestinations = 50000;

 private:
  mutable std::mutex mutex_;
  std::map<Key, SmtpCounters> counters_;
  std::map<std::string, std::string> provider_of_destination_;
  std::map<std::string, bool> offered_starttls_;  // by MX address: the last EHLO's answer
  SourceHealth health_;
};

}  // namespace mx
