// The argon2id checks of RFC 1929 logins, for the whole process: a few
// threads of their own (not libuv's pool, which the resolver and the file
// work share), a cap on the checks queued or running, in total and per
// source address, and a backoff for an address that keeps failing
// (LoginFailures). A login over a cap or in backoff is refused at once
// without computing a hash; the refusal is counted (counts()) and logged at
// warn, at most one line per 10 s for each kind, naming the address and
// user. A queued check whose caller dropped its token is skipped, not run.
//
// Thread-safe: the server's loop threads share one checker. Verdicts go
// back to the loop that asked, through Loop::post.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mxegress/crypto/login_failures.h"
#include "mxegress/loop/loop.h"
#include "mxegress/util/concurrency_limit.h"
#include "mxegress/util/log_rate_limit.h"

namespace mx {

enum class LoginVerdict {
  Ok,
  BadPassword,  // checked, and wrong (or no such user)
  Busy,         // refused unchecked: too many checks in flight
  Backoff,      // refused unchecked: too many recent failures from the address
};
std::string_view to_string(LoginVerdict verdict);

class PasswordChecker {
 public:
  using Clock = LoginFailures::Clock;
  struct Settings {
    uint32_t workers = 2;      // threads; fixed by the first apply()
    uint32_t max_checks = 32;  // queued + running, 0 = unlimited
    uint32_t max_checks_per_address = 4;
    LoginFailures::Settings failures;
  };
  struct Counts {
    uint64_t checks_run = 0;
    uint64_t checks_dropped = 0;  // queued, then skipped: the caller had gone
    uint64_t bad_passwords = 0;
    uint64_t backoffs_started = 0;
    uint64_t refused_total = 0;        // Busy by max_checks
    uint64_t refused_per_address = 0;  // Busy by max_checks_per_address
    uint64_t refused_backoff = 0;
  };
  // The check itself: true when the password is right. Runs on a worker.
  using Work = std::function<bool()>;
  using Done = std::function<void(LoginVerdict)>;
  using Now = std::function<Clock::time_point()>;

  // Starts no thread until apply().
  explicit PasswordChecker(Now now = [] { return Clock::now(); });
  explicit PasswordChecker(Settings settings) : PasswordChecker() { apply(settings); }
  ~PasswordChecker();  // joins the workers; checks still queued are dropped
  PasswordChecker(const PasswordChecker&) = delete;
  PasswordChecker& operator=(const PasswordChecker&) = delete;

  // At start and on reload: caps and backoff take effect for new logins;
  // the number of workers only the first time.
  void apply(const Settings& settings);

  // Whether logins from `address` are refused now, unchecked, for recent
  // failures (then logged and counted). Before any cache of good logins:
  // a remembered login is refused too while its address is in backoff.
  bool in_backoff(const std::string& address, const std::string& user);

  // Queues `work` within the caps. Refused (Busy, logged and counted): no
  // token, and `done` is never called. Queued: `done` gets Ok or
  // BadPassword on `loop`, unless the token was dropped first; a check
  // whose token is gone before a worker takes it does not run at all.
  struct Queued {
    LoginVerdict refused = LoginVerdict::Ok;  // Busy when refused
    std::shared_ptr<void> token;
  };
  Queued check(Loop& loop, const std::string& address, const std::string& user, Work work,
               Done done);

  Counts counts() const;
  size_t in_flight() const { return limit_.in_flight(); }

 private:
  struct Job;
  struct Handle;
  void run_worker();
  void finish(const std::shared_ptr<Job>& job, bool ok);

  Now now_;
  ConcurrencyLimit limit_;
  mutable std::mutex mutex_;  // the members below
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  LoginFailures failures_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  LogRateLimit busy_log_;
  LogRateLimit backoff_log_;
  std::atomic<uint64_t> checks_run_{0}, checks_dropped_{0}, bad_passwords_{0}, backoffs_started_{0},
      refused_backoff_{0};
};

}  // namespace mx
