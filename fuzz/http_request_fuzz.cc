// Feeds arbitrary bytes to the metrics listener's HTTP request head parser,
// with the default cap and a small one. Besides not crashing: NeedMore only
// below the cap, Done with a head of at most the cap whose target starts with
// '/' and whose method is non-empty, a shorter prefix of a Done head never
// Done (checked for one byte less and for half), Error with a status of 400, 431
// or 505 and a reason; and the response to it encodes.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mxegress/metrics/http_request.h"
#include "mxegress/metrics/http_response.h"
#include "mxegress/metrics/metrics_routes.h"

namespace {

using namespace mx;

void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "http_request invariant broken: %s\n", what);
  std::abort();
}

void check(std::string_view in, size_t cap) {
  const HttpParse parse = parse_http_request_head(in, cap);
  switch (parse.status) {
    case HttpParse::Status::NeedMore:
      require(in.size() < cap, "NeedMore at or beyond the cap");
      return;
    case HttpParse::Status::Error:
      require(parse.error_status == 400 || parse.error_status == 431 || parse.error_status == 505,
              "an Error status other than 400, 431, 505");
      require(!parse.error.empty(), "Error without a reason");
      return;
    case HttpParse::Status::Done:
      break;
  }
  require(parse.consumed > 0 && parse.consumed <= cap && parse.consumed <= in.size(),
          "Done with a length out of range");
  require(!parse.request.method.empty(), "Done without a method");
  require(!parse.request.target.empty() && parse.request.target[0] == '/',
          "Done with a target not in origin-form");
  require(parse.request.path().size() <= parse.request.target.size(), "path longer than target");
  for (const size_t n : {parse.consumed - 1, parse.consumed / 2}) {
    require(parse_http_request_head(in.substr(0, n), cap).status != HttpParse::Status::Done,
            "a prefix of the head is Done");
  }
  const MetricsEndpoints endpoints{[] { return std::string("x 1\n"); },
                                   [] {
                                     return Readiness{false, "fuzz"};
                                   }};
  const HttpResponse response = route_metrics_request(parse.request, endpoints);
  require(!encode_http_response(response).empty(), "empty response");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check(in, kMaxHttpHead);
  check(in, 64);
  return 0;
}
