#include "check/dns_client.h"

#include <arpa/nameser.h>

#include <algorithm>

namespace mx::check {
namespace {

int ns_type(QueryType type) {
  switch (type) {
    case QueryType::A:
      return ns_t_a;
    case QueryType::Aaaa:
      return ns_t_aaaa;
    case QueryType::Txt:
      return ns_t_txt;
    case QueryType::Mx:
      return ns_t_mx;
    case QueryType::Ptr:
      return ns_t_ptr;
  }
  return ns_t_a;
}

DnsAnswer with_status(DnsAnswer::Status status) {
  DnsAnswer answer;
  answer.status = status;
  return answer;
}

DnsAnswer::Status status_of(int ares_status) {
  switch (ares_status) {
    case ARES_SUCCESS:
      return DnsAnswer::Status::Ok;
    case ARES_ENOTFOUND:
      return DnsAnswer::Status::NoSuchName;
    case ARES_ENODATA:
      return DnsAnswer::Status::NoData;
    case ARES_ETIMEOUT:
      return DnsAnswer::Status::Timeout;
    default:
      return DnsAnswer::Status::Failed;
  }
}

void parse_addresses(QueryType type, const unsigned char* buf, int len, DnsAnswer& answer,
                     int& rc) {
  constexpr int kMax = 64;
  if (type == QueryType::A) {
    ares_addrttl found[kMax];
    int count = kMax;
    rc = ares_parse_a_reply(buf, len, nullptr, found, &count);
    for (int i = 0; rc == ARES_SUCCESS && i < count; ++i) {
      answer.addresses.push_back(SocketAddress::ipv4(
          std::span<const uint8_t, 4>(reinterpret_cast<const uint8_t*>(&found[i].ipaddr), 4), 0));
    }
  } else {
    ares_addr6ttl found[kMax];
    int count = kMax;
    rc = ares_parse_aaaa_reply(buf, len, nullptr, found, &count);
    for (int i = 0; rc == ARES_SUCCESS && i < count; ++i) {
      answer.addresses.push_back(SocketAddress::ipv6(
          std::span<const uint8_t, 16>(reinterpret_cast<const uint8_t*>(&found[i].ip6addr), 16),
          0));
    }
  }
}

void parse_texts(const unsigned char* buf, int len, DnsAnswer& answer, int& rc) {
  ares_txt_ext* txt = nullptr;
  rc = ares_parse_txt_reply_ext(buf, len, &txt);
  // The character-strings of one record are joined (RFC 7208 §3.3).
  for (const ares_txt_ext* part = txt; rc == ARES_SUCCESS && part != nullptr; part = part->next) {
    const std::string text(reinterpret_cast<const char*>(part->txt), part->length);
    if (part->record_start || answer.texts.empty()) {
      answer.texts.push_back(text);
    } else {
      answer.texts.back() += text;
    }
  }
  ares_free_data(txt);
}

void parse_mx(const unsigned char* buf, int len, DnsAnswer& answer, int& rc) {
  ares_mx_reply* mx = nullptr;
  rc = ares_parse_mx_reply(buf, len, &mx);
  std::vector<std::pair<unsigned short, std::string>> hosts;
  for (const ares_mx_reply* r = mx; rc == ARES_SUCCESS && r != nullptr; r = r->next) {
    hosts.emplace_back(r->priority, r->host);
  }
  ares_free_data(mx);
  std::stable_sort(hosts.begin(), hosts.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [priority, host] : hosts) answer.names.push_back(std::move(host));
}

void parse_ptr(const unsigned char* buf, int len, DnsAnswer& answer, int& rc) {
  hostent* host = nullptr;
  const unsigned char none[16] = {};
  rc = ares_parse_ptr_reply(buf, len, none, 4, AF_INET, &host);
  if (rc != ARES_SUCCESS || host == nullptr) return;
  // c-ares puts every PTR name in the aliases (h_name is one of them).
  for (char** alias = host->h_aliases; alias != nullptr && *alias != nullptr; ++alias) {
    answer.names.emplace_back(*alias);
  }
  if (answer.names.empty() && host->h_name != nullptr) answer.names.emplace_back(host->h_name);
  ares_free_hostent(host);
}

}  // namespace

DnsAnswer parse_answer(QueryType type, int ares_status, const unsigned char* buf, int len) {
  if (ares_status != ARES_SUCCESS) return with_status(status_of(ares_status));
  DnsAnswer answer = with_status(DnsAnswer::Status::Ok);
  int rc = ARES_SUCCESS;
  switch (type) {
    case QueryType::A:
    case QueryType::Aaaa:
      parse_addresses(type, buf, len, answer, rc);
      break;
    case QueryType::Txt:
      parse_texts(buf, len, answer, rc);
      break;
    case QueryType::Mx:
      parse_mx(buf, len, answer, rc);
      break;
    case QueryType::Ptr:
      parse_ptr(buf, len, answer, rc);
      break;
  }
  if (rc == ARES_ENODATA) return with_status(DnsAnswer::Status::NoData);
  if (rc != ARES_SUCCESS) return with_status(DnsAnswer::Status::Failed);
  if (answer.addresses.empty() && answer.texts.empty() && answer.names.empty()) {
    return with_status(DnsAnswer::Status::NoData);
  }
  return answer;
}

struct DnsClient::Pending {
  DnsClient* owner;
  QueryType type;
  Callback done;
};

std::unique_ptr<DnsClient> DnsClient::create(Loop& loop, const ResolverSettings& settings,
                                             std::string& err) {
  auto channel = AresChannel::create(loop, settings, err);
  if (!channel) return nullptr;
  return std::unique_ptr<DnsClient>(new DnsClient(std::move(channel)));
}

DnsClient::~DnsClient() { channel_.reset(); }

void DnsClient::ask(const DnsQuery& query, Callback done) {
  ++in_flight_;
  channel_->query(query.name, ns_type(query.type), &DnsClient::on_answer,
                  new Pending{this, query.type, std::move(done)});
}

void DnsClient::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* buf, int len) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(arg));
  --pending->owner->in_flight_;
  if (status == ARES_EDESTRUCTION) return;  // the client is going away
  pending->done(parse_answer(pending->type, status, buf, len));
}

}  // namespace mx::check
