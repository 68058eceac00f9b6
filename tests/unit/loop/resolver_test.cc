// The Resolver on a real Loop with real c-ares, against a DNS server of
// the test's own on loopback (FakeDnsServer): answers, NXDOMAIN, a server
// that never answers (timeout within [resolver] timeout), one that refuses,
// cancellation (the callback dropped at once, the slot given back when
// c-ares ends the query), a reconfigure with queries under way, and a
// resolver destroyed under them. Every libuv handle must be closed at the end.
#include "mxegress/loop/resolver.h"

#include <ares.h>

#include "../server/loop_test_support.h"
#include "fake_dns_server.h"

namespace mx::loopback {
namespace {

using Status = ResolveResult::Status;
using testing::FakeDnsServer;

class ResolverTest : public LoopTest {
 protected:
  ResolverTest() : dns_({{"mx.good.test", {192, 0, 2, 10}}}, ".silent.test") {}

  void TearDown() override {
    lookups_.clear();
    resolver_.reset();
    expect_every_handle_closed();
  }

  ResolverSettings settings(std::chrono::milliseconds timeout = 300ms) {
    ResolverSettings s;
    s.servers = {dns_.address()};
    s.timeout = timeout;
    s.tries = 2;
    return s;
  }

  void configure(std::chrono::milliseconds timeout = 300ms) {
    resolver_ = std::make_unique<Resolver>(loop_);
    ASSERT_EQ(resolver_->configure(settings(timeout)), "");
  }

  // Starts a lookup whose answer lands in results_[index]; returns index.
  size_t resolve(const std::string& name, ConcurrencyLimit::Slot slot = {}) {
    const size_t index = results_.size();
    results_.emplace_back();
    lookups_.push_back(resolver_->resolve(
        name, 25, [this, index](ResolveResult r) { results_[index] = std::move(r); },
        std::move(slot)));
    return index;
  }
  bool answered(size_t index) const { return results_[index].has_value(); }

