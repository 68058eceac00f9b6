#include "smtp/smtp_observations.h"

#include <arpa/inet.h>

#include "smtp/provider_map.h"

namespace mx {
namespace {

template <class Map, class Value>
void remember(Map& map, const IpKey& key, Value value, size_t cap) {
  auto it = map.find(key);
  if (it != map.end()) {
    if (it->second != value) it->second = std::move(value);
    return;
  }
  if (map.size() >= cap) map.clear();
  map.emplace(key, std::move(value));
}

}  // namespace

IpKey ip_key(const SocketAddress& address) {
  const auto bytes = address.ip_bytes();
  return IpKey(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string ip_key_text(std::string_view key) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (key.size() == 4 || key.size() == 16) {
    ::inet_ntop(key.size() == 4 ? AF_INET : AF_INET6, key.data(), text, sizeof text);
  }
  return text;
}

std::string SmtpObservations::provider_before_dial(const ProviderMap& providers,
                                                   std::string_view host_name,
                                                   const SocketAddress& destination) const {
  if (!host_name.empty()) {
    std::string provider = providers.provider_of(host_name);
    if (!provider.empty()) return provider;
  }
  const IpKey key = ip_key(destination);
  std::lock_guard lock(mutex_);
  auto it = provider_of_destination_.find(key);
  return it == provider_of_destination_.end() ? std::string() : it->second;
}

void SmtpObservations::learned(const SocketAddress& destination, const std::string& provider) {
  const IpKey key = ip_key(destination);
  std::lock_guard lock(mutex_);
  remember(provider_of_destination_, key, provider, kMaxDestinations);
}

ObservedSignals SmtpObservations::ended(const ObservedSession& session,
                                        const ProviderMap& providers,
                                        const SourceHealth::Settings& settings,
                                        SourceHealth::Clock::time_point now) {
  ObservedSignals signals;
  const smtp::SessionFacts& facts = session.facts;
  if (!facts.banner_code) return signals;
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
  const IpKey source = ip_key(session.source);
  const IpKey destination = ip_key(session.destination);
  {
    std::lock_guard lock(mutex_);
    if (!signals.provider.empty()) {
      remember(provider_of_destination_, destination, signals.provider, kMaxDestinations);
    }
    if (facts.starttls_offered) {
      auto before = offered_starttls_.find(destination);
      signals.downgrade =
          !*facts.starttls_offered && before != offered_starttls_.end() && before->second;
      remember(offered_starttls_, destination, *facts.starttls_offered, kMaxDestinations);
    }
    const std::string_view label =
        signals.provider.empty() ? std::string_view("unknown") : std::string_view(signals.provider);
    const RawKeyView wanted{session.tenant, source, label};
    auto it = counters_.find(wanted);
    if (it == counters_.end()) {
      RawKey key{std::string(session.tenant), source, std::string(label)};
      if (counters_.size() >= kMaxKeys) std::get<2>(key) = "other";
      it = counters_.try_emplace(std::move(key)).first;
    }
    SmtpCounters& c = it->second;
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
        health_.record(source, signals.provider, code, facts.banner_text, now, settings);
  } else {
    signals.provider = "unknown";
  }
  return signals;
}

std::vector<SourceHealth::Entry> SmtpObservations::suspects() const {
  std::vector<SourceHealth::Entry> entries = health_.entries();
  for (SourceHealth::Entry& entry : entries) entry.source = ip_key_text(entry.source);
  return entries;
}

void SmtpObservations::for_each(
    const std::function<void(const Key&, const SmtpCounters&)>& visit) const {
  std::vector<std::pair<Key, SmtpCounters>> rows;
  {
    std::lock_guard lock(mutex_);
    rows.reserve(counters_.size());
    for (const auto& [key, counters] : counters_) {
      rows.push_back({{std::get<0>(key), std::get<1>(key), std::get<2>(key)}, counters});
    }
  }
  for (auto& [key, counters] : rows) {
    std::get<1>(key) = ip_key_text(std::get<1>(key));
    visit(key, counters);
  }
}

}  // namespace mx
