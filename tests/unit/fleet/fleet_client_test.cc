// FleetClient against a fake RedisLink (the I/O boundary) on a real loop:
// what it asks Redis, how it reads the answers (admitted, each limit's
// refusal with the local wording, the rate's retry time kept locally), the
// fall-back to the local rules when Redis fails, leases released, renewed
// in one call, and the heartbeat's fleet size.
#include "fleet/fleet_client.h"

#include <gtest/gtest.h>

#include "fake_redis_link.h"

namespace mx {
namespace {

using namespace std::chrono_literals;

using Call = test::RedisCall;
using FakeLink = test::FakeRedisLink;
RedisAnswer ok(std::vector<int64_t> integers) { return test::redis_ok(std::move(integers)); }

class FleetClientTest : public ::testing::Test {
 protected:
  FleetClientTest() {
    config_.key_prefix = "p:";
    config_.lease_time = 30s;
    auto link = std::make_unique<FakeLink>(calls_);
    link_ = link.get();
    client_ = std::make_unique<FleetClient>(loop_, config_, "srv", 2, state_, std::move(link),
                                            [this] { return now_; });
    // The first heartbeat: a fleet of three.
    EXPECT_EQ(calls_.size(), 1u);
    EXPECT_EQ(calls_[0].script, FleetScript::Heartbeat);
    EXPECT_EQ(calls_[0].keys, std::vector<std::string>{"p:servers"});
    EXPECT_EQ(calls_[0].argv, (std::vector<std::string>{"srv", "3000"}));
    calls_[0].done(ok({3}));
    calls_.clear();
  }
  ~FleetClientTest() override {
    client_.reset();
    loop_.run_deferred();
  }

  // Admits a session, returning what `done` got (nullopt: not yet).
  std::shared_ptr<std::optional<FleetAdmission>> admit(const ServerConfig::Limits& limits,
                                                       const std::string& id,
                                                       uint64_t* ticket = nullptr) {
    auto result = std::make_shared<std::optional<FleetAdmission>>();
    const uint64_t t = client_->admit("acme", limits, "192.0.2.7", id,
                                      [result](FleetAdmission a) { *result = std::move(a); });
    if (ticket != nullptr) *ticket = t;
    return result;
  }

  ServerConfig::Limits limits_ = [] {
    ServerConfig::Limits l;
    l.max_connections = 10;
    l.connections_per_minute = 60;
    l.max_per_destination = 2;
    return l;
  }();
  Loop loop_;
  FleetConfig config_;
  FleetState state_;
  std::vector<Call> calls_;
  FakeLink* link_ = nullptr;
  FleetClient::Steady now_{};
  std::unique_ptr<FleetClient> client_;
};

TEST_F(FleetClientTest, HeartbeatMakesTheFleetShared) {
  EXPECT_EQ(state_.mode(), FleetMode::Shared);
  EXPECT_EQ(state_.fleet_size(), 3u);
}

TEST_F(FleetClientTest, SessionIdsAreUniquePerServerAndThread) {
  EXPECT_EQ(client_->new_session_id(), "srv:2:1");
  EXPECT_EQ(client_->new_session_id(), "srv:2:2");
}

TEST_F(FleetClientTest, OneAdmitCallWithEveryLimitThenTheLeaseIsHeldAndReleased) {
  auto result = admit(limits_, "srv:2:1");
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].script, FleetScript::Admit);
  const std::string today = std::to_string(FleetState::utc_day(std::chrono::system_clock::now()));
  EXPECT_EQ(calls_[0].keys,
            (std::vector<std::string>{"p:t:acme:rate", "p:t:acme:conns", "p:t:acme:dest:192.0.2.7",
                                      "p:t:acme:bytes:" + today}));
  EXPECT_EQ(calls_[0].argv, (std::vector<std::string>{"srv:2:1", "30000", "60", "10", "2", "0"}));
  EXPECT_FALSE(*result);  // waits for Redis
  calls_[0].done(ok({0, 0}));
  ASSERT_TRUE(*result);
  EXPECT_EQ((*result)->verdict, FleetVerdict::Admitted);
  EXPECT_EQ(client_->live_leases(), 1u);
  client_->release("srv:2:1");
  ASSERT_EQ(calls_.size(), 2u);
  EXPECT_EQ(calls_[1].script, FleetScript::Release);
  EXPECT_EQ(calls_[1].keys,
            (std::vector<std::string>{"p:t:acme:conns", "p:t:acme:dest:192.0.2.7"}));
  EXPECT_EQ(calls_[1].argv, std::vector<std::string>{"srv:2:1"});
  EXPECT_EQ(client_->live_leases(), 0u);
}

