// The client's reload plan (reload_plan.h): a pure function of the running and
// the new configuration.
#include "reload_plan.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

using Kind = ListenerSpec::Kind;

Key32 pin(uint8_t first) {
  Key32 key{};
  key[0] = first;
  return key;
}

ClientConfig::Server server(const std::string& host, uint8_t pin_byte = 1) {
  ClientConfig::Server s;
  s.address = {host, 8443};
  s.pins = {pin(pin_byte)};
  s.server_name = host;
  return s;
}

SocketAddress at(const std::string& text) { return *SocketAddress::parse(text); }

ClientConfig config(std::vector<ClientConfig::Server> servers) {
  ClientConfig c;
  c.servers = std::move(servers);
  c.socks5.listen = {at("127.0.0.1:1080")};
  return c;
}

TEST(ReloadPlan, AnUnchangedConfigurationKeepsEverything) {
  const ClientConfig running = config({server("a"), server("b")});
  const ReloadPlan plan = plan_reload(running, running, false);
  EXPECT_EQ(plan.servers, (std::vector<std::optional<size_t>>{0, 1}));
  EXPECT_TRUE(plan.retired_servers.empty());
  EXPECT_EQ(plan.listeners_kept.size(), 1u);
  EXPECT_TRUE(plan.listeners_opened.empty());
  EXPECT_TRUE(plan.listeners_closed.empty());
  EXPECT_TRUE(plan.need_restart.empty());
}

TEST(ReloadPlan, AddedRemovedAndReorderedServers) {
  const ClientConfig running = config({server("a"), server("b")});
  const ReloadPlan plan = plan_reload(running, config({server("c"), server("a")}), false);
  EXPECT_EQ(plan.servers, (std::vector<std::optional<size_t>>{std::nullopt, 0}));
  EXPECT_EQ(plan.retired_servers, (std::vector<size_t>{1}));
}

TEST(ReloadPlan, ChangedAddressPinsNameOrSessionsPerTunnelRetireTheTunnels) {
  const ClientConfig running = config({server("a")});
  std::vector<ClientConfig::Server> changed(5, server("a"));
  changed[0].address.port = 9443;
  changed[1].pins = {pin(1), pin(2)};  // a pin added: tunnels open again under both
  changed[2].pins.clear();
  changed[2].ca_file = "/etc/ssl/ca.pem";
  changed[3].server_name = "egress.example.net";
  changed[4].sessions_per_tunnel = 1;
  for (const auto& next : changed) {
    const ReloadPlan plan = plan_reload(running, config({next}), false);
    EXPECT_EQ(plan.servers, (std::vector<std::optional<size_t>>{std::nullopt}));
    EXPECT_EQ(plan.retired_servers, (std::vector<size_t>{0}));
  }
}

TEST(ReloadPlan, PriorityWeightAndPoolSizesApplyInPlace) {
  const ClientConfig running = config({server("a")});
  ClientConfig::Server next = server("a");
  next.priority = 20;
  next.weight = 5;
  next.pool = 7;
  next.pool_max = 9;
  const ReloadPlan plan = plan_reload(running, config({next}), false);
  EXPECT_EQ(plan.servers, (std::vector<std::optional<size_t>>{0}));
  EXPECT_TRUE(plan.retired_servers.empty());
}

TEST(ReloadPlan, ANewKeyRetiresEveryServer) {
  const ClientConfig running = config({server("a"), server("b")});
  const ReloadPlan plan = plan_reload(running, running, true);
  EXPECT_EQ(plan.servers, (std::vector<std::optional<size_t>>{std::nullopt, std::nullopt}));
  EXPECT_EQ(plan.retired_servers, (std::vector<size_t>{0, 1}));
}

TEST(ReloadPlan, TheSameServerListedTwiceIsMatchedOnce) {
  const ClientConfig running = config({server("a")});
  const ReloadPlan plan = plan_reload(running, config({server("a"), server("a")}), false);
  EXPECT_EQ(plan.servers, (std::vector<std::optional<size_t>>{0, std::nullopt}));
  EXPECT_TRUE(plan.retired_servers.empty());
}

TEST(ReloadPlan, ListenersOpenedClosedAndKept) {
  ClientConfig running = config({server("a")});
  running.forwards.push_back({at("127.0.0.1:2525"), {"mx.example.net", 25}, {}});
  ClientConfig next = running;
  next.socks5.listen = {at("127.0.0.1:1081")};
  next.forwards[0].on_failure = ClientConfig::FailureAction::Reply421;  // changed: rebound
  next.transparent = ClientConfig::Transparent{{at("127.0.0.1:10025")}, {}};
  const ReloadPlan plan = plan_reload(running, next, false);
  EXPECT_TRUE(plan.listeners_kept.empty());
  ASSERT_EQ(plan.listeners_closed.size(), 2u);
  EXPECT_EQ(plan.listeners_closed[0].address, at("127.0.0.1:1080"));
  EXPECT_EQ(plan.listeners_closed[1].kind, Kind::Forward);
  ASSERT_EQ(plan.listeners_opened.size(), 3u);
  EXPECT_EQ(plan.listeners_opened[0].describe(), "socks5");
  EXPECT_EQ(plan.listeners_opened[1].describe(), "transparent");
  EXPECT_EQ(plan.listeners_opened[2].describe(), "forward to mx.example.net:25");
  EXPECT_EQ(plan.listeners_opened[2].on_failure, ClientConfig::FailureAction::Reply421);

  next = running;
  next.socks5.listen.push_back(at("[::1]:1080"));
  const ReloadPlan added = plan_reload(running, next, false);
  EXPECT_EQ(added.listeners_kept.size(), 2u);
  EXPECT_TRUE(added.listeners_closed.empty());
  ASSERT_EQ(added.listeners_opened.size(), 1u);
  EXPECT_EQ(added.listeners_opened[0].address, at("[::1]:1080"));
}

TEST(ReloadPlan, MetricsAndSocks5UsersNeedARestart) {
  const ClientConfig running = config({server("a")});
  ClientConfig next = running;
  next.metrics.listen = at("127.0.0.1:9100");
  next.socks5.users.push_back({"gw", "$argon2id$x"});
  EXPECT_EQ(plan_reload(running, next, false).need_restart,
            (std::vector<std::string>{"metrics", "socks5.user"}));
}

}  // namespace
}  // namespace mx
