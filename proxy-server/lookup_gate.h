// The caps on name lookups in flight ([resolver] max_lookups and
// max_lookups_per_tenant) for the whole server: its loop threads share one
// gate, so a cap holds for the process. A lookup that would go over either
// is refused before anything is asked, and the refusal is logged at warn,
// naming the tenant, the name and the cap: at most one line per cap every
// 10 s, saying how many more were left out. Refusals are counted
// (limit().refused()) for the metrics. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "mxegress/util/concurrency_limit.h"
#include "mxegress/util/log_rate_limit.h"

namespace mx {

class LookupGate {
 public:
  struct Caps {
    uint32_t total = 1024;      // in flight, every tenant together; 0 = unlimited
    uint32_t per_tenant = 256;  // in flight, one tenant; 0 = unlimited
  };
  struct Admission {
    ConcurrencyLimit::Slot slot;  // held until c-ares ends the query
    std::string refusal;  // why not ("max_lookups_per_tenant 256 reached"); empty when admitted
  };

  LookupGate();  // the default caps
  explicit LookupGate(Caps caps);
  void set_caps(Caps caps);  // a reload: lookups under way keep their slots

  Admission admit(const std::string& tenant, const std::string& name,
                  LogRateLimit::Clock::time_point now = LogRateLimit::Clock::now());
  const ConcurrencyLimit& limit() const { return limit_; }

 private:
  ConcurrencyLimit limit_;
  LogRateLimit total_log_;
  LogRateLimit tenant_log_;
};

}  // namespace mx