  FakeDnsServer dns_;
  std::unique_ptr<Resolver> resolver_;
  std::vector<std::unique_ptr<Resolution>> lookups_;
  std::vector<std::optional<ResolveResult>> results_;
};

TEST_F(ResolverTest, ANameTheServerKnowsResolvesWithThePortAskedFor) {
  configure();
  const size_t i = resolve("mx.good.test");
  EXPECT_FALSE(answered(i)) << "never from inside resolve()";
  ASSERT_TRUE(run_until([&] { return answered(i); }));
  EXPECT_EQ(results_[i]->status, Status::Ok) << results_[i]->error;
  ASSERT_EQ(results_[i]->addresses.size(), 1u);
  EXPECT_EQ(results_[i]->addresses[0].to_string(), "192.0.2.10:25");
  EXPECT_EQ(dns_.queries("mx.good.test"), 2) << "A and AAAA";
  EXPECT_EQ(resolver_->queries_in_flight(), 0u);
}

TEST_F(ResolverTest, AnIpLiteralIsAnsweredFromTheLoopWithoutAQuery) {
  configure();
  const size_t v4 = resolve("127.0.0.1");
  const size_t v6 = resolve("2001:db8::1");
  EXPECT_FALSE(answered(v4));
  ASSERT_TRUE(run_until([&] { return answered(v4) && answered(v6); }));
  EXPECT_EQ(results_[v4]->addresses.at(0).to_string(), "127.0.0.1:25");
  EXPECT_EQ(results_[v6]->addresses.at(0).to_string(), "[2001:db8::1]:25");
  EXPECT_EQ(dns_.total_queries(), 0);
}

TEST_F(ResolverTest, AnUnknownNameIsNotFound) {
  configure();
  const size_t i = resolve("nowhere.good.test");
  ASSERT_TRUE(run_until([&] { return answered(i); }));
  EXPECT_EQ(results_[i]->status, Status::NotFound);
  EXPECT_FALSE(results_[i]->error.empty());
}

TEST_F(ResolverTest, ASilentServerTimesOutWithinTheTimeoutAndGivesTheSlotBack) {
  configure(300ms);
  ConcurrencyLimit limit({});
  const auto started = std::chrono::steady_clock::now();
  const size_t i = resolve("x.silent.test", limit.acquire("acme").slot);
  EXPECT_EQ(limit.in_flight(), 1u);
  ASSERT_TRUE(run_until([&] { return answered(i); }, 2s));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(results_[i]->status, Status::Timeout) << results_[i]->error;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 600ms) << "the lookup's own deadline";
  // c-ares's tries were sized to end within the timeout too.
  ASSERT_TRUE(run_until([&] { return limit.in_flight() == 0; }, 1s));
  EXPECT_EQ(resolver_->queries_in_flight(), 0u);
  EXPECT_GE(dns_.queries("x.silent.test"), 2) << "A and AAAA, each tried";
}

TEST_F(ResolverTest, AServerThatRefusesFailsAtOnce) {
  // A UDP port nobody listens on: the kernel answers port unreachable.
  ResolverSettings s = settings(2s);
  s.servers = {*SocketAddress::parse_ip("127.0.0.1", 1)};
  resolver_ = std::make_unique<Resolver>(loop_);
  ASSERT_EQ(resolver_->configure(s), "");
  const auto started = std::chrono::steady_clock::now();
  const size_t i = resolve("mx.good.test");
  ASSERT_TRUE(run_until([&] { return answered(i); }, 3s));
  EXPECT_EQ(results_[i]->status, Status::Failed) << results_[i]->error;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

TEST_F(ResolverTest, CancellingDropsTheCallbackAtOnceAndTheSlotWhenCAresEndsTheQuery) {
  configure(400ms);
  ConcurrencyLimit limit({});
  auto captured = std::make_shared<int>(0);
  int calls = 0;
  auto lookup = resolver_->resolve(
      "y.silent.test", 25, [captured, &calls](ResolveResult) { ++calls; },
      limit.acquire("acme").slot);
  run_for(50ms);
  EXPECT_EQ(captured.use_count(), 2);
  lookup.reset();
  EXPECT_EQ(captured.use_count(), 1) << "the callback and what it captured are freed at once";
  EXPECT_EQ(limit.in_flight(), 1u) << "the query is still under way in c-ares";
  EXPECT_EQ(resolver_->queries_in_flight(), 1u);
  ASSERT_TRUE(run_until([&] { return limit.in_flight() == 0; }, 1s))
      << "given back when c-ares ends it, within the timeout";
  EXPECT_EQ(resolver_->queries_in_flight(), 0u);
  EXPECT_EQ(calls, 0);
}

TEST_F(ResolverTest, ANameThatResolvesIsNotDelayedByHundredsOfSilentOnes) {
  configure(2s);
  for (int n = 0; n < 500; ++n) resolve("s" + std::to_string(n) + ".silent.test");
  run_for(100ms);  // every silent query has left
  const auto started = std::chrono::steady_clock::now();
  const size_t good = resolve("mx.good.test");
  ASSERT_TRUE(run_until([&] { return answered(good); }, 2s));
  EXPECT_EQ(results_[good]->status, Status::Ok);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 100ms);
  EXPECT_EQ(resolver_->queries_in_flight(), 500u);
  lookups_.clear();  // cancelled: the queries go on in c-ares until their timeout
  EXPECT_EQ(resolver_->queries_in_flight(), 500u);
}

TEST_F(ResolverTest, AReconfigureKeepsLookupsUnderWayOnTheirChannelUntilItDrains) {
  configure(300ms);
  const size_t silent = resolve("z.silent.test");
  ASSERT_EQ(resolver_->configure(settings(300ms)), "");
  EXPECT_EQ(resolver_->channels(), 2u);
  const size_t good = resolve("mx.good.test");
  ASSERT_TRUE(run_until([&] { return answered(good) && answered(silent); }, 2s));
  EXPECT_EQ(results_[good]->status, Status::Ok);
  EXPECT_EQ(results_[silent]->status, Status::Timeout);
  ASSERT_TRUE(run_until([&] { return resolver_->channels() == 1; }, 1s))
      << "the old channel goes once its last query ended";
}

TEST_F(ResolverTest, DestroyingTheResolverEndsItsQueriesAndGivesTheirSlotsBack) {
  configure(5s);
  ConcurrencyLimit limit({});
  resolve("w.silent.test", limit.acquire("acme").slot);
  run_for(20ms);
  lookups_.clear();
  EXPECT_EQ(limit.in_flight(), 1u);
  resolver_.reset();
  EXPECT_EQ(limit.in_flight(), 0u);
}

TEST_F(ResolverTest, WithoutAChannelEveryLookupFails) {
  resolver_ = std::make_unique<Resolver>(loop_);
  const size_t i = resolve("mx.good.test");
  ASSERT_TRUE(run_until([&] { return answered(i); }));
  EXPECT_EQ(results_[i]->status, Status::Failed);
  EXPECT_EQ(results_[i]->error, "no resolver configured");
}

TEST(ResolveResult, SaysWhatEachCAresOutcomeMeans) {
  const auto address = *SocketAddress::parse("192.0.2.1:25");
  EXPECT_EQ(resolve_result(ARES_SUCCESS, {address}).status, Status::Ok);
  EXPECT_EQ(resolve_result(ARES_SUCCESS, {}).status, Status::NotFound);
  EXPECT_EQ(resolve_result(ARES_ENOTFOUND, {}).status, Status::NotFound);
  EXPECT_EQ(resolve_result(ARES_ENODATA, {}).status, Status::NotFound);
  EXPECT_EQ(resolve_result(ARES_ETIMEOUT, {}).status, Status::Timeout);
  EXPECT_EQ(resolve_result(ARES_ESERVFAIL, {}).status, Status::Failed);
  EXPECT_EQ(resolve_result(ARES_ECONNREFUSED, {}).status, Status::Failed);
  EXPECT_EQ(resolve_result(ARES_EDESTRUCTION, {}).error, "resolver shut down");
  EXPECT_FALSE(resolve_result(ARES_ESERVFAIL, {}).error.empty());
}

}  // namespace
}  // namespace mx::loopback
