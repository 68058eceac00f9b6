#include "smtp/smtp_observations.h"

#include "smtp/provider_map.h"

namespace mx {
namespace {

template <class Map, class Value>
void remember(Map& map, const std::string& key, Value value, size_t cap) {
  if (map.size() >= cap && !map.contains(key)) map.clear();
  map[key] = std::move(value);
}

}  // namespace

std::string SmtpObservations::provider_before_dial(const ProviderMap& providers,
                                                   const std::string& host_name,
                                                   const std::string& destination) const {
  if (!host_name.empty()) {
    std::string provider = providers.provider_of(host_name);
    if (!provider.empty()) return provider;
  }
  std::lock_guard lock(mutex_);
  auto it = provider_of_destination_.find(destination);
  return it == provider_of_destination_.end() ? std::string() : it->second;
}

ObservedSignals SmtpObservations::ended(const ObservedSession& session,
                                        const ProviderMap& providers,
                                        const SourceHealth::Settings& settings,
                                        SourceHealth::Clock::time_point now) {
  ObservedSignals signals;
  const smtp::SessionFacts& facts = *session.facts;
  if (!facts.banner_code) return signals;  // not an SMTP session, or it ended first
  signals.provider = session.provider;
  if (signals.provider.empty()) {
    if (auto host = ProviderMap::banner_host(facts.banner_text)) {
      signals.provider = providers.provider_of(*host);
    }
  }
  const int code = *facts.banner_code;
  const bool used = facts.starttls_sent && facts.starttls_reply && *facts.starttls_reply / 100 == 2;
  signals.starttls_unused = facts.starttls_offered.value_or(false) && !facts.starttls_sent &&
                            facts.stop == smtp::ObserverStop::MailFrom;
  {
    std::lock_guard lock(mutex_);
    if (!signals.provider.empty()) {
      remember(provider_of_destination_, session.destination, signals.provider, kMaxDestinations);
    }
    if (facts.starttls_offered) {
      auto before = offered_starttls_.find(session.destination);
      signals.downgrade =
          !*facts.starttls_offered && before != offered_starttls_.end() && before->second;
      remember(offered_starttls_, session.destination, *facts.starttls_offered, kMaxDestinations);
    }
    const std::string label = signals.provider.empty() ? "unknown" : signals.provider;
    Key key{session.tenant, session.source, label};
    if (counters_.size() >= kMaxKeys && !counters_.contains(key)) {
      std::get<2>(key) = "other";
    }
    SmtpCounters& c = counters_[key];
    ++c.sessions;
    if (code / 100 == 2) ++c.banner_2xx;
    if (code / 100 == 4) ++c.banner_4xx;
    if (code / 100 == 5) ++c.banner_5xx;
    if (facts.starttls_offered.value_or(false)) ++c.starttls_offered;
    if (used) ++c.starttls_used;
    if (signals.starttls_unused) ++c.starttls_unused;
    if (signals.downgrade) ++c.downgrades;
  }
  // Health is judged per provider: without one, a refusal says nothing
  // about where the address is unwelcome.
  if (!signals.provider.empty()) {
    signals.health =
        health_.record(session.source, signals.provider, code, facts.banner_text, now, settings);
  } else {
    signals.provider = "unknown";
  }
  return signals;
}

void SmtpObservations::for_each(
    const std::function<void(const Key&, const SmtpCounters&)>& visit) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, counters] : counters_) visit(key, counters);
}

}  // namespace mx
