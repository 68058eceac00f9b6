#include "smtp/smtp_session_watch.h"

#include "mxegress/util/log.h"
#include "smtp/provider_map.h"
#include "trail.h"

namespace mx {
namespace {
constexpr const char* kLog = "smtp";
}

SmtpSessionWatch::SmtpSessionWatch(SmtpObservations& observations, const ProviderMap& providers,
                                   const SmtpConfig& config, const ServerConfig::Tenant& tenant,
                                   const Target& target)
    : observations_(observations),
      providers_(providers),
      config_(config),
      tenant_(tenant),
      host_name_(target.kind == Target::Kind::Domain ? target.domain : std::string()) {}

void SmtpSessionWatch::learn_provider(const SocketAddress& destination) {
  if (provider_of_ && *provider_of_ == destination) return;
  provider_of_ = destination;
  provider_ = observations_.provider_before_dial(providers_, host_name_, destination.ip_string());
}

bool SmtpSessionWatch::avoid(const SocketAddress& source, const SocketAddress& destination) {
  if (tenant_.on_suspect != ServerConfig::OnSuspect::Avoid) return false;
  learn_provider(destination);
  return !provider_.empty() && observations_.health().avoid(source.ip_string(), provider_,
                                                            SourceHealth::Clock::now());
}

void SmtpSessionWatch::leaving_from(const SocketAddress& source,
                                    const SocketAddress& destination) {
  learn_provider(destination);
  if (tenant_.on_suspect != ServerConfig::OnSuspect::Avoid || provider_.empty()) return;
  observations_.health().leaving_from(source.ip_string(), provider_, SourceHealth::Clock::now());
}

void SmtpSessionWatch::ended(const std::string& tenant, const std::optional<SocketAddress>& source,
                             const std::optional<SocketAddress>& destination,
                             TrailRecord& record) {
  const smtp::SessionFacts& facts = observer_.facts();
  if (!facts.banner_code || !source || !destination) return;
  learn_provider(*destination);
  ObservedSession session{tenant, source->ip_string(), destination->ip_string(), provider_, &facts};
  const ObservedSignals signals = observations_.ended(
      session, providers_, SourceHealth::settings_of(config_), SourceHealth::Clock::now());
  record.provider = signals.provider;
  record.smtp_banner = facts.banner_code;
  record.starttls_offered = facts.starttls_offered;
  record.starttls_used = facts.starttls_sent && facts.starttls_reply &&
                         *facts.starttls_reply / 100 == 2;

  const auto& health = signals.health;
  if (health.change == SourceHealth::Change::BecameSuspect) {
    MX_LOG(Warn, kLog) << "source address suspect" << log_kv("source", session.source)
                       << log_kv("provider", signals.provider) << log_kv("tenant", tenant)
                       << log_kv("refused", health.refused) << log_kv("sessions", health.sessions)
                       << log_kv("example", std::to_string(*facts.banner_code) + " " +
                                                facts.banner_text);
  } else if (health.change == SourceHealth::Change::Recovered) {
    MX_LOG(Info, kLog) << "source address no longer suspect" << log_kv("source", session.source)
                       << log_kv("provider", signals.provider)
                       << log_kv("refused", health.refused) << log_kv("sessions", health.sessions);
  }
  if (signals.downgrade) {
    MX_LOG(Warn, kLog) << "MX no longer offers STARTTLS" << log_kv("mx", session.destination)
                       << log_kv("provider", signals.provider) << log_kv("tenant", tenant)
                       << log_kv("source", session.source);
  }
  if (signals.starttls_unused) {
    MX_LOG(Info, kLog) << "STARTTLS offered but not used" << log_kv("tenant", tenant)
                       << log_kv("mx", session.destination) << log_kv("provider", signals.provider)
                       << log_kv("source", session.source);
  }
}

}  // namespace mx
