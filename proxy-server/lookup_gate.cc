#include "lookup_gate.h"

#include "mxegress/util/log.h"

namespace mx {

LookupGate::LookupGate() : LookupGate(Caps{}) {}

LookupGate::LookupGate(Caps caps) : limit_({caps.total, caps.per_tenant}) {}

void LookupGate::set_caps(Caps caps) { limit_.set_caps({caps.total, caps.per_tenant}); }

LookupGate::Admission LookupGate::admit(const std::string& tenant, const std::string& name,
                                        LogRateLimit::Clock::time_point now) {
  ConcurrencyLimit::Grant grant = limit_.acquire(tenant);
  Admission admission;
  if (grant.slot) {
    admission.slot = std::move(grant.slot);
    return admission;
  }
  const ConcurrencyLimit::Caps caps = limit_.caps();
  const bool total = grant.refusal == ConcurrencyLimit::Refusal::Total;
  const std::string cap = total ? "max_lookups" : "max_lookups_per_tenant";
  const size_t value = total ? caps.total : caps.per_key;
  admission.refusal = cap + " " + std::to_string(value) + " reached";
  if (auto left_out = (total ? total_log_ : tenant_log_).admit(now)) {
    MX_LOG(Warn, "resolver") << "refused lookup" << log_kv("tenant", tenant)
                             << log_kv("name", name) << log_kv("cap", cap)
                             << log_kv("limit", value)
                             << log_kv("in_flight",
                                       total ? limit_.in_flight() : limit_.in_flight(tenant))
                             << log_kv("reply", 1) << left_out_note(*left_out);
  }
  return admission;
}

}  // namespace mx
