// Name resolution on the event loop (docs/architecture.md, "Name
// resolution"): one Resolver per loop, over c-ares (AresChannel), so no
// thread pool can be exhausted by lookups that get no answer.
//
//   auto lookup = resolver.resolve("mx.example.org", 25, [](ResolveResult r) {...}, slot);
//   lookup.reset();  // cancels: the callback never runs, and what it captured is freed now
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "mxegress/loop/loop.h"
#include "mxegress/net/resolver_settings.h"
#include "mxegress/net/socket_address.h"
#include "mxegress/util/concurrency_limit.h"

struct ares_addrinfo;

namespace mx {

class AresChannel;

struct ResolveResult {
  enum class Status {
    Ok,        // addresses has at least one
    NotFound,  // no such name, or no address of it (NXDOMAIN, NODATA)
    Timeout,   // no answer within [resolver] timeout
    Failed,    // the servers failed or refused, could not be reached, or the resolver is gone
  };
  Status status = Status::Failed;
  std::vector<SocketAddress> addresses;  // with the port asked for
  std::string error;                     // why not, for logs and the trail
};

// A lookup under way. Destroying it cancels it: its callback never runs,
// and the callback (and what it captured) is freed at once.
class Resolution {
 public:
  virtual ~Resolution() = default;
};

// What resolves names for a session: the Resolver, or a fake in tests.
class NameResolver {
 public:
  using Callback = std::function<void(ResolveResult)>;
  virtual ~NameResolver() = default;

  // `done` runs once, from the loop and never inside this call, unless the
  // Resolution is destroyed first. An IP literal is answered without a
  // query. `slot` (a place under a ConcurrencyLimit) is held for as long as
  // the query is under way in c-ares, which may be after its Resolution was
  // destroyed; then it is given back.
  virtual std::unique_ptr<Resolution> resolve(const std::string& host, uint16_t port, Callback done,
                                              ConcurrencyLimit::Slot slot = {}) = 0;
};

// The resolver of one loop: every call on the loop's thread.
class Resolver final : public NameResolver {
 public:
  explicit Resolver(Loop& loop);
  // Ends every query still under way (their slots are given back). Every
  // Resolution must be gone by then.
  ~Resolver() override;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Lookups from now on use a new c-ares channel made with `settings`
  // (which re-reads /etc/resolv.conf); lookups under way finish on the
  // channel they started on, which goes once its last query has ended.
  // Returns why not (the previous channel stays), or "".
  std::string configure(const ResolverSettings& settings);

  std::unique_ptr<Resolution> resolve(const std::string& host, uint16_t port, Callback done,
                                      ConcurrencyLimit::Slot slot = {}) override;

  // c-ares queries under way, cancelled ones included.
  size_t queries_in_flight() const { return in_flight_; }
  size_t channels() const { return channels_.size(); }  // the current one and retired ones

 private:
  struct Channel;
  struct Query;
  class Lookup;
  static void on_query_done(void* arg, int status, int timeouts, ares_addrinfo* result);
  void forget_if_drained(Channel& channel);

  Loop& loop_;
  std::list<Channel> channels_;  // the last is current; earlier ones are retired
  std::string error_;            // why there is no channel, when none could be made
  size_t in_flight_ = 0;
  bool closing_ = false;
};

// What ResolveResult says for an ares_getaddrinfo outcome (c-ares status,
// ARES_SUCCESS or an ARES_E* code, and the addresses found).
ResolveResult resolve_result(int ares_status, std::vector<SocketAddress> addresses);

}  // namespace mx
