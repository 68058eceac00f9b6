// Tier (c): the Dialer against loopback: a listening port, a refused one, a
// deny-listed address (no connect at all), and a dial cancelled while its
// SYNs go unanswered. Names go through a fake resolver (the real one has its
// own tests): the caps on lookups, and what each lookup outcome replies.
#include "dialer.h"

#include "loop_test_support.h"

namespace mx::loopback {
namespace {

// A NameResolver that answers when the test says so. A lookup the dialer
// cancels stays "under way" with its slot, as a c-ares query does, until
// the test ends it.
class FakeResolver final : public NameResolver {
 public:
  struct Query {
    std::string host;
    uint16_t port = 0;
    Callback done;  // dropped when the lookup is cancelled
    ConcurrencyLimit::Slot slot;
  };
  class Handle final : public Resolution {
   public:
    explicit Handle(Query& query) : query_(query) {}
    ~Handle() override { query_.done = nullptr; }

   private:
    Query& query_;
  };

  std::unique_ptr<Resolution> resolve(const std::string& host, uint16_t port, Callback done,
                                      ConcurrencyLimit::Slot slot) override {
    queries.push_back(std::make_unique<Query>(Query{host, port, std::move(done), std::move(slot)}));
    return std::make_unique<Handle>(*queries.back());
  }
  void answer(size_t i, ResolveResult result) {
    auto done = std::move(queries.at(i)->done);
    queries.at(i)->slot.release();
    if (done) done(std::move(result));
  }

  std::vector<std::unique_ptr<Query>> queries;
};

class DialerTest : public LoopTest {
 protected:
  void TearDown() override {
    result_.connection.reset();
    dialer_.reset();
    lease_.reset();
    destination_.reset();
    expect_every_handle_closed();
  }

  // Dials `target` for a tenant that may reach 127.0.0.1 on `ports`.
  void dial(const Target& target, std::vector<uint16_t> ports,
            std::chrono::milliseconds timeout = 5s, LookupGate* gate = nullptr) {
    tenant_ = loopback_tenant(std::move(ports));
    tenant_.limits.max_per_destination = 1;
    policy_ = std::make_unique<DestinationPolicy>(tenant_.policy.ports, tenant_.policy.deny,
                                                  tenant_.policy.allow);
    lease_ = std::make_unique<UsageLease>(usage_.for_tenant(tenant_.name));
    DialRules rules{*policy_, tenant_, *lease_, TcpLiveness{}};
    dialer_ = std::make_unique<Dialer>(loop_, DialNames{names_, gate}, rules, timeout, "test");
    dialer_->dial(target, [this](DialResult r) {
      ++calls_;
      result_ = std::move(r);
    });
  }

  // Whether another connection to 127.0.0.1 fits under max_per_destination 1
  // (taken back at once).
  bool destination_slot_free() {
    TenantUsage& usage = *usage_.for_tenant(tenant_.name);
    if (usage.admit_destination(tenant_.limits, "127.0.0.1")) return false;
    usage.release_destination("127.0.0.1");
    return true;
  }

