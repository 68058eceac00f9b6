// The Dialer with a fleet (docs/fleet.md): one Admit call per dial, before
// the first connect, which waits for it; a fleet refusal ends the dial with
// 0x02 and the limit's usual wording, giving back the local slots; Redis
// failing lets the dial go on under the local rules; the session's leases
// are released when its connection ends. The fleet's Redis is a fake link.
#include "../fleet/fake_redis_link.h"
#include "dialer.h"
#include "loop_test_support.h"

namespace mx::loopback {
namespace {

class DialerFleetTest : public LoopTest {
 protected:
  void TearDown() override {
    result_.connection.reset();
    dialer_.reset();
    lease_.reset();
    fleet_.reset();
    destination_.reset();
    expect_every_handle_closed();
  }

  void start_fleet() {
    FleetConfig config;
    config.key_prefix = "p:";
    auto link = std::make_unique<test::FakeRedisLink>(calls_);
    fleet_ = std::make_unique<FleetClient>(loop_, config, "srv", 0, state_, std::move(link));
    calls_.at(0).done(test::redis_ok({3}));  // the first heartbeat
    calls_.clear();
  }

  void dial(uint16_t port) {
    tenant_ = loopback_tenant({port});
    tenant_.limits.max_connections = 10;
    tenant_.limits.max_per_destination = 1;
    policy_ = std::make_unique<DestinationPolicy>(tenant_.policy.ports, tenant_.policy.deny,
                                                  tenant_.policy.allow);
    usage_.for_tenant(tenant_.name)->admit(state_.local_limits(tenant_.limits), {}, {});
    lease_ = std::make_unique<UsageLease>(usage_.for_tenant(tenant_.name));
    DialRules rules{*policy_, tenant_, *lease_, TcpLiveness{}};
    rules.local_limits = state_.local_limits(tenant_.limits);
    rules.fleet = fleet_.get();
    rules.fleet_session = "srv:0:1";
    dialer_ = std::make_unique<Dialer>(loop_, DialNames{names_, nullptr}, rules, 5s, "test");
    dialer_->dial(loopback_target(port), [this](DialResult r) {
      ++dialed_;
      result_ = std::move(r);
    });
  }

  FleetState state_;
  std::vector<test::RedisCall> calls_;
  std::unique_ptr<FleetClient> fleet_;
  ServerConfig::Tenant tenant_;
  std::unique_ptr<DestinationPolicy> policy_;
  UsageRegistry usage_;
  NoResolver names_;
  std::unique_ptr<UsageLease> lease_;
  std::unique_ptr<Dialer> dialer_;
  std::unique_ptr<Destination> destination_;
  int dialed_ = 0;
  DialResult result_;
};

TEST_F(DialerFleetTest, TheConnectWaitsForTheFleetsAdmissionThenTheLeaseGoesWithTheConnection) {
  start_fleet();
  destination_ = std::make_unique<Destination>(loop_, false);
  dial(destination_->port());
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].script, FleetScript::Admit);
  EXPECT_EQ(calls_[0].keys[2], "p:t:acme:dest:127.0.0.1");
  EXPECT_EQ(calls_[0].argv[0], "srv:0:1");
  run_for(50ms);
  EXPECT_TRUE(destination_->peers.empty()) << "nothing dialed before the fleet answered";
  EXPECT_EQ(dialed_, 0);
  calls_[0].done(test::redis_ok({0, 0}));
  ASSERT_TRUE(run_until([&] { return dialed_ == 1 && destination_->peers.size() == 1; }));
  EXPECT_EQ(result_.reply, socks5::Reply::Succeeded) << result_.detail;
  EXPECT_EQ(fleet_->live_leases(), 1u);
  result_.connection.reset();
  dialer_.reset();
  lease_.reset();  // the session ends
  EXPECT_EQ(fleet_->live_leases(), 0u);
  ASSERT_EQ(calls_.size(), 2u);
  EXPECT_EQ(calls_[1].script, FleetScript::Release);
  EXPECT_EQ(calls_[1].argv, std::vector<std::string>{"srv:0:1"});
}

TEST_F(DialerFleetTest, AFleetRefusalIsNotAllowedWithTheLimitsWordingAndDialsNothing) {
  start_fleet();
  destination_ = std::make_unique<Destination>(loop_, false);
  dial(destination_->port());
  calls_.at(0).done(test::redis_ok({2, 0}));
  ASSERT_TRUE(run_until([&] { return dialed_ == 1; }));
  EXPECT_EQ(result_.reply, socks5::Reply::NotAllowed);
  EXPECT_EQ(result_.detail, "max_connections 10 reached");
  run_for(50ms);
  EXPECT_TRUE(destination_->peers.empty());
  // The local slot of the destination is free again (max_per_destination 1).
  EXPECT_FALSE(usage_.for_tenant("acme")->admit_destination(tenant_.limits, "127.0.0.1"));
}

TEST_F(DialerFleetTest, ATimedOutAdmissionDialsUnderTheLocalRules) {
  start_fleet();
  destination_ = std::make_unique<Destination>(loop_, false);
  dial(destination_->port());
  calls_.at(0).done(RedisAnswer{RedisStatus::Timeout, {}});
  ASSERT_TRUE(run_until([&] { return dialed_ == 1 && destination_->peers.size() == 1; }));
  EXPECT_EQ(result_.reply, socks5::Reply::Succeeded) << result_.detail;
  EXPECT_EQ(state_.mode(), FleetMode::Local);
}

TEST_F(DialerFleetTest, CancelWhileTheFleetIsAskedGivesEverythingBack) {
  start_fleet();
  destination_ = std::make_unique<Destination>(loop_, false);
  dial(destination_->port());
  dialer_->cancel();
  // The answer comes after all: the lease it granted is released.
  calls_.at(0).done(test::redis_ok({0, 0}));
  EXPECT_EQ(fleet_->live_leases(), 0u);
  EXPECT_EQ(dialed_, 0);
  EXPECT_FALSE(usage_.for_tenant("acme")->admit_destination(tenant_.limits, "127.0.0.1"));
}

}  // namespace
}  // namespace mx::loopback
