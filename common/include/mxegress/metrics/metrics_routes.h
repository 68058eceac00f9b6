// What the metrics listener answers, sans I/O: a parsed request and the
// program's endpoints in, the response out.
//
//   GET /metrics  200, the Prometheus text (PrometheusText)
//   GET /healthz  200 "ok": the process runs its loop (it answered)
//   GET /readyz   200 "ready", or 503 and a one-line reason
//   anything else 404; a method other than GET or HEAD on these paths 405
#pragma once

#include <functional>
#include <string>

#include "mxegress/metrics/http_request.h"
#include "mxegress/metrics/http_response.h"

namespace mx {

struct Readiness {
  bool ready = false;
  std::string reason;  // one line, why not (empty when ready)
};

struct MetricsEndpoints {
  std::function<std::string()> metrics;  // the exposition text
  std::function<Readiness()> ready;
};

HttpResponse route_metrics_request(const HttpRequest& request, const MetricsEndpoints& endpoints);

}  // namespace mx
