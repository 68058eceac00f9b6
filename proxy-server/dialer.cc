#include "dialer.h"

#include "mxegress/util/log.h"
#include "warmup.h"

namespace mx {
namespace {

// When several addresses fail for different reasons, report the one that
// tells the client most: a real connect failure, then a policy or limit
// refusal, then "no source of this family".
int rank(socks5::Reply reply) {
  switch (reply) {
    case socks5::Reply::AddressTypeNotSupported:
    case socks5::Reply::HostUnreachable:
      return 0;
    case socks5::Reply::NotAllowed:
      return 1;
    default:
      return 2;
  }
}

}  // namespace

socks5::Reply reply_for_connect_error(int uv_status) {
  switch (uv_status) {
    case UV_ECONNREFUSED:
      return socks5::Reply::ConnectionRefused;
    case UV_ENETUNREACH:
    case UV_ENETDOWN:
      return socks5::Reply::NetworkUnreachable;
    case UV_EHOSTUNREACH:
    case UV_EHOSTDOWN:
      return socks5::Reply::HostUnreachable;
    case UV_ETIMEDOUT:
      return socks5::Reply::TtlExpired;
    case UV_EAFNOSUPPORT:
      return socks5::Reply::AddressTypeNotSupported;
    default:
      return socks5::Reply::GeneralFailure;
  }
}

Dialer::Dialer(Loop& loop, DialNames names, DialRules rules, std::chrono::milliseconds timeout,
               std::string log_tenant)
    : loop_(loop),
      names_(names),
      rules_(rules),
      timeout_(timeout),
      log_tenant_(std::move(log_tenant)),
      deadline_(loop) {}

Dialer::~Dialer() {
  release_attempt();
  // Destroyed while dialing: the fleet's leases go too (none: no call).
  if (done_ && rules_.fleet != nullptr) rules_.fleet->release(rules_.fleet_session);
}

void Dialer::dial(const Target& target, Callback done) {
  target_ = target;
  done_ = std::move(done);
  if (!rules_.policy.port_allowed(target.port)) {
    complete(socks5::Reply::NotAllowed, "port " + std::to_string(target.port) + " is not allowed");
    return;
  }
  deadline_.start(timeout_, [this] {
    complete(socks5::Reply::TtlExpired,
             "no connection within " + std::to_string(timeout_.count()) + " ms");
  });
  if (auto literal = SocketAddress::from_target(target)) {
    on_resolved(ResolveResult{ResolveResult::Status::Ok, {*literal}, {}});
    return;
  }
  // Above a cap the CONNECT is refused at once (0x01: the server cannot
  // take the lookup now; the name itself may be fine).
  ConcurrencyLimit::Slot slot;
  if (names_.gate != nullptr) {
    LookupGate::Admission admission = names_.gate->admit(rules_.tenant.name, target.domain);
    if (!admission.slot) {
      complete(socks5::Reply::GeneralFailure, "lookup refused: " + admission.refusal);
      return;
    }
    slot = std::move(admission.slot);
  }
  resolution_ = names_.resolver.resolve(
      target.domain, target.port,
      [this](ResolveResult resolved) { on_resolved(std::move(resolved)); }, std::move(slot));
}

void Dialer::note_refusal(socks5::Reply reply, std::string detail) {
  if (!refusal_ || rank(reply) > rank(refusal_->reply)) {
    refusal_ = Refusal{reply, std::move(detail)};
  }
}

void Dialer::on_resolved(ResolveResult resolved) {
  if (resolved.status != ResolveResult::Status::Ok) {
    // A lookup that timed out is a timeout like a connect that did (0x06);
    // a name that does not resolve, or whose servers fail, is unreachable.
    complete(resolved.status == ResolveResult::Status::Timeout ? socks5::Reply::TtlExpired
                                                               : socks5::Reply::HostUnreachable,
             "cannot resolve " + target_.host() + ": " + resolved.error);
    return;
  }
  for (const SocketAddress& found : resolved.addresses) {
    // ::ffff:a.b.c.d is an IPv4 destination: dial it as one, from an IPv4 source.
    const SocketAddress address = found.unmapped();
    if (auto reason = rules_.policy.denied_reason(address)) {
      note_refusal(socks5::Reply::NotAllowed, address.ip_string() + " is " + *reason);
      continue;
    }
    candidates_.push_back(address);
  }
  try_next();
}

void Dialer::release_attempt() {
  if (awaiting_fleet_) {
    if (fleet_ticket_) rules_.fleet->cancel(*fleet_ticket_);
    fleet_ticket_.reset();
    awaiting_fleet_ = false;
    if (last_address_) rules_.lease.usage().release_destination(last_address_->ip_string());
  } else if (last_address_ && attempt_) {
    rules_.lease.usage().release_destination(last_address_->ip_string());
  }
  if (attempt_source_ && attempt_source_->family() != 0) {
    rules_.lease.usage().release_source(*attempt_source_);
  }
  attempt_source_.reset();
  if (attempt_) {
    // Free the socket outside its own callback.
    loop_.defer([dead = std::shared_ptr<TcpConnection>(std::move(attempt_))] {});
  }
}

void Dialer::try_next() {
  while (next_candidate_ < candidates_.size()) {
    const SocketAddress address = candidates_[next_candidate_++];
    TenantUsage& usage = rules_.lease.usage();
    WarmupCheck warmup(rules_.tenant.warmup, usage, std::chrono::steady_clock::now(),
                       std::chrono::system_clock::now());
    SourceCheck check = warmup.as_source_check();
    if (rules_.preference != nullptr) {
      check = [&warmup, preference = rules_.preference, address](const SocketAddress& source) {
        const SourceVerdict verdict = warmup(source);
        if (verdict == SourceVerdict::Use && preference->avoid(source, address)) {
          return SourceVerdict::Avoid;
        }
        return verdict;
      };
    }
    auto source = usage.pick_source(rules_.tenant.source, rules_.tenant.source_selection,
                                    address.family(), check);
    if (!source && !warmup.refusal().empty()) {
      // Sources of the family exist, but every one is warming up and out of
      // its hour's sessions (or not in service yet).
      note_refusal(socks5::Reply::NotAllowed, warmup.refusal());
      continue;
    }
    if (!source) {
      // A literal of the wrong family is an address type we cannot serve; a
      // name whose addresses are all of the wrong family is an unreachable host.
      const bool literal = target_.kind != Target::Kind::Domain;
      note_refusal(
          literal ? socks5::Reply::AddressTypeNotSupported : socks5::Reply::HostUnreachable,
          "tenant " + rules_.tenant.name + " has no " +
              (address.family() == AF_INET6 ? "IPv6" : "IPv4") + " source address");
      continue;
    }
    const ServerConfig::Limits& limits =
        rules_.local_limits ? *rules_.local_limits : rules_.tenant.limits;
    if (auto refused = usage.admit_destination(limits, address.ip_string())) {
      if (source->family() != 0) usage.release_source(*source);
      note_refusal(socks5::Reply::NotAllowed, *refused);
      continue;
    }
    last_address_ = address;
    attempt_source_ = *source;
    if (rules_.fleet != nullptr && !fleet_admitted_) {
      admit_in_fleet(address, *source);
    } else {
      connect_to(address, *source);
    }
    return;
  }
  if (refusal_) {
    complete(refusal_->reply, refusal_->detail);
  } else {
    complete(socks5::Reply::HostUnreachable, "no address to connect to");
  }
}

void Dialer::connect_to(const SocketAddress& address, const SocketAddress& source) {
  MX_LOG(Info, "dialer") << log_kv("tenant", log_tenant_) << " dial"
                         << log_kv("target", target_.to_string())
                         << log_kv("address", address.to_string())
                         << (source.family() ? log_kv("from", source.ip_string())
                                             : log_json_kv("from", std::optional<int>()));
  // The SYN leaves from `source` now: its warm-up counts the attempt.
  if (source.family() != 0) {
    take_warmup_token(rules_.tenant.warmup, rules_.lease.usage(), source,
                      std::chrono::steady_clock::now(), std::chrono::system_clock::now());
  }
  if (rules_.preference != nullptr && source.family() != 0) {
    rules_.preference->leaving_from(source, address);
  }
  attempt_ = std::make_unique<TcpConnection>(loop_);
  std::optional<SocketAddress> bind_from;
  if (source.family() != 0) bind_from = SocketAddress::parse_ip(source.ip_string(), 0);
  const int rc = attempt_->connect(address, bind_from, [this](int s) { on_connected(s); });
  if (rc != 0) {
    last_source_.reset();  // no SYN left
    on_connected(rc);
    return;
  }
  // The port is chosen by connect() itself: read it now, so the trail names
  // our side of a failed or cancelled attempt too (the SYNs did leave from it).
  last_source_ = attempt_->local_address();
  // Set once connect() has made the socket, so a failure comes back here.
  // The SYN has left, but nothing has to be set before it: keepalive starts
  // with the connection and the kernel reads the user timeout whenever its
  // retransmission timer fires.
  if (std::string error = attempt_->set_liveness(rules_.liveness); !error.empty()) {
    MX_LOG(Warn, "dialer") << log_kv("tenant", log_tenant_)
                           << log_kv("address", address.to_string())
                           << " cannot set TCP liveness: " << error;
  }
}

void Dialer::admit_in_fleet(const SocketAddress& address, const SocketAddress& source) {
  fleet_admitted_ = true;
  awaiting_fleet_ = true;
  // The answer may come at once (nothing to ask, Redis unreachable).
  const uint64_t ticket =
      rules_.fleet->admit(rules_.tenant.name, rules_.tenant.limits, address.ip_string(),
                          rules_.fleet_session, [this, address, source](FleetAdmission admission) {
                            awaiting_fleet_ = false;
                            fleet_ticket_.reset();
                            on_fleet_admission(address, source, std::move(admission));
                          });
  if (awaiting_fleet_) fleet_ticket_ = ticket;
}

void Dialer::on_fleet_admission(const SocketAddress& address, const SocketAddress& source,
                                FleetAdmission admission) {
  if (admission.verdict == FleetVerdict::Local) {
    // Redis did not answer: this session was admitted when the fleet still
    // decided; the local share of max_connections decides now.
    const ServerConfig::Limits local = rules_.fleet->state().local_limits(rules_.tenant.limits);
    TenantUsage& usage = rules_.lease.usage();
    if (local.max_connections != 0 && usage.active() > local.max_connections) {
      admission.verdict = FleetVerdict::Refused;
      admission.limit = FleetLimit::MaxConnections;
      admission.refusal = "max_connections " + std::to_string(local.max_connections) + " reached";
    }
  }
  if (admission.verdict != FleetVerdict::Refused) {
    connect_to(address, source);
    return;
  }
  // Refused: give back this address's local slots.
  TenantUsage& usage = rules_.lease.usage();
  usage.release_destination(address.ip_string());
  if (source.family() != 0) usage.release_source(source);
  attempt_source_.reset();
  if (admission.limit == FleetLimit::MaxPerDestination) {
    // Another address of the name may still be under its limit.
    note_refusal(socks5::Reply::NotAllowed, admission.refusal);
    fleet_admitted_ = false;
    try_next();
    return;
  }
  complete(socks5::Reply::NotAllowed, admission.refusal);
}

void Dialer::on_connected(int status) {
  if (status == 0) {
    complete(socks5::Reply::Succeeded, "connected");
    return;
  }
  note_refusal(reply_for_connect_error(status),
               last_address_->to_string() + ": " + uv_error_text(status));
  release_attempt();
  try_next();
}

DialResult Dialer::cancel() {
  DialResult result;
  if (!done_) return result;
  done_ = nullptr;
  deadline_.stop();
  resolution_.reset();
  result.connected = last_address_;
  result.source = last_source_;
  release_attempt();
  if (rules_.fleet != nullptr) rules_.fleet->release(rules_.fleet_session);
  return result;
}

void Dialer::complete(socks5::Reply reply, std::string detail) {
  if (!done_) return;
  deadline_.stop();
  resolution_.reset();
  DialResult result;
  result.reply = reply;
  result.detail = std::move(detail);
  result.connected = last_address_;
  result.source = last_source_;
  if (reply == socks5::Reply::Succeeded) {
    result.connection = std::move(attempt_);
    // The connection keeps its destination and source slots until it ends.
    rules_.lease.hold_destination(last_address_->ip_string());
    if (attempt_source_ && attempt_source_->family() != 0)
      rules_.lease.hold_source(*attempt_source_);
    attempt_source_.reset();
    if (rules_.fleet != nullptr) {
      // ... and its fleet leases too.
      rules_.lease.on_release(
          [fleet = rules_.fleet, id = rules_.fleet_session] { fleet->release(id); });
    }
  } else {
    release_attempt();
    if (rules_.fleet != nullptr) rules_.fleet->release(rules_.fleet_session);
  }
  auto done = std::move(done_);
  done(std::move(result));
}

}  // namespace mx
