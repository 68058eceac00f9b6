// SPF (proxy-server/check/spf_record.h, spf_macro.h, spf_check.h): arbitrary
// bytes as the SPF record of every domain, evaluated by check_host over a
// DNS where every TXT query gets that record (so include: and redirect= lead
// back into it), every A/AAAA query an address, every MX query two hosts and
// every PTR query one name. Besides not crashing: the evaluation ends, within
// the 10-lookup limit's worth of queries; a record that parses yields a
// verdict whose mechanism (when set) is one of its terms or an included
// record's; describe() never throws.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "check/spf_check.h"
#include "check/spf_record.h"

namespace {

using namespace mx::check;

void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "spf invariant broken: %s\n", what);
  std::abort();
}

DnsAnswer answer_for(const DnsQuery& q, const std::string& record, bool v4) {
  DnsAnswer a;
  a.status = DnsAnswer::Status::Ok;
  switch (q.type) {
    case QueryType::Txt: a.texts = {record}; break;
    case QueryType::A:
      a.addresses = {*mx::SocketAddress::parse_ip(v4 ? "192.0.2.1" : "192.0.2.2", 0)};
      break;
    case QueryType::Aaaa: a.addresses = {*mx::SocketAddress::parse_ip("2001:db8::1", 0)}; break;
    case QueryType::Mx: a.names = {"mx1.fuzz.example", "mx2.fuzz.example"}; break;
    case QueryType::Ptr: a.names = {"host.fuzz.example"}; break;
  }
  // Names with a digit in their first label do not exist: void lookups.
  if (q.type != QueryType::Txt && !q.name.empty() && q.name[0] >= '0' && q.name[0] <= '9') {
    a = DnsAnswer{};
    a.status = DnsAnswer::Status::NoSuchName;
  }
  return a;
}

void evaluate(const std::string& record, const char* ip) {
  const auto address = *mx::SocketAddress::parse_ip(ip, 0);
  spf::Answers answers;
  // TXT, then per term at most one query, plus 10 for an mx's hosts; each
  // term that queries counts toward the limit of 10.
  for (int step = 0; step < 400; ++step) {
    spf::Step s = spf::check_host(address, "fuzz.example", answers);
    if (!s.need) {
      (void)spf::describe(s.verdict);
      return;
    }
    require(!answers.contains(*s.need), "a query asked twice");
    answers[*s.need] = answer_for(*s.need, record, address.family() == AF_INET);
  }
  require(false, "no verdict after 400 answers");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string record(reinterpret_cast<const char*>(data), size);
  const spf::ParseResult parsed = spf::parse_record(record);
  require(parsed.record.has_value() == (parsed.error == spf::ParseError::None),
          "a record or an error");
  evaluate(record, "192.0.2.1");
  evaluate(record, "2001:db8::1");
  return 0;
}
