// PasswordChecker: the caps on checks in flight, checks dropped with their
// token, verdicts back on the asking loop; with PasswordCache, the cached
// login and the backoff that refuses even a cached one.
#include "mxegress/crypto/password_checker.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "../server/loop_test_support.h"
#include "mxegress/crypto/password_cache.h"
#include "mxegress/loop/timer.h"

namespace mx {
namespace {

using namespace std::chrono_literals;
using loopback::LoopTest;

// Work that blocks until open() (so checks stay in flight), counting runs.
class Gate {
 public:
  PasswordChecker::Work work(bool verdict) {
    return [this, verdict] {
      ++runs;
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return open_; });
      return verdict;
    };
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  ~Gate() { open(); }
  std::atomic<int> runs{0};

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

std::string cheap_hash(const std::string& password) {
  char out[crypto_pwhash_STRBYTES];
  EXPECT_EQ(crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_MIN,
                              crypto_pwhash_MEMLIMIT_MIN),
            0);
  return out;
}

PasswordChecker::Settings settings(uint32_t workers, uint32_t total = 32, uint32_t per_address = 4,
                                   LoginFailures::Settings failures = {}) {
  PasswordChecker::Settings out;
  out.workers = workers;
  out.max_checks = total;
  out.max_checks_per_address = per_address;
  out.failures = failures;
  return out;
}

class PasswordCheckerTest : public LoopTest {
 protected:
  void TearDown() override {
    tokens_.clear();
    expect_every_handle_closed();
  }

  PasswordChecker::Queued check(PasswordChecker& checker, const std::string& address,
                                PasswordChecker::Work work) {
    auto queued = checker.check(loop_, address, "alice", std::move(work), [this](LoginVerdict v) {
      EXPECT_TRUE(loop_.in_loop_thread());
      verdicts_.push_back(v);
    });
    if (queued.token) tokens_.push_back(queued.token);
    return queued;
  }

  // run_until for a condition a worker thread makes true: nothing wakes the
  // loop for it, so a short timer looks again every 2 ms.
  bool run_until_seen(const std::function<bool()>& done) {
    Timer tick(loop_);
    std::function<void()> again = [&] { tick.start(2ms, again); };
    again();
    return run_until(done);
  }

  std::vector<std::shared_ptr<void>> tokens_;
  std::vector<LoginVerdict> verdicts_;
};

TEST_F(PasswordCheckerTest, CapsChecksInFlightInAllAndPerAddress) {
  Gate gate;  // each test opens it before the checker joins its workers
  PasswordChecker checker(settings(1, 3, 2));
  EXPECT_EQ(check(checker, "10.0.0.1", gate.work(true)).refused, LoginVerdict::Ok);
  EXPECT_EQ(check(checker, "10.0.0.1", gate.work(false)).refused, LoginVerdict::Ok);
  auto third = check(checker, "10.0.0.1", gate.work(true));
  EXPECT_EQ(third.refused, LoginVerdict::Busy);
  EXPECT_EQ(third.token, nullptr);
  EXPECT_EQ(check(checker, "10.0.0.2", gate.work(true)).refused, LoginVerdict::Ok);
  EXPECT_EQ(check(checker, "10.0.0.3", gate.work(true)).refused, LoginVerdict::Busy);
  EXPECT_EQ(checker.in_flight(), 3u);
  PasswordChecker::Counts counts = checker.counts();
  EXPECT_EQ(counts.refused_per_address, 1u);
  EXPECT_EQ(counts.refused_total, 1u);

  gate.open();
  ASSERT_TRUE(run_until([&] { return verdicts_.size() == 3; }));
  EXPECT_EQ(verdicts_,
            (std::vector{LoginVerdict::Ok, LoginVerdict::BadPassword, LoginVerdict::Ok}));
  EXPECT_EQ(gate.runs, 3) << "no hash computed for a refused check";
  EXPECT_EQ(checker.in_flight(), 0u);
  EXPECT_EQ(check(checker, "10.0.0.1", [] { return true; }).refused, LoginVerdict::Ok)
      << "room again";
  ASSERT_TRUE(run_until([&] { return verdicts_.size() == 4; }));
}

TEST_F(PasswordCheckerTest, AQueuedCheckWhoseTokenWasDroppedIsNotRun) {
  Gate gate;
  PasswordChecker checker(settings(1, 10, 10));
  std::atomic<int> runs{0};
  auto counted = [&runs] {
    ++runs;
    return false;
  };
  check(checker, "10.0.0.1", gate.work(true));  // occupies the one worker
  ASSERT_TRUE(run_until_seen([&] { return gate.runs == 1; }));
  bool dropped_called = false;
  for (int i = 0; i < 3; ++i) {
    auto queued = checker.check(loop_, "10.0.0.1", "mallory", counted,
                                [&](LoginVerdict) { dropped_called = true; });
    ASSERT_NE(queued.token, nullptr);  // dropped here: the client has gone
  }
  check(checker, "10.0.0.1", counted);
  EXPECT_EQ(checker.in_flight(), 5u);
  gate.open();
  ASSERT_TRUE(run_until([&] { return verdicts_.size() == 2; }));
  run_for(50ms);
  EXPECT_EQ(runs, 1) << "only the check whose token is held ran";
  EXPECT_FALSE(dropped_called);
  EXPECT_EQ(checker.counts().checks_dropped, 3u);
  EXPECT_EQ(checker.counts().checks_run, 2u);
  EXPECT_EQ(checker.in_flight(), 0u) << "a skipped check gives its place back";
}

TEST_F(PasswordCheckerTest, ACheckFinishedAfterItsTokenWasDroppedCallsNothing) {
  Gate gate;
  PasswordChecker checker(settings(1));
  bool called = false;
  {
    auto queued = checker.check(loop_, "10.0.0.1", "alice", gate.work(true),
                                [&](LoginVerdict) { called = true; });
    ASSERT_TRUE(run_until_seen([&] { return gate.runs == 1; }));
  }  // dropped while running
  gate.open();
  ASSERT_TRUE(run_until_seen([&] { return checker.counts().checks_run == 1; }));
  run_for(50ms);
  EXPECT_FALSE(called);
}

TEST_F(PasswordCheckerTest, VerdictsGoBackToTheLoopThatAsked) {
  PasswordChecker checker(settings(2));
  std::atomic<bool> other_on_its_loop{false};
  std::thread other([&] {
    Loop loop;
    bool called = false;
    auto queued = checker.check(
        loop, "10.0.0.2", "bob", [] { return true; },
        [&](LoginVerdict v) {
          other_on_its_loop = loop.in_loop_thread() && v == LoginVerdict::Ok;
          called = true;
        });
    // The post's async handle keeps no loop alive by itself: a timer does,
    // and bounds the wait.
    bool timed_out = false;
    Timer guard(loop);
    guard.start(10s, [&] { timed_out = true; });
    while (!called && !timed_out) uv_run(loop.get(), UV_RUN_ONCE);
  });
  check(checker, "10.0.0.1", [] { return true; });  // asserts loop_'s thread in the callback
  ASSERT_TRUE(run_until([&] { return verdicts_.size() == 1; }));
  other.join();
  EXPECT_TRUE(other_on_its_loop);
}

class PasswordCacheCheckerTest : public PasswordCheckerTest {
 protected:
  PasswordCacheCheckerTest()
      : checker_([this] { return now_.load(); }),
        cache_(loop_, {{"alice", cheap_hash("alice-pw")}}, checker_) {
    checker_.apply(settings(1, 32, 4, {2, 60s}));
  }

