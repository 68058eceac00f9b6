#include "fleet/fleet_client.h"

#include <unistd.h>

#include "mxegress/util/log.h"

namespace mx {
namespace {

// Verdicts of admit.lua.
constexpr int64_t kAdmitted = 0;
constexpr int64_t kRate = 1;
constexpr int64_t kMaxConnections = 2;
constexpr int64_t kMaxPerDestination = 3;
constexpr int64_t kBytesPerDay = 4;

std::string ms(std::chrono::milliseconds duration) { return std::to_string(duration.count()); }

}  // namespace

std::string default_fleet_server_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] != '\0' ? host : "localhost") + ":" + std::to_string(getpid());
}

FleetClient::FleetClient(Loop& loop, const FleetConfig& config, std::string server_id,
                         unsigned thread, FleetState& state, std::unique_ptr<RedisLink> link,
                         Clock clock)
    : loop_(loop),
      config_(config),
      server_id_(std::move(server_id)),
      id_prefix_(server_id_ + ":" + std::to_string(thread) + ":"),
      state_(state),
      link_(std::move(link)),
      clock_(std::move(clock)),
      keys_(config.key_prefix),
      heartbeat_timer_(loop),
      renew_timer_(loop),
      flush_timer_(loop) {
  link_->on_connection([this](bool up) {
    if (up) {
      heartbeat();  // shared again as soon as Redis answers
    } else {
      on_failure();
    }
  });
  heartbeat();
  renew_timer_.start(config_.lease_time / 3, [this] { renew(); });
  flush_timer_.start(std::chrono::seconds(1), [this] { flush(); });
}

FleetClient::~FleetClient() { link_->on_connection(nullptr); }

std::string FleetClient::new_session_id() { return id_prefix_ + std::to_string(next_session_++); }

void FleetClient::on_failure() {
  if (state_.on_failure() == FleetChange::BecameLocal) {
    MX_LOG(Warn, "fleet") << "redis unreachable: enforcing each limit / " << state_.fleet_size()
                          << " (the fleet size last seen) locally until it is back";
  }
}

std::optional<std::string> FleetClient::refused_now(const std::string& tenant,
                                                    const ServerConfig::Limits& limits,
                                                    FleetState::Wall wall) {
  if (state_.mode() != FleetMode::Shared) return std::nullopt;
  if (auto refusal = state_.cached_refusal(tenant, clock_())) return refusal;
  return state_.refuse_bytes(tenant, limits, wall);
}

uint64_t FleetClient::admit(const std::string& tenant, const ServerConfig::Limits& limits,
                            const std::string& ip, const std::string& id, Done done) {
  MX_ASSERT_IN_LOOP(loop_);
  const uint64_t ticket = next_ticket_++;
  const bool nothing_to_ask = limits.connections_per_minute == 0 && limits.max_connections == 0 &&
                              limits.max_per_destination == 0 && limits.bytes_per_day == 0;
  if (nothing_to_ask) {
    done(FleetAdmission{FleetVerdict::Admitted});
    return ticket;
  }
  Lease lease;
  if (limits.max_connections != 0) lease.connections_key = keys_.connections(tenant);
  if (limits.max_per_destination != 0) lease.destination_key = keys_.destination(tenant, ip);
  if (state_.mode() != FleetMode::Shared || !link_->connected()) {
    // Admitted here under the local rules; its leases are registered by the
    // next renewal once Redis is back, so the fleet counts it then.
    if (limits.max_connections != 0 || limits.max_per_destination != 0) leases_[id] = lease;
    done(FleetAdmission{FleetVerdict::Local});
    return ticket;
  }
  waiting_[ticket] = std::move(done);
  const bool sent = link_->call(
      FleetScript::Admit,
      {keys_.rate(tenant), keys_.connections(tenant), keys_.destination(tenant, ip),
       keys_.bytes(tenant, FleetState::utc_day(std::chrono::system_clock::now()))},
      {id, ms(config_.lease_time), std::to_string(limits.connections_per_minute),
       std::to_string(limits.max_connections), std::to_string(limits.max_per_destination),
       std::to_string(limits.bytes_per_day)},
      [this, ticket, tenant, limits, ip, id, lease](RedisAnswer answer) {
        on_answer(ticket, tenant, limits, ip, id, lease, std::move(answer));
      });
  if (!sent) {
    Done waiting = std::move(waiting_[ticket]);
    waiting_.erase(ticket);
    leases_[id] = lease;
    waiting(FleetAdmission{FleetVerdict::Local});
  }
  return ticket;
}

