#include "smtp/provider_learner.h"

#include "check/dns_names.h"
#include "mxegress/util/log.h"
#include "server_snapshot.h"
#include "smtp/provider_map.h"

namespace mx {
namespace {
constexpr const char* kLog = "smtp";
}

ProviderLearner::ProviderLearner(Loop& loop, SmtpObservations& observations, Snapshot snapshot)
    : loop_(loop), observations_(observations), snapshot_(std::move(snapshot)) {}

ProviderLearner::~ProviderLearner() = default;

void ProviderLearner::learn(const SocketAddress& destination) {
  MX_ASSERT_IN_LOOP(loop_);
  IpKey key = ip_key(destination);
  if (asked_.contains(key)) return;
  if (!dns_) {
    std::string err;
    dns_ = check::DnsClient::create(loop_, snapshot_()->config().resolver.settings, err);
    if (!dns_) {
      if (!broken_) MX_LOG(Warn, kLog) << "cannot look up MX names (PTR): " << err;
      broken_ = true;
      return;
    }
  }
  if (dns_->in_flight() >= kMaxInFlight) return;  // asked again by a later session
  if (asked_.size() >= kMaxAsked) asked_.clear();
  asked_.insert(std::move(key));
  const SocketAddress address = destination.unmapped();
  dns_->ask({check::QueryType::Ptr, check::reverse_name(address)},
            [this, address](check::DnsAnswer answer) { on_answer(address, answer); });
}

void ProviderLearner::on_answer(const SocketAddress& destination,
                                const check::DnsAnswer& answer) {
  if (!answer.ok()) {
    MX_LOG(Debug, kLog) << "no PTR name" << log_kv("mx", destination.ip_string())
                        << log_kv("answer", check::describe(answer.status));
    return;
  }
  const std::shared_ptr<const ServerSnapshot> snapshot = snapshot_();
  for (const std::string& name : answer.names) {
    std::string provider = snapshot->providers().provider_of(name);
    if (provider.empty()) continue;
    MX_LOG(Debug, kLog) << "provider from PTR" << log_kv("mx", destination.ip_string())
                        << log_kv("name", name) << log_kv("provider", provider);
    observations_.learned(destination, provider);
    return;
  }
}

}  // namespace mx
