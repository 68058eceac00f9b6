// The HTTP/1.x request head parser: whole heads, heads in pieces, the size
// cap, and malformed input, each with the status to answer.
#include "mxegress/metrics/http_request.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using Status = HttpParse::Status;

TEST(HttpRequest, ParsesAWholeHead) {
  const std::string head =
      "GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9125\r\nAccept:  text/plain \r\n\r\n";
  const HttpParse parse = parse_http_request_head(head + "body");
  ASSERT_EQ(parse.status, Status::Done) << parse.error;
  EXPECT_EQ(parse.consumed, head.size());
  EXPECT_EQ(parse.request.method, "GET");
  EXPECT_EQ(parse.request.target, "/metrics?x=1");
  EXPECT_EQ(parse.request.path(), "/metrics");
  EXPECT_EQ(parse.request.minor_version, 1);
  ASSERT_EQ(parse.request.headers.size(), 2u);
  EXPECT_EQ(parse.request.headers[0],
            (std::pair<std::string, std::string>{"Host", "127.0.0.1:9125"}));
  EXPECT_EQ(parse.request.headers[1].second, "text/plain");
}

TEST(HttpRequest, TakesBareLineFeedsAndHttp10WithoutHeaders) {
  const HttpParse parse = parse_http_request_head("HEAD /healthz HTTP/1.0\n\n");
  ASSERT_EQ(parse.status, Status::Done) << parse.error;
  EXPECT_EQ(parse.request.method, "HEAD");
  EXPECT_EQ(parse.request.minor_version, 0);
  EXPECT_TRUE(parse.request.headers.empty());
}

TEST(HttpRequest, NeedsMoreUntilTheEmptyLine) {
  const std::string head = "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t n = 1; n < head.size(); ++n) {
    const HttpParse parse = parse_http_request_head(head.substr(0, n));
    EXPECT_EQ(parse.status, Status::NeedMore) << n << ": " << parse.error;
  }
  EXPECT_EQ(parse_http_request_head(head).status, Status::Done);
  EXPECT_EQ(parse_http_request_head("").status, Status::NeedMore);
}

TEST(HttpRequest, AHeadOverTheCapIs431) {
  std::string head = "GET / HTTP/1.1\r\nX: " + std::string(200, 'a');
  HttpParse parse = parse_http_request_head(head, 100);
  EXPECT_EQ(parse.status, Status::Error);
  EXPECT_EQ(parse.error_status, 431);
  // Complete, but ending beyond the cap: still too large.
  parse = parse_http_request_head(head + "\r\n\r\n", 100);
  EXPECT_EQ(parse.error_status, 431);
  // Within the cap it is fine.
  EXPECT_EQ(parse_http_request_head(head + "\r\n\r\n", 1000).status, Status::Done);
  std::string many = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i <= kMaxHttpHeaders; ++i) many += "X-" + std::to_string(i) + ": y\r\n";
  parse = parse_http_request_head(many + "\r\n");
  EXPECT_EQ(parse.error_status, 431) << parse.error;
}

TEST(HttpRequest, MalformedIs400) {
  for (const std::string bad : {
           "\r\n\r\n",                               // no request line
           "GET\r\n\r\n",                            // no target
           "GET /\r\n\r\n",                          // no version
           "GET  / HTTP/1.1\r\n\r\n",                // two spaces
           "GET metrics HTTP/1.1\r\n\r\n",           // not origin-form
           "GET /a\x01 HTTP/1.1\r\n\r\n",            // control character in the target
           "G(T / HTTP/1.1\r\n\r\n",                 // not a token
           "GET / HTTP/1.1x\r\n\r\n",                // bad version
           "GET / FTP/1.1\r\n\r\n",                  // not HTTP
           "GET / HTTP/1.1\r\nNo colon\r\n\r\n",     // header without a colon
           "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",  // space in a field name
           "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",   // obs-fold
           "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",     // DEL in a value
           "GET / HTTP/1.1\rX: a\r\n\r\n",           // bare CR
       }) {
    const HttpParse parse = parse_http_request_head(bad);
    EXPECT_EQ(parse.status, Status::Error) << bad;
    EXPECT_EQ(parse.error_status, 400) << bad;
  }
}

TEST(HttpRequest, GarbageIsRefusedBeforeItsEnd) {
  // A TLS ClientHello to the HTTP port: no need to wait for a line end.
  const HttpParse parse = parse_http_request_head(std::string("\x16\x03\x01\x02\x00", 5));
  EXPECT_EQ(parse.status, Status::Error);
  EXPECT_EQ(parse.error_status, 400);
}

TEST(HttpRequest, OtherHttpVersionsAre505) {
  const HttpParse parse = parse_http_request_head("GET / HTTP/2.0\r\n\r\n");
  EXPECT_EQ(parse.status, Status::Error);
  EXPECT_EQ(parse.error_status, 505);
}

}  // namespace
}  // namespace mx
