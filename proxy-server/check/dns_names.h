// The DNS names and answers of the address checks, as pure functions: the
// reverse name of an address (PTR), the DNSBL query name, and what a DNSBL's
// answer says.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "check/dns_answer.h"
#include "mxegress/net/socket_address.h"

namespace mx::check {

// "4.3.2.1.in-addr.arpa" for 1.2.3.4; for IPv6 the 32 nibbles, lowest first,
// then "ip6.arpa" (RFC 3596 §2.5). "" for an unspecified address.
std::string reverse_name(const SocketAddress& address);

// The same labels under `zone` instead: "4.3.2.1.zen.test" (RFC 5782 §2.1,
// §2.4). A trailing dot of `zone` is dropped.
std::string dnsbl_query_name(const SocketAddress& address, std::string_view zone);

struct DnsblVerdict {
  enum class Status {
    NotListed,   // NXDOMAIN (or no A record)
    Listed,      // one or more 127.0.0.x answers
    Refused,     // 127.255.255.x: the list refuses to answer this resolver
    Unexpected,  // an A record outside 127.0.0.0/8: not a DNSBL answer
    Error,       // timeout, SERVFAIL...: nothing is known
  };
  Status status = Status::Error;
  std::vector<std::string> codes;  // the A records: "127.0.0.2"
};

// What the A answer to a DNSBL query name says.
DnsblVerdict dnsbl_verdict(const DnsAnswer& a_answer);

}  // namespace mx::check
