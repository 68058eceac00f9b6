#include "tenant_metrics.h"

namespace mx {

std::string_view tenant_limit_label(TenantLimit limit) {
  switch (limit) {
    case TenantLimit::MaxConnections:
      return "max_connections";
    case TenantLimit::ConnectionsPerMinute:
      return "connections_per_minute";
    case TenantLimit::MaxPerDestination:
      return "max_per_destination";
    case TenantLimit::BytesPerDay:
      return "bytes_per_day";
    case TenantLimit::MaxLookups:
      return "max_lookups";
    case TenantLimit::MaxLookupsPerTenant:
      return "max_lookups_per_tenant";
    case TenantLimit::Trail:
      return "trail";
    case TenantLimit::Warmup:
      return "warmup";
  }
  return "max_connections";
}

std::optional<TenantLimit> tenant_limit_of(std::string_view refusal) {
  constexpr std::string_view kLookup = "lookup refused: ";
  if (refusal.starts_with(kLookup)) refusal.remove_prefix(kLookup.size());
  const std::string_view key = refusal.substr(0, refusal.find(' '));
  for (size_t i = 0; i < kTenantLimits; ++i) {
    const auto limit = static_cast<TenantLimit>(i);
    if (key == tenant_limit_label(limit)) return limit;
  }
  return std::nullopt;
}

}  // namespace mx
