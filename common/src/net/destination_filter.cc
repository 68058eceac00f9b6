#include "mxegress/net/destination_filter.h"

#include <span>
#include <string_view>

namespace mx {
namespace {

struct DeniedRange {
  Cidr cidr;
  std::string_view what;
};

std::vector<DeniedRange> make_ranges(
    std::initializer_list<std::pair<std::string_view, std::string_view>> entries) {
  std::vector<DeniedRange> ranges;
  for (const auto& [cidr, what] : entries) ranges.push_back({*Cidr::parse(cidr), what});
  return ranges;
}

// More specific ranges come first, so the reason names the narrowest one.
const std::vector<DeniedRange>& built_in_ranges() {
  static const std::vector<DeniedRange> ranges = make_ranges({
      {"0.0.0.0/8", "this network"},
      {"10.0.0.0/8", "private"},
      {"100.64.0.0/10", "shared address space (CGNAT)"},
      {"127.0.0.0/8", "loopback"},
      {"169.254.169.254/32", "cloud metadata service"},
      {"169.254.0.0/16", "link-local"},
      {"172.16.0.0/12", "private"},
      {"192.0.0.0/24", "IETF protocol assignments"},
      {"192.0.2.0/24", "documentation"},
      {"192.168.0.0/16", "private"},
      {"198.18.0.0/15", "benchmarking"},
      {"198.51.100.0/24", "documentation"},
      {"203.0.113.0/24", "documentation"},
      {"224.0.0.0/4", "multicast"},
      {"255.255.255.255/32", "broadcast"},
      {"240.0.0.0/4", "reserved"},
      {"::/128", "unspecified"},
      {"::1/128", "loopback"},
      {"::/96", "IPv4-compatible (deprecated)"},
      {"64:ff9b:1::/48", "local-use NAT64"},
      {"100::/64", "discard-only"},
      {"2001:db8::/32", "documentation"},
      {"2001::/23", "IETF protocol assignments"},
      {"2002::/16", "6to4"},
      {"fc00::/7", "unique-local"},
      {"fe80::/10", "link-local"},
      {"fec0::/10", "site-local (deprecated)"},
      {"ff00::/8", "multicast"},
  });
  return ranges;
}

const Cidr& nat64_prefix() {
  static const Cidr prefix = *Cidr::parse("64:ff9b::/96");
  return prefix;
}

// Only 2000::/3 holds routable unicast; the named ranges above explain the
// common cases, this catches the rest.
const Cidr& global_unicast() {
  static const Cidr prefix = *Cidr::parse("2000::/3");
  return prefix;
}

std::optional<SocketAddress> nat64_embedded(const SocketAddress& address) {
  if (!nat64_prefix().contains(address)) return std::nullopt;
  return SocketAddress::ipv4(address.ip_bytes().subspan<12, 4>(), address.port());
}

const Cidr* first_match(const std::vector<Cidr>& cidrs, const SocketAddress& address) {
  for (const Cidr& cidr : cidrs) {
    if (cidr.contains(address)) return &cidr;
  }
  return nullptr;
}

std::optional<std::string> built_in_reason(const SocketAddress& address) {
  for (const DeniedRange& range : built_in_ranges()) {
    if (range.cidr.contains(address)) {
      return std::string(range.what) + " (" + range.cidr.to_string() + ")";
    }
  }
  if (address.family() == AF_INET6 && !global_unicast().contains(address)) {
    return "not global unicast (outside " + global_unicast().to_string() + ")";
  }
  return std::nullopt;
}

}  // namespace

DestinationFilter::DestinationFilter(std::vector<Cidr> extra_deny, std::vector<Cidr> allow)
    : extra_deny_(std::move(extra_deny)), allow_(std::move(allow)) {}

std::optional<std::string> DestinationFilter::denied_reason(const SocketAddress& address) const {
  const SocketAddress direct = address.unmapped();
  const std::optional<SocketAddress> via_nat64 = nat64_embedded(direct);

  for (const SocketAddress* candidate : {&direct, via_nat64 ? &*via_nat64 : nullptr}) {
    if (!candidate) continue;
    if (const Cidr* cidr = first_match(extra_deny_, *candidate)) {
      return "denied by policy (" + cidr->to_string() + ")";
    }
  }
  if (first_match(allow_, direct) || (via_nat64 && first_match(allow_, *via_nat64))) {
    return std::nullopt;
  }
  if (via_nat64) {
    if (auto reason = built_in_reason(*via_nat64)) {
      return *reason + " via NAT64 (" + nat64_prefix().to_string() + ")";
    }
    return std::nullopt;
  }
  return built_in_reason(direct);
}

}  // namespace mx
