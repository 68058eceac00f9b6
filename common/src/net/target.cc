#include "mxegress/net/target.h"

#include <arpa/inet.h>

#include <algorithm>

namespace mx {

std::string Target::host() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (kind) {
    case Kind::IPv4:
      inet_ntop(AF_INET, ip.data(), buf, sizeof buf);
      return buf;
    case Kind::IPv6:
      inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
      return buf;
    case Kind::Domain:
      return domain;
  }
  return {};
}

std::string Target::to_string() const {
  const std::string h = host();
  if (kind == Kind::IPv6) return "[" + h + "]:" + std::to_string(port);
  return h + ":" + std::to_string(port);
}

Target Target::ipv4(std::array<uint8_t, 4> a, uint16_t port) {
  Target t;
  t.kind = Kind::IPv4;
  std::copy(a.begin(), a.end(), t.ip.begin());
  t.port = port;
  return t;
}

Target Target::ipv6(const std::array<uint8_t, 16>& a, uint16_t port) {
  Target t;
  t.kind = Kind::IPv6;
  t.ip = a;
  t.port = port;
  return t;
}

Target Target::domain_name(std::string name, uint16_t port) {
  Target t;
  t.kind = Kind::Domain;
  t.domain = std::move(name);
  t.port = port;
  return t;
}

}  // namespace mx
