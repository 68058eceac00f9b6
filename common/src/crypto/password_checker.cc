#include "mxegress/crypto/password_checker.h"

#include <algorithm>

#include "mxegress/config/duration.h"
#include "mxegress/util/log.h"

namespace mx {
namespace {
constexpr const char* kLog = "socks5";
}  // namespace

std::string_view to_string(LoginVerdict verdict) {
  switch (verdict) {
    case LoginVerdict::Ok:
      return "ok";
    case LoginVerdict::BadPassword:
      return "bad password";
    case LoginVerdict::Busy:
      return "busy";
    case LoginVerdict::Backoff:
      return "backoff";
  }
  return "?";
}

// One queued check. `mutex` guards `cancelled` and `done`; `work` is the
// worker's once queued.
struct PasswordChecker::Job {
  Loop* loop = nullptr;
  std::string address;
  std::string user;
  Work work;
  ConcurrencyLimit::Slot slot;  // held while queued or running
  std::mutex mutex;
  bool cancelled = false;
  Done done;
};

// The caller's token: dropping it (on the caller's loop thread) cancels the
// job. A worker posts to the loop only under the job's mutex and while not
// cancelled, and the token goes before its loop does, so the loop it posts
// to is still there.
struct PasswordChecker::Handle {
  std::shared_ptr<Job> job;
  ~Handle() {
    std::lock_guard lock(job->mutex);
    job->cancelled = true;
  }
};

PasswordChecker::PasswordChecker(Now now)
    : now_(std::move(now)), limit_(ConcurrencyLimit::Caps{}) {}

PasswordChecker::~PasswordChecker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void PasswordChecker::apply(const Settings& settings) {
  limit_.set_caps({settings.max_checks, settings.max_checks_per_address});
  std::lock_guard lock(mutex_);
  failures_.set_settings(settings.failures);
  if (!workers_.empty()) return;
  const uint32_t n = std::max<uint32_t>(settings.workers, 1);
  for (uint32_t i = 0; i < n; ++i) workers_.emplace_back([this] { run_worker(); });
}

bool PasswordChecker::in_backoff(const std::string& address, const std::string& user) {
  LoginFailures::Settings settings;
  {
    std::lock_guard lock(mutex_);
    if (!failures_.in_backoff(address, now_())) return false;
    settings = failures_.settings();
  }
  refused_backoff_.fetch_add(1, std::memory_order_relaxed);
  if (auto left_out = backoff_log_.admit()) {
    MX_LOG(Warn, kLog) << "refused login of user " << log_field(user) << " from " << address
                       << " unchecked: " << settings.threshold
                       << " failed logins from this address, backing off for "
                       << format_duration(settings.backoff) << " (login_failures, login_backoff)"
                       << left_out_note(*left_out) << log_json_kv("user", user)
                       << log_json_kv("address", address);
  }
  return true;
}

PasswordChecker::Queued PasswordChecker::check(Loop& loop, const std::string& address,
                                               const std::string& user, Work work, Done done) {
  ConcurrencyLimit::Grant grant = limit_.acquire(address);
  if (!grant.slot) {
    if (auto left_out = busy_log_.admit()) {
      const ConcurrencyLimit::Caps caps = limit_.caps();
      const bool per_address = grant.refusal == ConcurrencyLimit::Refusal::PerKey;
      MX_LOG(Warn, kLog) << "refused login of user " << log_field(user) << " from " << address
                         << " unchecked: "
                         << (per_address ? std::to_string(caps.per_key) +
                                               " password checks from "
                                               "this address"
                                         : std::to_string(caps.total) + " password checks")
                         << " are in flight ("
                         << (per_address ? "max_password_checks_per_address"
                                         : "max_password_checks")
                         << ")" << left_out_note(*left_out) << log_json_kv("user", user)
                         << log_json_kv("address", address);
    }
    return {LoginVerdict::Busy, nullptr};
  }
  auto job = std::make_shared<Job>();
  job->loop = &loop;
  job->address = address;
  job->user = user;
  job->work = std::move(work);
  job->slot = std::move(grant.slot);
  job->done = std::move(done);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(job);  // the handle below keeps its own reference
  }
  wake_.notify_one();
  auto handle = std::make_shared<Handle>();
  handle->job = std::move(job);
  return {LoginVerdict::Ok, std::move(handle)};
}

void PasswordChecker::run_worker() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    bool cancelled = false;
    {
      std::lock_guard lock(job->mutex);
      cancelled = job->cancelled;
    }
    if (cancelled) {
      checks_dropped_.fetch_add(1, std::memory_order_relaxed);
      job->slot.release();
      continue;
    }
    Work work = std::move(job->work);
    const bool ok = work();
    checks_run_.fetch_add(1, std::memory_order_relaxed);
    finish(job, ok);
  }
}

void PasswordChecker::finish(const std::shared_ptr<Job>& job, bool ok) {
  if (!ok) {
    bad_passwords_.fetch_add(1, std::memory_order_relaxed);
    bool started = false;
    LoginFailures::Settings settings;
    {
      std::lock_guard lock(mutex_);
      started = failures_.failed(job->address, now_());
      settings = failures_.settings();
    }
    if (started) {
      backoffs_started_.fetch_add(1, std::memory_order_relaxed);
      MX_LOG(Warn, kLog) << settings.threshold << " failed logins from " << job->address
                         << " (the last for user " << log_field(job->user)
                         << "): its logins are refused unchecked for "
                         << format_duration(settings.backoff) << log_json_kv("user", job->user)
                         << log_json_kv("address", job->address);
    }
  }
  job->slot.release();
  std::lock_guard lock(job->mutex);
  if (job->cancelled) return;
  const LoginVerdict verdict = ok ? LoginVerdict::Ok : LoginVerdict::BadPassword;
  job->loop->post([job, verdict] {
    Done done;
    {
      std::lock_guard lock(job->mutex);
      if (job->cancelled) return;
      done = std::move(job->done);
    }
    if (done) done(verdict);
  });
}

PasswordChecker::Counts PasswordChecker::counts() const {
  Counts counts;
  counts.checks_run = checks_run_.load(std::memory_order_relaxed);
  counts.checks_dropped = checks_dropped_.load(std::memory_order_relaxed);
  counts.bad_passwords = bad_passwords_.load(std::memory_order_relaxed);
  counts.backoffs_started = backoffs_started_.load(std::memory_order_relaxed);
  counts.refused_backoff = refused_backoff_.load(std::memory_order_relaxed);
  const ConcurrencyLimit::Refused refused = limit_.refused();
  counts.refused_total = refused.total;
  counts.refused_per_address = refused.per_key;
  return counts;
}

}  // namespace mx
