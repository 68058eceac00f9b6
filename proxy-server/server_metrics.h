// The server's /metrics and /readyz (docs/metrics.md): what the loop threads
// count in SharedServerState, read at scrape time on the main loop, and the
// readiness rule. The counters themselves live where the work is counted:
// per tenant in TenantUsage (TenantMetrics), AUTH refusals in AuthRefusals,
// logins in PasswordChecker, connections before authentication in
// StartupGate, tunnels per loop in ServerRuntime.
#pragma once

#include <string>
#include <vector>

#include "mxegress/metrics/metrics_routes.h"

namespace mx {

struct SharedServerState;

// Process-wide gauges the runtime knows.
struct ServerGauges {
  size_t tunnels = 0;  // tunnel connections on the loops, authenticated or not
  size_t threads = 0;
  bool fleet = false;  // [fleet]: report the fleet's mode and size
};

std::string render_server_metrics(const SharedServerState& shared, const ServerGauges& gauges);

// Ready once every listener is up (`listening`), not while draining, and
// only while every tenant source address can be bound (the errors of
// check_server_environment: the first is the reason).
Readiness server_readiness(bool listening, bool draining,
                           const std::vector<std::string>& environment_errors);

}  // namespace mx
