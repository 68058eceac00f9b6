// What the metrics listener answers for each path and method, and the
// bytes of a response.
#include "mxegress/metrics/metrics_routes.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

HttpRequest request(std::string method, std::string target) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  return r;
}

MetricsEndpoints endpoints(Readiness readiness) {
  return {[] { return std::string("mxegress_x 1\n"); }, [readiness] { return readiness; }};
}

TEST(MetricsRoutes, MetricsIsTheExpositionText) {
  const HttpResponse r = route_metrics_request(request("GET", "/metrics"), endpoints({true, {}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "mxegress_x 1\n");
  EXPECT_EQ(
      route_metrics_request(request("GET", "/metrics?name[]=x"), endpoints({true, {}})).status,
      200);
}

TEST(MetricsRoutes, HealthzAndReadyz) {
  EXPECT_EQ(route_metrics_request(request("GET", "/healthz"), endpoints({false, "x"})).body,
            "ok\n");
  const HttpResponse ready =
      route_metrics_request(request("GET", "/readyz"), endpoints({true, {}}));
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
  const HttpResponse not_ready = route_metrics_request(
      request("GET", "/readyz"), endpoints({false, "no server is up:\na down"}));
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.body, "not ready: no server is up: a down\n") << "one line";
}

TEST(MetricsRoutes, OtherPathsAre404AndOtherMethods405) {
  EXPECT_EQ(route_metrics_request(request("GET", "/"), endpoints({true, {}})).status, 404);
  EXPECT_EQ(route_metrics_request(request("GET", "/metrics/x"), endpoints({true, {}})).status, 404);
  EXPECT_EQ(route_metrics_request(request("POST", "/x"), endpoints({true, {}})).status, 404);
  const HttpResponse post =
      route_metrics_request(request("POST", "/metrics"), endpoints({true, {}}));
  EXPECT_EQ(post.status, 405);
  ASSERT_EQ(post.headers.size(), 1u);
  EXPECT_EQ(post.headers[0].first, "Allow");
  EXPECT_EQ(route_metrics_request(request("HEAD", "/readyz"), endpoints({true, {}})).status, 200);
}

TEST(HttpResponse, EncodesWithLengthAndClose) {
  HttpResponse r = text_response(404, "nope");
  EXPECT_EQ(encode_http_response(r),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 5\r\nConnection: close\r\n\r\nnope\n");
  r.headers.emplace_back("Allow", "GET, HEAD");
  EXPECT_EQ(encode_http_response(r, true),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 5\r\nConnection: close\r\nAllow: GET, HEAD\r\n\r\n");
}

}  // namespace
}  // namespace mx