TEST_F(FleetClientTest, RefusalsReadAsTheLocalOnes) {
  auto connections = admit(limits_, "a");
  auto destination = admit(limits_, "b");
  calls_[0].done(ok({2, 0}));
  calls_[1].done(ok({3, 0}));
  EXPECT_EQ((*connections)->verdict, FleetVerdict::Refused);
  EXPECT_EQ((*connections)->refusal, "max_connections 10 reached");
  EXPECT_EQ((*connections)->limit, FleetLimit::MaxConnections);
  EXPECT_EQ((*destination)->refusal, "max_per_destination 2 reached for 192.0.2.7");
  EXPECT_EQ((*destination)->limit, FleetLimit::MaxPerDestination);
  ServerConfig::Limits with_bytes = limits_;
  with_bytes.bytes_per_day = 1000;
  auto bytes = admit(with_bytes, "c");
  EXPECT_EQ(calls_[2].argv.back(), "1000");
  calls_[2].done(ok({4, 0}));
  EXPECT_EQ((*bytes)->verdict, FleetVerdict::Refused);
  EXPECT_EQ((*bytes)->limit, FleetLimit::BytesPerDay);
  EXPECT_EQ((*bytes)->refusal, "bytes_per_day 1000 reached");
  EXPECT_EQ(client_->live_leases(), 0u);
}

TEST_F(FleetClientTest, ARateRefusalIsRememberedUntilItsRetryTime) {
  auto rate = admit(limits_, "a");
  calls_[0].done(ok({1, 1500}));
  EXPECT_EQ((*rate)->refusal, "connections_per_minute 60 exceeded");
  EXPECT_EQ((*rate)->limit, FleetLimit::Rate);
  const auto wall = std::chrono::system_clock::now();
  EXPECT_EQ(client_->refused_now("acme", limits_, wall), "connections_per_minute 60 exceeded");
  now_ += 1499ms;
  EXPECT_TRUE(client_->refused_now("acme", limits_, wall));
  now_ += 1ms;
  EXPECT_FALSE(client_->refused_now("acme", limits_, wall));
}

TEST_F(FleetClientTest, AFailedOrTimedOutCallFallsBackToTheLocalRules) {
  auto timed_out = admit(limits_, "a");
  calls_[0].done(RedisAnswer{RedisStatus::Timeout, {}});
  EXPECT_EQ((*timed_out)->verdict, FleetVerdict::Local);
  EXPECT_EQ(state_.mode(), FleetMode::Local);
  EXPECT_EQ(state_.local_limits(limits_).max_connections, 4u);  // ceil(10 / 3)
  // While Local, no call is made.
  auto next = admit(limits_, "b");
  ASSERT_TRUE(*next);
  EXPECT_EQ((*next)->verdict, FleetVerdict::Local);
  EXPECT_EQ(calls_.size(), 1u);
  // Both are kept, for the renewal to register once Redis is back.
  EXPECT_EQ(client_->live_leases(), 2u);
}

TEST_F(FleetClientTest, LosingTheConnectionIsLocalAtOnceAndReconnectingSharedAgain) {
  link_->set_up(false);
  EXPECT_EQ(state_.mode(), FleetMode::Local);
  auto local = admit(limits_, "a");
  EXPECT_EQ((*local)->verdict, FleetVerdict::Local);
  EXPECT_TRUE(calls_.empty());
  link_->set_up(true);
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].script, FleetScript::Heartbeat);
  calls_[0].done(ok({2}));
  EXPECT_EQ(state_.mode(), FleetMode::Shared);
  EXPECT_EQ(state_.fleet_size(), 2u);
}

