#include "mxegress/metrics/metrics_routes.h"

#include "mxegress/metrics/prometheus_text.h"

namespace mx {

HttpResponse route_metrics_request(const HttpRequest& request, const MetricsEndpoints& endpoints) {
  const std::string_view path = request.path();
  if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
    return text_response(404, "not found: try /metrics, /healthz or /readyz");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse response = text_response(405, "method not allowed: GET only");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  if (path == "/healthz") return text_response(200, "ok");
  if (path == "/readyz") {
    Readiness readiness = endpoints.ready ? endpoints.ready() : Readiness{true, {}};
    if (readiness.ready) return text_response(200, "ready");
    // One line, whatever the reason says.
    for (char& c : readiness.reason) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return text_response(503, "not ready: " + readiness.reason);
  }
  HttpResponse response;
  response.content_type = std::string(kPrometheusContentType);
  if (endpoints.metrics) response.body = endpoints.metrics();
  return response;
}

}  // namespace mx
