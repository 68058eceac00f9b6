#include "mxegress/metrics/http_request.h"

#include <algorithm>

namespace mx {
namespace {

// RFC 9110 5.6.2: tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// Visible ASCII, no space: what a request target may hold.
bool is_target(std::string_view s) {
  if (s.empty() || s.front() != '/') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Field values: visible characters, space and tab, and obs-text (0x80..0xff).
bool is_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

HttpParse error(int status, std::string why) {
  HttpParse result;
  result.status = HttpParse::Status::Error;
  result.error_status = status;
  result.error = std::move(why);
  return result;
}

// The head's end: the index just after the empty line, or npos.
size_t head_end(std::string_view buffered) {
  for (size_t i = 0; i < buffered.size(); ++i) {
    if (buffered[i] != '\n') continue;
    if (i + 1 < buffered.size() && buffered[i + 1] == '\n') return i + 2;
    if (i + 2 < buffered.size() && buffered[i + 1] == '\r' && buffered[i + 2] == '\n') {
      return i + 3;
    }
  }
  return std::string_view::npos;
}

}  // namespace

std::string_view HttpRequest::path() const {
  const std::string_view target_view(target);
  return target_view.substr(0, target_view.find('?'));
}

HttpParse parse_http_request_head(std::string_view buffered, size_t max_head) {
  const size_t end = head_end(buffered.substr(0, std::min(buffered.size(), max_head)));
  if (end == std::string_view::npos) {
    if (buffered.size() >= max_head) {
      return error(431, "request head over " + std::to_string(max_head) + " bytes");
    }
    // A request line cannot start with a control character or space: say
    // so now rather than wait for the rest of a stream of garbage.
    if (!buffered.empty() && !is_tchar(buffered.front())) {
      return error(400, "not an HTTP request");
    }
    return {};
  }

  HttpParse result;
  std::string_view head = buffered.substr(0, end);
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    const size_t lf = head.find('\n');
    std::string_view line = head.substr(0, lf);
    head.remove_prefix(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return error(400, "bare CR in the head");
    lines.push_back(line);
  }
  // The last line is the empty one that ends the head.
  lines.pop_back();
  if (lines.empty()) return error(400, "empty request line");

  // request-line = method SP request-target SP HTTP-version
  const std::string_view request_line = lines.front();
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return error(400, "malformed request line");
  const std::string_view method = request_line.substr(0, sp1);
  const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = request_line.substr(sp2 + 1);
  if (!is_token(method)) return error(400, "malformed method");
  if (!is_target(target)) return error(400, "malformed request target");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return error(400, "malformed HTTP version");
  }
  if (version[5] != '1') return error(505, "HTTP version " + std::string(version.substr(5)));
  result.request.method = std::string(method);
  result.request.target = std::string(target);
  result.request.minor_version = version[7] - '0';

  if (lines.size() - 1 > kMaxHttpHeaders) return error(431, "too many header fields");
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.front() == ' ' || line.front() == '\t') return error(400, "obsolete line folding");
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return error(400, "header field without a colon");
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return error(400, "malformed header field name");
    const std::string_view value = trim(line.substr(colon + 1));
    if (!is_field_value(value)) return error(400, "control character in a header field value");
    result.request.headers.emplace_back(std::string(name), std::string(value));
  }
  result.status = HttpParse::Status::Done;
  result.consumed = end;
  return result;
}

}  // namespace mx
