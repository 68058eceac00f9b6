#include "egress_session.h"

#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "session";

}

EgressSession::EgressSession(EgressContext context, std::shared_ptr<const ServerSnapshot> snapshot,
                             const ServerConfig::Tenant& tenant, EgressOrigin origin, Target target,
                             Stream& downstream, ReplyCallback on_reply, DoneCallback on_done)
    : ctx_(context),
      snapshot_(std::move(snapshot)),
      tenant_(tenant),
      origin_(std::move(origin)),
      target_(std::move(target)),
      downstream_(downstream),
      on_reply_(std::move(on_reply)),
      on_done_(std::move(on_done)) {}

// Destroyed while it still runs (the server stops, and its owner with it):
// the relay is reset and the dial cancelled, and either leaves its trail
// line like any other end, without calling the owner, which is going away.
EgressSession::~EgressSession() {
  on_reply_ = nullptr;
  on_done_ = nullptr;
  if (pump_ && !pump_->finished()) {
    pump_->abort("server stopped");
  } else if (dialer_ && dialer_->dialing()) {
    cancel_dial("server stopped");
  }
  pump_.reset();
  dialer_.reset();
}

void EgressSession::start() {
  MX_ASSERT_IN_LOOP(ctx_.loop);
  started_wall_ = std::chrono::system_clock::now();
  started_ = std::chrono::steady_clock::now();
  std::shared_ptr<TenantUsage> usage = ctx_.usage.for_tenant(tenant_.name);
  metrics_ = &usage->metrics();
  metrics_->sessions_started.fetch_add(1, std::memory_order_relaxed);
  if (!tenant_.enabled) {
    refuse(socks5::Reply::NotAllowed, "tenant is disabled");
    return;
  }
  // Without a trail no session starts (on_trail_error = "refuse"). Its
  // refusal leaves no trail line: nothing was dialed, the log line and
  // /metrics say it, and the lines held for the file are kept for the
  // sessions that did connect.
  if (auto refused = ctx_.trail.refusal()) {
    refuse(socks5::Reply::NotAllowed, *refused, false);
    return;
  }
  // With a fleet, what is left to check here (docs/fleet.md): while Redis
  // answers, the rate refusal it gave and the fleet's bytes of today;
  // while it does not, each limit / fleet size.
  ServerConfig::Limits limits = tenant_.limits;
  if (ctx_.fleet != nullptr) {
    if (auto refused = ctx_.fleet->refused_now(tenant_.name, tenant_.limits, started_wall_)) {
      refuse(socks5::Reply::NotAllowed, *refused);
      return;
    }
    limits = ctx_.fleet->state().local_limits(tenant_.limits);
  }
  if (auto refused = usage->admit(limits, started_, started_wall_)) {
    refuse(socks5::Reply::NotAllowed, *refused);
    return;
  }
  lease_ = std::make_unique<UsageLease>(std::move(usage));
  if (ctx_.smtp != nullptr && snapshot_->config().smtp.observes(target_.port)) {
    smtp_ = std::make_unique<SmtpSessionWatch>(*ctx_.smtp, ctx_.provider_learner,
                                               snapshot_->providers(), snapshot_->config().smtp,
                                               tenant_, target_);
  }
  DialRules rules{snapshot_->policy(tenant_), tenant_, *lease_,
                  snapshot_->config().server.liveness(), limits};
  rules.preference = smtp_.get();
  if (ctx_.fleet != nullptr) {
    rules.fleet = ctx_.fleet;
    rules.fleet_session = ctx_.fleet->new_session_id();
  }
  dialer_ = std::make_unique<Dialer>(ctx_.loop, DialNames{ctx_.resolver, ctx_.lookups}, rules,
                                     snapshot_->config().server.connect_timeout, tenant_.name);
  dial_started_ = std::chrono::steady_clock::now();
  dialer_->dial(target_, [this](DialResult result) { on_dialed(std::move(result)); });
}

void EgressSession::refuse(socks5::Reply reply, const std::string& why, bool trail_line) {
  MX_LOG(Info, kLog) << "refused" << log_kv("tenant", tenant_.name) << log_kv("via", origin_.via)
                     << log_kv("peer", origin_.peer) << log_kv("target", target_.to_string())
                     << log_kv("reply", static_cast<int>(reply)) << log_kv("reason", why);
  if (trail_line) write_trail(static_cast<int>(reply), 0, 0, why);
  count_end(session_result_of(reply), why);
  auto on_reply = std::move(on_reply_);
  on_reply(reply, Target{});
}