void FleetClient::on_answer(uint64_t ticket, const std::string& tenant,
                            const ServerConfig::Limits& limits, const std::string& ip,
                            const std::string& id, Lease lease, RedisAnswer answer) {
  FleetAdmission admission;
  if (answer.status != RedisStatus::Ok || answer.integers.size() != 2) {
    on_failure();
    admission.verdict = FleetVerdict::Local;
    leases_[id] = lease;  // registered by a renewal once Redis answers again
  } else {
    if (state_.on_answer(0) == FleetChange::BecameShared) {
      MX_LOG(Warn, "fleet") << "redis reachable: shared limits again";
    }
    const int64_t verdict = answer.integers[0];
    admission.verdict = verdict == kAdmitted ? FleetVerdict::Admitted : FleetVerdict::Refused;
    if (verdict == kAdmitted) {
      if (!lease.connections_key.empty() || !lease.destination_key.empty()) {
        leases_[id] = std::move(lease);
      }
    } else if (verdict == kRate) {
      admission.limit = FleetLimit::Rate;
      admission.refusal =
          "connections_per_minute " + std::to_string(limits.connections_per_minute) + " exceeded";
      state_.refuse_until(tenant, admission.refusal,
                          clock_() + std::chrono::milliseconds(answer.integers[1]));
    } else if (verdict == kMaxConnections) {
      admission.limit = FleetLimit::MaxConnections;
      admission.refusal = "max_connections " + std::to_string(limits.max_connections) + " reached";
    } else if (verdict == kMaxPerDestination) {
      admission.limit = FleetLimit::MaxPerDestination;
      admission.refusal = "max_per_destination " + std::to_string(limits.max_per_destination) +
                          " reached for " + ip;
    } else if (verdict == kBytesPerDay) {
      admission.limit = FleetLimit::BytesPerDay;
      admission.refusal = "bytes_per_day " + std::to_string(limits.bytes_per_day) + " reached";
    }
  }
  auto it = waiting_.find(ticket);
  if (it == waiting_.end()) {
    // Cancelled: the session is gone; so must its lease be.
    if (admission.verdict != FleetVerdict::Refused) release(id);
    return;
  }
  Done done = std::move(it->second);
  waiting_.erase(it);
  done(std::move(admission));
}

void FleetClient::cancel(uint64_t ticket) { waiting_.erase(ticket); }

void FleetClient::release(const std::string& id) {
  MX_ASSERT_IN_LOOP(loop_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  std::vector<std::string> keys;
  if (!it->second.connections_key.empty()) keys.push_back(it->second.connections_key);
  if (!it->second.destination_key.empty()) keys.push_back(it->second.destination_key);
  leases_.erase(it);
  // Unreachable Redis: the lease lapses on its own within lease_time.
  link_->call(FleetScript::Release, std::move(keys), {id}, [](RedisAnswer) {});
}

void FleetClient::add_bytes(const std::string& tenant, uint64_t bytes, FleetState::Wall wall) {
  state_.add_bytes(tenant, bytes, wall);
}

void FleetClient::heartbeat() {
  heartbeat_timer_.start(config_.heartbeat_interval, [this] { heartbeat(); });
  // Not connected: the link has reported it already (or never connected).
  if (!link_->connected()) return;
  link_->call(FleetScript::Heartbeat, {keys_.servers()},
              {server_id_, ms(config_.heartbeat_interval * 3)},
              [this](RedisAnswer answer) { on_heartbeat(std::move(answer)); });
}

void FleetClient::on_heartbeat(RedisAnswer answer) {
  if (answer.status != RedisStatus::Ok || answer.integers.empty()) {
    on_failure();
    return;
  }
  const auto size = static_cast<uint32_t>(answer.integers[0]);
  const uint32_t before = state_.fleet_size();
  if (state_.on_answer(size) == FleetChange::BecameShared) {
    MX_LOG(Warn, "fleet") << "redis reachable: shared limits, fleet of " << size;
  }
  if (size != before) MX_LOG(Info, "fleet") << "fleet size " << size;
}

void FleetClient::renew() {
  renew_timer_.start(config_.lease_time / 3, [this] { renew(); });
  if (leases_.empty() || !link_->connected()) return;
  std::vector<std::string> keys;
  std::vector<std::string> argv = {ms(config_.lease_time)};
  for (const auto& [id, lease] : leases_) {
    for (const std::string* key : {&lease.connections_key, &lease.destination_key}) {
      if (key->empty()) continue;
      keys.push_back(*key);
      argv.push_back(id);
    }
  }
  link_->call(FleetScript::Renew, std::move(keys), std::move(argv), [](RedisAnswer) {});
}

void FleetClient::flush() {
  flush_timer_.start(std::chrono::seconds(1), [this] { flush(); });
  if (!link_->connected()) return;
  for (ByteFlush& batch : state_.take_flushes(clock_())) {
    const bool sent =
        link_->call(FleetScript::AddBytes, {keys_.bytes(batch.tenant, batch.day)},
                    {std::to_string(batch.bytes)}, [this, batch](RedisAnswer answer) {
                      if (answer.status == RedisStatus::Ok && !answer.integers.empty()) {
                        state_.on_flushed(batch, static_cast<uint64_t>(answer.integers[0]));
                      } else {
                        state_.on_flush_failed(batch);
                      }
                    });
    if (!sent) state_.on_flush_failed(batch);
  }
}

}  // namespace mx
