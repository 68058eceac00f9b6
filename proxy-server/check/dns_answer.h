// What `mxegress-server check` asks DNS and what it gets back, without any
// I/O: the SPF evaluator (spf_check.h) names the queries it needs in these
// terms and is fed the answers; the runner (source_check.h) makes them with
// c-ares.
#pragma once

#include <string>
#include <vector>

#include "mxegress/net/socket_address.h"

namespace mx::check {

enum class QueryType { A, Aaaa, Txt, Mx, Ptr };

struct DnsQuery {
  QueryType type = QueryType::A;
  std::string name;  // lower case, no trailing dot

  bool operator==(const DnsQuery&) const = default;
  auto operator<=>(const DnsQuery&) const = default;
};

struct DnsAnswer {
  enum class Status {
    Ok,          // at least one record of the type asked
    NoSuchName,  // NXDOMAIN
    NoData,      // the name exists, no record of the type
    Timeout,     // no answer within the resolver's timeout
    Failed,      // SERVFAIL, REFUSED, unreachable servers, a malformed answer
  };
  Status status = Status::Failed;
  std::vector<SocketAddress> addresses;  // A, AAAA (port 0)
  std::vector<std::string> texts;        // TXT: the strings of each record joined
  std::vector<std::string> names;        // MX exchanges (by preference), PTR names

  bool ok() const { return status == Status::Ok; }
  bool void_lookup() const {
    return status == Status::NoSuchName || status == Status::NoData ||
           (status == Status::Ok && addresses.empty() && texts.empty() && names.empty());
  }
  bool error() const { return status == Status::Timeout || status == Status::Failed; }
};

// "ok", "no such name", "no data", "timeout", "failed".
const char* describe(DnsAnswer::Status status);
const char* describe(QueryType type);  // "A", "AAAA", "TXT", "MX", "PTR"

}  // namespace mx::check
