// Tier (c): the Dialer of a tenant whose source addresses warm up, against a
// loopback destination: the address out of its hour's sessions is passed
// over, the tenant is refused with 0x02 when none is left, an address not
// in service yet is never used, and only an attempt that leaves takes a token.
// Also a SourcePreference (SMTP health's avoidance): an avoided address is
// used only when nothing else is left, and never against the warm-up.
#include "dialer.h"

#include <algorithm>

#include "loop_test_support.h"
#include "warmup.h"

namespace mx::loopback {
namespace {

class NoResolver final : public NameResolver {
 public:
  std::unique_ptr<Resolution> resolve(const std::string&, uint16_t, Callback,
                                      ConcurrencyLimit::Slot) override {
    ADD_FAILURE() << "no name is resolved here";
    return nullptr;
  }
};

int64_t today() {
  return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())
      .time_since_epoch()
      .count();
}

class DialerWarmupTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    destination_ = std::make_unique<Destination>(loop_, false);
    tenant_ = loopback_tenant({destination_->port()});
    policy_ = std::make_unique<DestinationPolicy>(tenant_.policy.ports, tenant_.policy.deny,
                                                  tenant_.policy.allow);
  }
  void TearDown() override {
    dials_.clear();
    destination_.reset();
    expect_every_handle_closed();
  }

  void sources(std::vector<std::string_view> ips) {
    for (auto text : ips) tenant_.source.push_back(*SocketAddress::parse_ip(text, 0));
  }
  void warm_up(std::string_view ip, std::vector<Warmup::Step> schedule, int64_t start_day) {
    Warmup warmup;
    warmup.source = {*SocketAddress::parse_ip(ip, 0)};
    warmup.start_day = start_day;
    warmup.schedule = std::move(schedule);
    tenant_.warmup.push_back(warmup);
  }

  // One dial to the destination, kept (its connection and lease) until the
  // test ends or `hang_up`; returns its result.
  const DialResult& dial() {
    auto dial = std::make_unique<Dial>();
    dial->lease = std::make_unique<UsageLease>(usage_.for_tenant(tenant_.name));
    DialRules rules{*policy_, tenant_, *dial->lease, TcpLiveness{}};
    rules.preference = preference_;
    dial->dialer = std::make_unique<Dialer>(loop_, DialNames{names_}, rules, 5s, "test");
    Dial& ref = *dial;
    dials_.push_back(std::move(dial));
    ref.dialer->dial(loopback_target(destination_->port()), [&ref](DialResult r) {
      ref.done = true;
      ref.result = std::move(r);
    });
    EXPECT_TRUE(run_until([&] { return ref.done; }));
    return ref.result;
  }
  std::string dial_from() {
    const DialResult& result = dial();
    EXPECT_EQ(result.reply, socks5::Reply::Succeeded) << result.detail;
    return result.source ? result.source->ip_string() : "none";
  }
  void hang_up() { dials_.clear(); }

  struct Dial {
    std::unique_ptr<UsageLease> lease;
    std::unique_ptr<Dialer> dialer;
    bool done = false;
    DialResult result;
  };

  std::unique_ptr<Destination> destination_;
  ServerConfig::Tenant tenant_;
  std::unique_ptr<DestinationPolicy> policy_;
  UsageRegistry usage_;
  NoResolver names_;
  std::vector<std::unique_ptr<Dial>> dials_;
  SourcePreference* preference_ = nullptr;
};

// Avoids the sources listed; records where attempts left from.
class AvoidSources final : public SourcePreference {
 public:
  explicit AvoidSources(std::vector<std::string> avoided) : avoided_(std::move(avoided)) {}
  bool avoid(const SocketAddress& source, const SocketAddress& destination) override {
    EXPECT_EQ(destination.ip_string(), "127.0.0.1");
    return std::find(avoided_.begin(), avoided_.end(), source.ip_string()) != avoided_.end();
  }
  void leaving_from(const SocketAddress& source, const SocketAddress&) override {
    left_from.push_back(source.ip_string());
  }
  std::vector<std::string> left_from;

 private:
  std::vector<std::string> avoided_;
};

TEST_F(DialerWarmupTest, TheWarmingAddressIsPassedOverOnceItsSessionsAreUsed) {
  sources({"127.0.0.1", "127.0.0.2"});
  warm_up("127.0.0.2", {{1, 2}}, today());
  std::vector<std::string> from;
  for (int i = 0; i < 6; ++i) from.push_back(dial_from());
  EXPECT_EQ(from, (std::vector<std::string>{"127.0.0.1", "127.0.0.2", "127.0.0.1", "127.0.0.2",
                                            "127.0.0.1", "127.0.0.1"}));
}

