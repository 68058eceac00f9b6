#include "smtp/smtp_session_watch.h"

#include "mxegress/util/log.h"
#include "smtp/provider_learner.h"
#include "smtp/provider_map.h"

namespace mx {
namespace {
constexpr const char* kLog = "smtp";
}

SmtpSessionWatch::SmtpSessionWatch(SmtpObservations& observations, ProviderLearner* learner,
                                   const ProviderMap& providers, const SmtpConfig& config,
                                   const ServerConfig::Tenant& tenant, const Target& target)
    : observations_(observations),
      learner_(learner),
      providers_(providers),
      config_(config),
      tenant_(tenant),
      host_name_(target.kind == Target::Kind::Domain ? target.domain : std::string()) {}

const std::string& SmtpSessionWatch::provider_for(const SocketAddress& destination) {
  if (!provider_of_ || !(*provider_of_ == destination)) {
    provider_of_ = destination;
    provider_ = observations_.provider_before_dial(providers_, host_name_, destination);
    // Not known yet: find it in the background, for this session's end
    // (asked again there) and the next sessions.
    if (provider_.empty() && learner_ != nullptr) learner_->learn(destination);
  }
  return provider_;
}

bool SmtpSessionWatch::avoid(const SocketAddress& source, const SocketAddress& destination) {
  if (!avoiding()) return false;
  const std::string& provider = provider_for(destination);
  return !provider.empty() &&
         observations_.health().avoid(ip_key(source), provider, SourceHealth::Clock::now());
}

void SmtpSessionWatch::leaving_from(const SocketAddress& source,
                                    const SocketAddress& destination) {
  // Asked for every tenant: an unknown provider is looked up from here.
  const std::string& provider = provider_for(destination);
  if (!avoiding() || provider.empty()) return;
  observations_.health().leaving_from(ip_key(source), provider, SourceHealth::Clock::now());
}

std::optional<TrailSmtp> SmtpSessionWatch::ended(const std::optional<SocketAddress>& source,
                                                 const std::optional<SocketAddress>& destination) {
  const smtp::SessionFacts& facts = observer_.facts();
  if (!facts.banner_code || !source || !destination) return std::nullopt;
  if (provider_of_ && *provider_of_ == *destination && provider_.empty()) {
    provider_of_.reset();  // the PTR lookup may have answered meanwhile
  }
  const ObservedSession session{tenant_.name, *source, *destination, provider_for(*destination),
                                facts};
  const ObservedSignals signals = observations_.ended(
      session, providers_, SourceHealth::settings_of(config_), SourceHealth::Clock::now());
  TrailSmtp fields;
  fields.provider = signals.provider;
  fields.banner = *facts.banner_code;
  fields.starttls_offered = facts.starttls_offered;
  fields.starttls_used =
      facts.starttls_sent && facts.starttls_reply && *facts.starttls_reply / 100 == 2;

  const auto& health = signals.health;
  if (health.change == SourceHealth::Change::BecameSuspect) {
    MX_LOG(Warn, kLog) << "source address suspect" << log_kv("source", source->ip_string())
                       << log_kv("provider", signals.provider) << log_kv("tenant", tenant_.name)
                       << log_kv("refused", health.refused) << log_kv("sessions", health.sessions)
                       << log_kv("example", std::to_string(fields.banner) + " " +
                                                facts.banner_text);
  } else if (health.change == SourceHealth::Change::Recovered) {
    MX_LOG(Info, kLog) << "source address no longer suspect"
                       << log_kv("source", source->ip_string())
                       << log_kv("provider", signals.provider)
                       << log_kv("refused", health.refused) << log_kv("sessions", health.sessions);
  }
  if (signals.downgrade) {
    MX_LOG(Warn, kLog) << "MX no longer offers STARTTLS" << log_kv("mx", destination->ip_string())
                       << log_kv("provider", signals.provider) << log_kv("tenant", tenant_.name)
                       << log_kv("source", source->ip_string());
  }
  if (signals.starttls_unused) {
    MX_LOG(Info, kLog) << "STARTTLS offered but not used" << log_kv("tenant", tenant_.name)
                       << log_kv("mx", destination->ip_string())
                       << log_kv("provider", signals.provider)
                       << log_kv("source", source->ip_string());
  }
  return fields;
}

}  // namespace mx