void EgressSession::on_dialed(DialResult result) {
  ctx_.loop.destroy_later(std::move(dialer_));  // we are inside its callback
  dial_ = std::move(result);
  if (dial_.reply != socks5::Reply::Succeeded) {
    if (dial_.reply == socks5::Reply::NotAllowed) {
      refuse(dial_.reply, dial_.detail);
      return;
    }
    MX_LOG(Info, kLog) << "failed" << log_kv("tenant", tenant_.name) << log_kv("via", origin_.via)
                       << log_kv("target", target_.to_string())
                       << log_kv("reply", static_cast<int>(dial_.reply))
                       << log_kv("reason", dial_.detail);
    write_trail(static_cast<int>(dial_.reply), 0, 0, dial_.detail);
    count_end(session_result_of(dial_.reply), dial_.detail);
    auto on_reply = std::move(on_reply_);
    on_reply(dial_.reply, Target{});
    return;
  }
  metrics_->connect_seconds.observe(std::chrono::steady_clock::now() - dial_started_);
  upstream_ = std::move(dial_.connection);
  const Target bound = dial_.source ? dial_.source->to_target() : Target{};
  auto on_reply = std::move(on_reply_);
  const Bytes early_data = on_reply(socks5::Reply::Succeeded, bound);
  // Relayed outside the pump: counted here, for the trail and the daily quota.
  early_bytes_ = early_data.size();
  if (!early_data.empty()) {
    upstream_->write(early_data);
    if (smtp_) smtp_->early_data(early_data);
  }
  // A mail server closes right after its 221: send that reply and the end
  // to the client together.
  upstream_->report_eof_behind_short_reads();
  upstream_->start_reading();
  PumpOptions options;
  options.names = {origin_.via == "tunnel" ? "tunnel" : "client", "destination"};
  options.idle_timeout = snapshot_->config().server.idle_timeout;
  options.tap = smtp_.get();
  pump_ = std::make_unique<Pump>(ctx_.loop, downstream_, *upstream_, options,
                                 [this](const RelayOutcome& outcome) { on_relay_done(outcome); });
  pump_->start();
}

void EgressSession::cut(const std::string& why) {
  if (pump_ && !pump_->finished()) pump_->abort(why);
  if (dialer_ && dialer_->dialing()) cancel_dial(why);
}

// The SYNs may already have left from the tenant's address: a complaint can
// name this attempt, so it gets its trail line like any other.
void EgressSession::cancel_dial(const std::string& why) {
  DialResult where = dialer_->cancel();
  ctx_.loop.destroy_later(std::move(dialer_));
  dial_.connected = where.connected;
  dial_.source = where.source;
  on_reply_ = nullptr;
  MX_LOG(Info, kLog) << "cancelled" << log_kv("tenant", tenant_.name) << log_kv("via", origin_.via)
                     << log_kv("target", target_.to_string()) << log_kv("reason", why);
  write_trail(std::nullopt, 0, 0, why);
  count_end(SessionResult::Cancelled);
}

void EgressSession::on_relay_done(const RelayOutcome& outcome) {
  // a = downstream (the client's bytes), b = upstream (the destination's)
  const uint64_t up = early_bytes_ + outcome.bytes_a_to_b;
  const auto now = std::chrono::system_clock::now();
  lease_->usage().add_bytes(up + outcome.bytes_b_to_a, now);
  if (ctx_.fleet != nullptr) ctx_.fleet->add_bytes(tenant_.name, up + outcome.bytes_b_to_a, now);
  write_trail(0, up, outcome.bytes_b_to_a, outcome.end);
  metrics_->bytes_to_destination.fetch_add(up, std::memory_order_relaxed);
  metrics_->bytes_from_destination.fetch_add(outcome.bytes_b_to_a, std::memory_order_relaxed);
  count_end(session_result_of(outcome));
  ctx_.loop.destroy_later(std::move(pump_));  // we are inside its callback
  ctx_.loop.destroy_later(std::move(upstream_));
  auto on_done = std::move(on_done_);
  if (on_done) on_done(outcome);
}

void EgressSession::count_end(SessionResult result, std::string_view why) {
  if (auto limit = tenant_limit_of(why)) metrics_->refused_by(*limit);
  metrics_->ended(result);
}

void EgressSession::write_trail(std::optional<int> reply, uint64_t up, uint64_t down,
                                const std::string& end) {
  std::optional<TrailSmtp> smtp;
  if (smtp_) {
    smtp = smtp_->ended(dial_.source, dial_.connected);
    smtp_.reset();  // nothing more to see; the pump's tap is gone or going
  }
  if (!ctx_.trail.enabled() && !log_enabled(LogLevel::Info)) return;
  TrailRecord record;
  record.time = started_wall_;
  record.tenant = tenant_.name;
  record.via = origin_.via;
  record.peer = origin_.peer;
  record.credential = origin_.credential;
  record.target = target_.to_string();
  if (dial_.connected) record.connected = dial_.connected->to_string();
  if (dial_.source) record.source = dial_.source->to_string();
  record.reply = reply;
  record.bytes_up = up;
  record.bytes_down = down;
  record.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started_)
                           .count();
  record.end = end;
  record.smtp = std::move(smtp);
  MX_LOG(Info, kLog) << log_kv("tenant", tenant_.name) << log_kv("via", origin_.via)
                     << log_kv("peer", origin_.peer)
                     << log_json_kv(origin_.via == "socks5" ? "user" : "key", origin_.credential)
                     << log_kv("target", record.target) << log_kv("connected", record.connected)
                     << log_kv("source", record.source) << log_kv("reply", reply)
                     << log_kv("bytes_up", up) << log_kv("bytes_down", down)
                     << log_kv("duration_ms", record.duration_ms) << log_kv("end", end)
                     << (record.smtp ? log_kv("smtp_banner", record.smtp->banner) : LogKv{})
                     << (record.smtp ? log_kv("starttls", starttls_word(*record.smtp)) : LogKv{});
  ctx_.trail.write(record);
}

}  // namespace mx
