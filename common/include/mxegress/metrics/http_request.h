// An HTTP/1.x request head parser, sans I/O (the picohttpparser shape, like
// codec/socks5): give it everything buffered so far; it answers NeedMore,
// Done (method, target, version, headers; `consumed` = the head's length),
// or Error with the status to answer (400 malformed, 431 head over the cap,
// 505 not HTTP/1.x). Lines end in CRLF or a bare LF (RFC 9112 2.2). Only the
// head is read: the metrics endpoints take no body, and every response
// closes the connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mx {

struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // "/metrics?x=1": origin-form, as sent
  int minor_version = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent, values trimmed

  std::string_view path() const;  // the target without its query
};

struct HttpParse {
  enum class Status { NeedMore, Done, Error };
  Status status = Status::NeedMore;
  size_t consumed = 0;
  HttpRequest request;
  int error_status = 0;  // 400, 431 or 505 on Error
  std::string error;     // why, for a debug log line
};

inline constexpr size_t kMaxHttpHead = 8 * 1024;
inline constexpr size_t kMaxHttpHeaders = 64;

HttpParse parse_http_request_head(std::string_view buffered, size_t max_head = kMaxHttpHead);

}  // namespace mx
