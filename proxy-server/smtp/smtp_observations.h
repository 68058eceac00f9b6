// What the server learns from the plaintext start of the SMTP sessions it
// relays (docs/smtp-health.md), kept for the whole process and shared by
// the loop threads: counters per tenant, source address and provider for
// /metrics, each source address's health at each provider, which MX hosts
// offered STARTTLS before (a downgrade signal), and the provider of each
// destination address seen (sessions to an IP literal learn it from the
// MX's greeting, so a later session to that IP knows it before it dials).
//
// Addresses are keyed by their bytes (IpKey), not their text: formatting an
// address costs more than the rest of a session's bookkeeping here, so text
// is made only for /metrics and log lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "mxegress/codec/smtp_observer.h"
#include "mxegress/net/socket_address.h"
#include "smtp/source_health.h"

namespace mx {

class ProviderMap;

// An address's bytes (4 or 16) as a map key; ip_key_text gives its text.
using IpKey = std::string;
IpKey ip_key(const SocketAddress& address);
std::string ip_key_text(std::string_view key);

// One session's end, as SmtpSessionWatch knows it.
struct ObservedSession {
  std::string_view tenant;
  const SocketAddress& source;
  const SocketAddress& destination;
  std::string_view provider;  // as known when it dialed; empty: learn it from the banner
  const smtp::SessionFacts& facts;
};

// What ended() found worth a line in the log (the caller has the context).
struct ObservedSignals {
  std::string provider;  // the session's provider, as finally known ("unknown": none)
  SourceHealth::Verdict health;
  bool downgrade = false;        // this MX offered STARTTLS before and did not now
  bool starttls_unused = false;  // offered, and the gateway went on to MAIL without it
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
  // tenant, source address (text), provider
  using Key = std::tuple<std::string, std::string, std::string>;

  // The provider of a session before it dials: the host name asked for, or
  // what an earlier session learned for `destination`; empty: not known.
  std::string provider_before_dial(const ProviderMap& providers, std::string_view host_name,
                                   const SocketAddress& destination) const;

  // The provider of `destination` found another way (its PTR name).
  void learned(const SocketAddress& destination, const std::string& provider);

  // Only for a session whose MX sent a greeting (facts.banner_code).
  ObservedSignals ended(const ObservedSession& session, const ProviderMap& providers,
                        const SourceHealth::Settings& settings,
                        SourceHealth::Clock::time_point now);

  // Health, by source address (the sessions' IpKeys; text in suspects()).
  SourceHealth& health() { return health_; }
  std::vector<SourceHealth::Entry> suspects() const;
  void for_each(const std::function<void(const Key&, const SmtpCounters&)>& visit) const;

  // Bounds: counter keys beyond kMaxKeys are counted under provider "other";
  // the destination tables forget everything when full (they refill).
  static constexpr size_t kMaxKeys = 10000;
  static constexpr size_t kMaxDestinations = 50000;

 private:
  using RawKey = std::tuple<std::string, IpKey, std::string>;  // tenant, source bytes, provider
  using RawKeyView = std::tuple<std::string_view, std::string_view, std::string_view>;
  // Orders RawKeys and finds one by its views, without making strings.
  struct RawKeyLess {
    using is_transparent = void;
    static RawKeyView view(const RawKey& key) {
      return {std::get<0>(key), std::get<1>(key), std::get<2>(key)};
    }
    static RawKeyView view(const RawKeyView& key) { return key; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return view(a) < view(b);
    }
  };

  mutable std::mutex mutex_;
  std::map<RawKey, SmtpCounters, RawKeyLess> counters_;
  std::map<IpKey, std::string, std::less<>> provider_of_destination_;
  std::map<IpKey, bool, std::less<>> offered_starttls_;  // by MX address: the last EHLO's answer
  SourceHealth health_;
};

}  // namespace mx
