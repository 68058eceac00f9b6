// An HTTP/1.1 response, sans I/O: status, content type, extra headers and
// body in, the bytes out. Every response says `Connection: close` and its
// Content-Length: the metrics listener answers one request per connection.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mx {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Allow
  std::string body;
};

// "OK", "Not Found", ...; "Unknown" for a status this file does not name.
std::string_view http_reason(int status);

// A plain-text response whose body is `text` and a newline.
HttpResponse text_response(int status, std::string_view text);

// The bytes on the wire; a response to HEAD has the same head and no body.
std::string encode_http_response(const HttpResponse& response, bool head_only = false);

}  // namespace mx
