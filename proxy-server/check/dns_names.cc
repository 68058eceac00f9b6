#include "check/dns_names.h"

#include <sys/socket.h>

namespace mx::check {
namespace {

std::string reversed_labels(const SocketAddress& address) {
  const auto bytes = address.ip_bytes();
  std::string name;
  if (address.family() == AF_INET) {
    for (size_t i = bytes.size(); i-- > 0;) {
      name += std::to_string(bytes[i]);
      name += '.';
    }
  } else if (address.family() == AF_INET6) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = bytes.size(); i-- > 0;) {
      name += kHex[bytes[i] & 0x0f];
      name += '.';
      name += kHex[bytes[i] >> 4];
      name += '.';
    }
  }
  return name;  // with a trailing dot, or empty
}

}  // namespace

std::string reverse_name(const SocketAddress& address) {
  std::string labels = reversed_labels(address);
  if (labels.empty()) return labels;
  return labels + (address.family() == AF_INET ? "in-addr.arpa" : "ip6.arpa");
}

std::string dnsbl_query_name(const SocketAddress& address, std::string_view zone) {
  std::string labels = reversed_labels(address);
  if (labels.empty()) return labels;
  if (!zone.empty() && zone.back() == '.') zone.remove_suffix(1);
  return labels + std::string(zone);
}

DnsblVerdict dnsbl_verdict(const DnsAnswer& a_answer) {
  DnsblVerdict verdict;
  if (a_answer.error()) return verdict;  // Error
  verdict.status = DnsblVerdict::Status::NotListed;
  bool listed = false;
  bool refused = false;
  bool unexpected = false;
  for (const SocketAddress& code : a_answer.addresses) {
    verdict.codes.push_back(code.ip_string());
    const auto b = code.ip_bytes();
    if (code.family() != AF_INET || b[0] != 127) {
      unexpected = true;
    } else if (b[1] == 255 && b[2] == 255) {
      refused = true;
    } else if (b[1] == 0 && b[2] == 0) {
      listed = true;
    } else {
      unexpected = true;
    }
  }
  if (unexpected) {
    verdict.status = DnsblVerdict::Status::Unexpected;
  } else if (refused) {
    verdict.status = DnsblVerdict::Status::Refused;
  } else if (listed) {
    verdict.status = DnsblVerdict::Status::Listed;
  }
  return verdict;
}

const char* describe(DnsAnswer::Status status) {
  switch (status) {
    case DnsAnswer::Status::Ok:
      return "ok";
    case DnsAnswer::Status::NoSuchName:
      return "no such name";
    case DnsAnswer::Status::NoData:
      return "no data";
    case DnsAnswer::Status::Timeout:
      return "timeout";
    case DnsAnswer::Status::Failed:
      return "failed";
  }
  return "failed";
}

const char* describe(QueryType type) {
  switch (type) {
    case QueryType::A:
      return "A";
    case QueryType::Aaaa:
      return "AAAA";
    case QueryType::Txt:
      return "TXT";
    case QueryType::Mx:
      return "MX";
    case QueryType::Ptr:
      return "PTR";
  }
  return "?";
}

}  // namespace mx::check