TEST_F(DialerWarmupTest, TheOnlyAddressOutOfSessionsIsRefusedWith0x02WithoutAConnect) {
  sources({"127.0.0.1"});
  warm_up("127.0.0.1", {{1, 2}}, today());
  EXPECT_EQ(dial_from(), "127.0.0.1");
  EXPECT_EQ(dial_from(), "127.0.0.1");
  ASSERT_TRUE(run_until([&] { return destination_->peers.size() == 2; }));
  const DialResult& refused = dial();
  EXPECT_EQ(refused.reply, socks5::Reply::NotAllowed);
  EXPECT_EQ(refused.detail, "warmup of 127.0.0.1 (day 1): 2 sessions an hour reached");
  EXPECT_FALSE(refused.connection);
  EXPECT_FALSE(refused.connected) << "nothing was dialed";
  EXPECT_EQ(tenant_limit_of(refused.detail), TenantLimit::Warmup);
}

TEST_F(DialerWarmupTest, AnAddressBeforeItsStartIsNeverUsed) {
  sources({"127.0.0.1", "127.0.0.2"});
  warm_up("127.0.0.2", {{1, 100}}, today() + 1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(dial_from(), "127.0.0.1");
  tenant_.source.erase(tenant_.source.begin());
  const DialResult& refused = dial();
  EXPECT_EQ(refused.reply, socks5::Reply::NotAllowed);
  EXPECT_NE(refused.detail.find("warmup of 127.0.0.2: not in service before "), std::string::npos)
      << refused.detail;
}

TEST_F(DialerWarmupTest, AnAttemptRefusedBeforeItLeavesTakesNoToken) {
  sources({"127.0.0.1"});
  warm_up("127.0.0.1", {{1, 2}}, today());
  tenant_.limits.max_per_destination = 1;
  EXPECT_EQ(dial_from(), "127.0.0.1");
  const DialResult& busy = dial();  // the destination's one slot is taken
  EXPECT_EQ(busy.reply, socks5::Reply::NotAllowed);
  EXPECT_EQ(busy.detail.rfind("max_per_destination", 0), 0u) << busy.detail;
  hang_up();
  EXPECT_EQ(dial_from(), "127.0.0.1") << "the second token is still there";
  hang_up();
  EXPECT_EQ(dial().reply, socks5::Reply::NotAllowed);
}

TEST_F(DialerWarmupTest, AFailedAttemptCountsItsToken) {
  sources({"127.0.0.1"});
  warm_up("127.0.0.1", {{1, 1}}, today());
  // Bound but not listening: the SYN leaves and is refused.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t closed = ntohs(addr.sin_port);
  tenant_.policy.ports.push_back(closed);
  policy_ = std::make_unique<DestinationPolicy>(tenant_.policy.ports, tenant_.policy.deny,
                                                tenant_.policy.allow);
  UsageLease lease(usage_.for_tenant(tenant_.name));
  Dialer dialer(loop_, DialNames{names_}, DialRules{*policy_, tenant_, lease, {}}, 5s, "test");
  bool done = false;
  DialResult result;
  dialer.dial(loopback_target(closed), [&](DialResult r) {
    done = true;
    result = std::move(r);
  });
  const bool finished = run_until([&] { return done; });
  ::close(fd);
  ASSERT_TRUE(finished);
  EXPECT_EQ(result.reply, socks5::Reply::ConnectionRefused) << result.detail;
  EXPECT_EQ(dial().reply, socks5::Reply::NotAllowed) << "the refused SYN took the token";
}

TEST_F(DialerWarmupTest, AnAvoidedAddressIsPassedOverWhileAnotherIsLeft) {
  sources({"127.0.0.1", "127.0.0.2"});
  AvoidSources avoid({"127.0.0.2"});
  preference_ = &avoid;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(dial_from(), "127.0.0.1");
  EXPECT_EQ(avoid.left_from, (std::vector<std::string>{"127.0.0.1", "127.0.0.1", "127.0.0.1"}));
}

TEST_F(DialerWarmupTest, AnAvoidedAddressIsUsedWhenNothingElseIsLeft) {
  sources({"127.0.0.2"});
  AvoidSources avoid({"127.0.0.2"});
  preference_ = &avoid;
  EXPECT_EQ(dial_from(), "127.0.0.2");
  EXPECT_EQ(avoid.left_from, (std::vector<std::string>{"127.0.0.2"}));
}

TEST_F(DialerWarmupTest, AWarmUpOutOfSessionsWeighsMoreThanAvoidance) {
  sources({"127.0.0.1", "127.0.0.2"});
  warm_up("127.0.0.1", {{1, 1}}, today());
  AvoidSources avoid({"127.0.0.2"});
  preference_ = &avoid;
  EXPECT_EQ(dial_from(), "127.0.0.1");  // its one token
  EXPECT_EQ(dial_from(), "127.0.0.2");  // avoided, but the only one left
  EXPECT_EQ(dial_from(), "127.0.0.2");
}

}  // namespace
}  // namespace mx::loopback
