// The DNS queries of `mxegress-server check`, asked on a Loop through c-ares
// (AresChannel) with the server's [resolver] settings: each DnsQuery gets
// one DnsAnswer, timeouts and failures included, never an exception.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "check/dns_answer.h"
#include "mxegress/loop/ares_channel.h"
#include "mxegress/loop/loop.h"
#include "mxegress/net/resolver_settings.h"

namespace mx::check {

class DnsClient {
 public:
  using Callback = std::function<void(DnsAnswer)>;

  // Null with `err` set when c-ares cannot make a channel.
  static std::unique_ptr<DnsClient> create(Loop& loop, const ResolverSettings& settings,
                                           std::string& err);
  // Queries still under way end: their callbacks never run.
  ~DnsClient();

  // `done` runs once, from the loop (or inside this call for a name c-ares
  // refuses at once). All queries run in parallel.
  void ask(const DnsQuery& query, Callback done);
  size_t in_flight() const { return in_flight_; }

 private:
  struct Pending;
  explicit DnsClient(std::unique_ptr<AresChannel> channel) : channel_(std::move(channel)) {}
  static void on_answer(void* arg, int status, int timeouts, unsigned char* buf, int len);

  std::unique_ptr<AresChannel> channel_;
  size_t in_flight_ = 0;
};

// What an ares_query outcome says for `type`: the c-ares status and the raw
// answer (parsed here).
DnsAnswer parse_answer(QueryType type, int ares_status, const unsigned char* buf, int len);

}  // namespace mx::check
