// The filters of `mxegress-server trail` (docs/abuse-desk.md): which trail
// records answer a complaint's source, destination and time. Parsing a
// filter's text and matching a record; pure, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mxegress/net/socket_address.h"
#include "trail.h"

namespace mx {

struct AddressFilter {
  SocketAddress ip;  // port unused
  std::optional<uint16_t> port;
};

struct DestFilter {
  std::optional<SocketAddress> ip;  // set for an IP literal
  std::string name;                 // else a host name, normalized
  std::optional<uint16_t> port;
};

// --banner: a class ("5xx") or a code ("554") of the MX's greeting.
struct BannerFilter {
  int code = 0;        // exact code, or
  int kind = 0;        // its first digit with `code` 0
};

// A record matches when it matches every filter set.
struct TrailFilter {
  std::optional<std::string> tenant;
  std::optional<AddressFilter> source;
  std::optional<DestFilter> dest;
  // The time span a connection must overlap, in ms since the epoch.
  std::optional<int64_t> from_ms;
  std::optional<int64_t> to_ms;
  std::optional<std::string> provider;  // exact, as the trail writes it
  std::optional<BannerFilter> banner;   // records without a banner never match
};

int64_t saturating_add(int64_t a, int64_t b);

// --source: IP or IP:PORT ("203.0.113.10", "[2001:db8::10]:40312").
std::optional<AddressFilter> parse_address_filter(std::string_view text);
// --dest: an IP or a host name, with an optional :PORT.
std::optional<DestFilter> parse_dest_filter(std::string_view text);
// TIME: RFC 3339, or a date alone meaning its midnight UTC; ms since the epoch.
std::optional<int64_t> parse_time_arg(std::string_view text);

// --banner: "2xx", "4xx", "5xx" or a code 200..599.
std::optional<BannerFilter> parse_banner_filter(std::string_view text);

bool matches(const TrailFilter& filter, const TrailRecord& record);

}  // namespace mx