TEST_F(FleetClientTest, ATenantWithoutLimitsIsNotAskedAbout) {
  auto result = admit(ServerConfig::Limits{}, "a");
  ASSERT_TRUE(*result);
  EXPECT_EQ((*result)->verdict, FleetVerdict::Admitted);
  EXPECT_TRUE(calls_.empty());
}

TEST_F(FleetClientTest, ALeaseGrantedAfterCancelIsReleased) {
  uint64_t ticket = 0;
  auto result = admit(limits_, "gone", &ticket);
  client_->cancel(ticket);
  calls_[0].done(ok({0, 0}));
  EXPECT_FALSE(*result);
  ASSERT_EQ(calls_.size(), 2u);
  EXPECT_EQ(calls_[1].script, FleetScript::Release);
  EXPECT_EQ(calls_[1].argv, std::vector<std::string>{"gone"});
}

TEST(FleetClientRenewal, EveryLiveLeaseIsRenewedInOneCallEveryThirdOfTheLease) {
  Loop loop;
  FleetConfig config;
  config.key_prefix = "p:";
  config.lease_time = 150ms;
  config.heartbeat_interval = 10s;
  FleetState state;
  std::vector<Call> calls;
  auto client = std::make_unique<FleetClient>(loop, config, "srv", 0, state,
                                              std::make_unique<FakeLink>(calls));
  calls[0].done(ok({1}));
  ServerConfig::Limits limits;
  limits.max_connections = 5;
  for (const char* id : {"a", "b"}) {
    client->admit("acme", limits, "192.0.2.1", id, [](FleetAdmission) {});
    calls.back().done(ok({0, 0}));
  }
  calls.clear();
  Timer stop(loop);
  stop.start(75ms, [&] { loop.stop(); });
  loop.run();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].script, FleetScript::Renew);
  EXPECT_EQ(calls[0].keys, (std::vector<std::string>{"p:t:acme:conns", "p:t:acme:conns"}));
  EXPECT_EQ(calls[0].argv, (std::vector<std::string>{"150", "a", "b"}));
  client.reset();
  loop.run_deferred();
}

TEST(FleetClientBytes, BytesAreFlushedOnceASecondAndTheFleetsTotalRefusesTheTenant) {
  Loop loop;
  FleetConfig config;
  config.key_prefix = "p:";
  config.heartbeat_interval = 10s;
  FleetState state;
  std::vector<Call> calls;
  auto client = std::make_unique<FleetClient>(loop, config, "srv", 0, state,
                                              std::make_unique<FakeLink>(calls));
  calls[0].done(ok({2}));
  calls.clear();
  const auto wall = std::chrono::system_clock::now();
  ServerConfig::Limits limits;
  limits.bytes_per_day = 1000;
  client->add_bytes("acme", 300, wall);
  client->add_bytes("acme", 200, wall);
  EXPECT_FALSE(client->refused_now("acme", limits, wall));
  Timer stop(loop);
  stop.start(1100ms, [&] { loop.stop(); });
  loop.run();
  ASSERT_EQ(calls.size(), 1u);  // one flush of both counts
  EXPECT_EQ(calls[0].script, FleetScript::AddBytes);
  EXPECT_EQ(calls[0].keys, std::vector<std::string>{"p:t:acme:bytes:" +
                                                    std::to_string(FleetState::utc_day(wall))});
  EXPECT_EQ(calls[0].argv, std::vector<std::string>{"500"});
  calls[0].done(ok({1000}));  // the other server relayed 500 too
  EXPECT_EQ(client->refused_now("acme", limits, wall), "bytes_per_day 1000 reached");
  client.reset();
  loop.run_deferred();
}

}  // namespace
}  // namespace mx
