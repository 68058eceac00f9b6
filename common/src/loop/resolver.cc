#include "mxegress/loop/resolver.h"

#include <ares.h>

#include "mxegress/loop/ares_channel.h"
#include "mxegress/loop/timer.h"
#include "mxegress/util/log.h"

namespace mx {

// A c-ares channel and the queries still under way on it.
struct Resolver::Channel {
  std::unique_ptr<AresChannel> ares;
  ResolverSettings settings;
  size_t queries = 0;
  bool retired = false;  // a newer one takes new lookups; this one goes once drained
};

// One ares_getaddrinfo, alive until c-ares calls back (c-ares 1.18 cannot
// cancel a single query). A cancelled lookup leaves only this behind.
struct Resolver::Query {
  Resolver* resolver;
  Channel* channel;
  Lookup* owner;  // null once the lookup was cancelled or timed out
  uint16_t port;
  ConcurrencyLimit::Slot slot;  // given back when c-ares ends the query
};

// The Resolution handed out: the callback, the lookup's deadline, and the
// answer's way back to the loop (never from inside c-ares or resolve()).
class Resolver::Lookup final : public Resolution {
 public:
  Lookup(Loop& loop, Callback done) : done_(std::move(done)), answer_(loop), deadline_(loop) {}
  ~Lookup() override { detach(); }

  void start_deadline(std::chrono::milliseconds timeout) {
    deadline_.start(timeout, [this, timeout] {
      detach();  // the query goes on in c-ares, holding its slot, until it ends
      ResolveResult result;
      result.status = ResolveResult::Status::Timeout;
      result.error = "no answer within " + std::to_string(timeout.count()) + " ms";
      answer(std::move(result));
    });
  }
  void attach(Query* query) { query_ = query; }
  // From c-ares: the query ended.
  void ended(ResolveResult result) {
    query_ = nullptr;
    deadline_.stop();
    answer_.schedule([this, result = std::move(result)]() mutable { answer(std::move(result)); });
  }

 private:
  void detach() {
    if (query_ != nullptr) query_->owner = nullptr;
    query_ = nullptr;
  }
  void answer(ResolveResult result) {
    deadline_.stop();
    answer_.cancel();
    if (!done_) return;
    Callback done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));  // may destroy this
  }

  Callback done_;
  Query* query_ = nullptr;
  DeferredCall answer_;
  Timer deadline_;
};

namespace {

// An answer known without asking c-ares (an IP literal, no resolver): it
// still arrives from the loop.
class Immediate final : public Resolution {
 public:
  Immediate(Loop& loop, NameResolver::Callback done, ResolveResult result) : call_(loop) {
    call_.schedule([done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

 private:
  DeferredCall call_;
};

}  // namespace

ResolveResult resolve_result(int ares_status, std::vector<SocketAddress> addresses) {
  ResolveResult result;
  switch (ares_status) {
    case ARES_SUCCESS:
      if (addresses.empty()) {
        result.status = ResolveResult::Status::NotFound;
        result.error = "no address";
      } else {
        result.status = ResolveResult::Status::Ok;
        result.addresses = std::move(addresses);
      }
      return result;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
      result.status = ResolveResult::Status::NotFound;
      break;
    case ARES_ETIMEOUT:
      result.status = ResolveResult::Status::Timeout;
      break;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
      result.status = ResolveResult::Status::Failed;
      result.error = "resolver shut down";
      return result;
    default:
      result.status = ResolveResult::Status::Failed;
      break;
  }
  result.error = ares_strerror(ares_status);
  return result;
}

Resolver::Resolver(Loop& loop) : loop_(loop), error_("no resolver configured") {}

Resolver::~Resolver() {
  MX_ASSERT_IN_LOOP(loop_);
  closing_ = true;
  // Each channel ends its queries (on_query_done with ARES_EDESTRUCTION)
  // while its entry is still whole.
  for (Channel& channel : channels_) channel.ares.reset();
  channels_.clear();
}

std::string Resolver::configure(const ResolverSettings& settings) {
  MX_ASSERT_IN_LOOP(loop_);
  std::string err;
  std::unique_ptr<AresChannel> ares = AresChannel::create(loop_, settings, err);
  if (!ares) return err;
  error_.clear();
  if (!channels_.empty()) {
    Channel& old = channels_.back();
    old.retired = true;
    forget_if_drained(old);
  }
  channels_.push_back(Channel{std::move(ares), settings});
  return {};
}

std::unique_ptr<Resolution> Resolver::resolve(const std::string& host, uint16_t port, Callback done,
                                              ConcurrencyLimit::Slot slot) {
  MX_ASSERT_IN_LOOP(loop_);
  // An IP literal needs no resolver.
  if (auto literal = SocketAddress::parse_ip(host, port)) {
    return std::make_unique<Immediate>(loop_, std::move(done),
                                       ResolveResult{ResolveResult::Status::Ok, {*literal}, {}});
  }
  if (channels_.empty() || channels_.back().retired) {
    return std::make_unique<Immediate>(loop_, std::move(done),
                                       ResolveResult{ResolveResult::Status::Failed, {}, error_});
  }
  Channel& channel = channels_.back();
  auto lookup = std::make_unique<Lookup>(loop_, std::move(done));
  auto* query = new Query{this, &channel, lookup.get(), port, std::move(slot)};
  lookup->attach(query);
  lookup->start_deadline(channel.settings.timeout);
  ++channel.queries;
  ++in_flight_;
  // May call on_query_done before it returns (an /etc/hosts entry): the
  // answer still waits for the loop.
  channel.ares->getaddrinfo(host, &Resolver::on_query_done, query);
  return lookup;
}

void Resolver::on_query_done(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  std::unique_ptr<Query> query(static_cast<Query*>(arg));
  Resolver& self = *query->resolver;
  Channel& channel = *query->channel;
  --channel.queries;
  --self.in_flight_;
  if (query->owner != nullptr) {
    query->owner->ended(resolve_result(status, addresses_of(result, query->port)));
  }
  if (result != nullptr) ares_freeaddrinfo(result);
  query->slot.release();
  if (!self.closing_) self.forget_if_drained(channel);
}

void Resolver::forget_if_drained(Channel& channel) {
  if (!channel.retired || channel.queries != 0) return;
  for (auto it = channels_.begin(); it != channels_.end(); ++it) {
    if (&*it != &channel) continue;
    // Possibly inside this channel's own ares_process_fd: it goes next turn.
    loop_.destroy_later(std::move(it->ares));
    channels_.erase(it);
    return;
  }
}

}  // namespace mx