  ServerConfig::Tenant tenant_;
  std::unique_ptr<DestinationPolicy> policy_;
  UsageRegistry usage_;
  FakeResolver names_;
  std::unique_ptr<UsageLease> lease_;
  std::unique_ptr<Dialer> dialer_;
  std::unique_ptr<Destination> destination_;
  int calls_ = 0;
  DialResult result_;
};

TEST_F(DialerTest, AListeningPortConnects) {
  destination_ = std::make_unique<Destination>(loop_, false);
  dial(loopback_target(destination_->port()), {destination_->port()});
  ASSERT_TRUE(run_until([&] { return calls_ == 1 && destination_->peers.size() == 1; }));
  EXPECT_EQ(result_.reply, socks5::Reply::Succeeded) << result_.detail;
  ASSERT_TRUE(result_.connection);
  ASSERT_TRUE(result_.connected);
  EXPECT_EQ(*result_.connected, destination_->address());
  ASSERT_TRUE(result_.source);
  EXPECT_EQ(result_.source->ip_string(), "127.0.0.1");
  EXPECT_NE(result_.source->port(), 0);
  // Our side is the address the destination sees.
  EXPECT_EQ(*result_.source, *destination_->peers[0]->connection->peer_address());
  EXPECT_EQ(*result_.connection->local_address(), *result_.source);
  EXPECT_FALSE(dialer_->dialing());
  EXPECT_FALSE(destination_slot_free()) << "the connection holds its destination slot";
  dialer_.reset();
  lease_.reset();
  EXPECT_TRUE(destination_slot_free()) << "and gives it back with its lease";
}

TEST_F(DialerTest, AClosedPortIsConnectionRefused) {
  RefusingPort refusing;
  ASSERT_NE(refusing.port(), 0);
  const uint16_t port = refusing.port();
  dial(loopback_target(port), {port});
  ASSERT_TRUE(run_until([&] { return calls_ == 1; }));
  EXPECT_EQ(result_.reply, socks5::Reply::ConnectionRefused) << result_.detail;
  EXPECT_EQ(static_cast<int>(result_.reply), 0x05);
  EXPECT_FALSE(result_.connection);
  ASSERT_TRUE(result_.connected);
  EXPECT_EQ(result_.connected->port(), port);
  EXPECT_NE(result_.detail.find("refused"), std::string::npos) << result_.detail;
  EXPECT_TRUE(destination_slot_free()) << "a failed attempt gives its slot back";
}

TEST_F(DialerTest, ADenyListedAddressIsNotAllowedWithoutAConnect) {
  // The built-in deny-list (the tenant's `allow` is 127.0.0.0/8 only).
  dial(Target::ipv4({10, 0, 0, 1}, 25), {25});
  EXPECT_EQ(calls_, 1) << "decided without a loop turn";
  EXPECT_EQ(result_.reply, socks5::Reply::NotAllowed);
  EXPECT_EQ(static_cast<int>(result_.reply), 0x02);
  EXPECT_FALSE(result_.connection);
  EXPECT_FALSE(result_.connected) << "nothing was dialed";
  EXPECT_FALSE(result_.source);
  EXPECT_NE(result_.detail.find("10.0.0.1 is private"), std::string::npos) << result_.detail;
}

TEST_F(DialerTest, APortNotAllowedIsRefusedBeforeAnything) {
  dial(loopback_target(26), {25});
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(result_.reply, socks5::Reply::NotAllowed);
  EXPECT_EQ(result_.detail, "port 26 is not allowed");
  EXPECT_FALSE(result_.connected);
}

TEST_F(DialerTest, CancelStopsADialWhoseSynsGoUnanswered) {
  UnansweredPort unanswered;
  if (!unanswered.ok()) GTEST_SKIP() << "this kernel answers a full listen queue";
  dial(loopback_target(unanswered.port()), {unanswered.port()});
  run_for(300ms);
  ASSERT_EQ(calls_, 0) << "connected: " << result_.detail;
  ASSERT_TRUE(dialer_->dialing());
  EXPECT_FALSE(destination_slot_free()) << "the attempt holds its destination slot";

  const DialResult where = dialer_->cancel();
  EXPECT_FALSE(dialer_->dialing());
  EXPECT_FALSE(where.connection);
  ASSERT_TRUE(where.connected);
  EXPECT_EQ(*where.connected, unanswered.address());
  ASSERT_TRUE(where.source) << "the SYNs left from a port the trail can name";
  EXPECT_EQ(where.source->ip_string(), "127.0.0.1");
  EXPECT_NE(where.source->port(), 0);
  EXPECT_TRUE(destination_slot_free()) << "cancelled, the slot is given back";
  run_for(200ms);
  EXPECT_EQ(calls_, 0) << "a cancelled dial never calls back";
}

TEST_F(DialerTest, ADialWhoseSynsGoUnansweredTimesOut) {
  UnansweredPort unanswered;
  if (!unanswered.ok()) GTEST_SKIP() << "this kernel answers a full listen queue";
  dial(loopback_target(unanswered.port()), {unanswered.port()}, 300ms);
  ASSERT_TRUE(run_until([&] { return calls_ == 1; }));
  EXPECT_EQ(result_.reply, socks5::Reply::TtlExpired);
  EXPECT_EQ(result_.detail, "no connection within 300 ms");
  EXPECT_TRUE(result_.source);
  EXPECT_TRUE(destination_slot_free());
}

TEST_F(DialerTest, ANameIsResolvedAndItsAddressDialed) {
  destination_ = std::make_unique<Destination>(loop_, false);
  dial(Target::domain_name("mx.example.test", destination_->port()), {destination_->port()});
  ASSERT_EQ(names_.queries.size(), 1u);
  EXPECT_EQ(names_.queries[0]->host, "mx.example.test");
  EXPECT_EQ(names_.queries[0]->port, destination_->port());
  names_.answer(0, {ResolveResult::Status::Ok, {destination_->address()}, {}});
  ASSERT_TRUE(run_until([&] { return calls_ == 1; }));
  EXPECT_EQ(result_.reply, socks5::Reply::Succeeded) << result_.detail;
}

TEST_F(DialerTest, ALookupAboveTheTenantsCapIsRefusedAtOnceWith0x01AndNoQuery) {
  LookupGate gate({.total = 0, .per_tenant = 1});
  auto held = gate.admit("acme", "other.example.test");
  ASSERT_TRUE(held.slot);
  dial(Target::domain_name("mx.example.test", 25), {25}, 5s, &gate);
  EXPECT_EQ(calls_, 1) << "decided without a loop turn";
  EXPECT_EQ(result_.reply, socks5::Reply::GeneralFailure);
  EXPECT_EQ(static_cast<int>(result_.reply), 0x01);
  EXPECT_EQ(result_.detail, "lookup refused: max_lookups_per_tenant 1 reached");
  EXPECT_TRUE(names_.queries.empty()) << "nothing was asked";
  EXPECT_FALSE(result_.connected);
  EXPECT_EQ(gate.limit().refused().per_key, 1u) << "counted for the metrics";
}

TEST_F(DialerTest, EachLookupOutcomeRepliesWhatHappened) {
  const std::pair<ResolveResult::Status, socks5::Reply> cases[] = {
      {ResolveResult::Status::NotFound, socks5::Reply::HostUnreachable},
      {ResolveResult::Status::Failed, socks5::Reply::HostUnreachable},
      {ResolveResult::Status::Timeout, socks5::Reply::TtlExpired},
  };
  for (const auto& [status, reply] : cases) {
    calls_ = 0;
    names_.queries.clear();
    dial(Target::domain_name("mx.example.test", 25), {25});
    names_.answer(0, {status, {}, "why"});
    EXPECT_EQ(calls_, 1);
    EXPECT_EQ(result_.reply, reply) << static_cast<int>(status);
    EXPECT_EQ(result_.detail, "cannot resolve mx.example.test: why");
  }
}

TEST_F(DialerTest, CancelDropsTheLookupButItsSlotStaysUntilTheQueryEnds) {
  LookupGate gate({.total = 0, .per_tenant = 4});
  dial(Target::domain_name("mx.example.test", 25), {25}, 5s, &gate);
  ASSERT_EQ(names_.queries.size(), 1u);
  EXPECT_EQ(gate.limit().in_flight("acme"), 1u);
  dialer_->cancel();
  EXPECT_FALSE(names_.queries[0]->done) << "the callback is gone at once";
  EXPECT_EQ(gate.limit().in_flight("acme"), 1u) << "the query itself is still under way";
  names_.answer(0, {ResolveResult::Status::Timeout, {}, "late"});
  EXPECT_EQ(gate.limit().in_flight("acme"), 0u);
  EXPECT_EQ(calls_, 0);
}

}  // namespace
}  // namespace mx::loopback