  // The verdict of one login, waited for.
  LoginVerdict login(const std::string& password, const std::string& address = "10.0.0.1") {
    std::optional<LoginVerdict> later;
    PasswordCache::Pending pending =
        cache_.verify("alice", password, address, [&](LoginVerdict v) { later = v; });
    if (pending.now) return *pending.now;
    EXPECT_TRUE(run_until([&] { return later.has_value(); }));
    return later.value_or(LoginVerdict::Busy);
  }

  std::atomic<LoginFailures::Clock::time_point> now_{LoginFailures::Clock::time_point{} + 1000s};
  PasswordChecker checker_;
  PasswordCache cache_;
};

TEST_F(PasswordCacheCheckerTest, ARememberedLoginIsNotCheckedAgain) {
  EXPECT_EQ(login("alice-pw"), LoginVerdict::Ok);
  EXPECT_EQ(checker_.counts().checks_run, 1u);
  EXPECT_EQ(login("alice-pw"), LoginVerdict::Ok);
  EXPECT_EQ(checker_.counts().checks_run, 1u) << "the cache answered";
  EXPECT_EQ(login("wrong"), LoginVerdict::BadPassword);
  EXPECT_EQ(checker_.counts().checks_run, 2u);
  EXPECT_EQ(checker_.counts().bad_passwords, 1u);
}

TEST_F(PasswordCacheCheckerTest, BackoffRefusesEvenARememberedLoginFromThatAddressOnly) {
  ASSERT_EQ(login("alice-pw"), LoginVerdict::Ok);
  EXPECT_EQ(login("wrong"), LoginVerdict::BadPassword);
  EXPECT_EQ(login("wrong"), LoginVerdict::BadPassword);
  EXPECT_EQ(checker_.counts().backoffs_started, 1u);
  const uint64_t runs = checker_.counts().checks_run;
  EXPECT_EQ(login("alice-pw"), LoginVerdict::Backoff);
  EXPECT_EQ(login("wrong"), LoginVerdict::Backoff);
  EXPECT_EQ(checker_.counts().checks_run, runs) << "refused without a check";
  EXPECT_EQ(checker_.counts().refused_backoff, 2u);
  EXPECT_EQ(login("alice-pw", "10.0.0.2"), LoginVerdict::Ok) << "another address";
  now_ = now_.load() + 60s;
  EXPECT_EQ(login("alice-pw"), LoginVerdict::Ok) << "the backoff is over";
}

}  // namespace
}  // namespace mx
