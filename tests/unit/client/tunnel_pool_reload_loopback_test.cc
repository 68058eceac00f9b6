// TunnelPool::apply (a client reload) against in-process egress servers on
// loopback: a removed server's live session goes on and its tunnel closes
// after it; new sessions go to the new server; a kept server keeps its tunnels.
#include "reload_plan.h"
#include "tunnel_pool_fixture.h"

namespace mx::loopback {
namespace {

class TunnelPoolReloadTest : public TunnelPoolLoopbackTest {
 protected:
  // Makes `next` the pool's configuration, as EgressClient::reload does.
  void reload(ClientConfig next) {
    const ReloadPlan plan = plan_reload(config_, next, false);
    std::string err;
    std::vector<SslCtxPtr> contexts = TunnelPool::make_contexts(next, err);
    ASSERT_EQ(contexts.size(), next.servers.size()) << err;
    config_ = std::move(next);  // the pool reads this one
    pool_->apply(plan, std::move(contexts), *keys_.client);
  }
};

TEST_F(TunnelPoolReloadTest, ARemovedServersSessionGoesOnAndNewSessionsGoToTheNewServer) {
  FakeEgressServer& old_server = add_server(10, 1, 100);
  start_pool();
  ASSERT_TRUE(run_until([&] { return old_server.open_tunnels() == 1; }));
  FakeWaiter& live = acquire();
  ASSERT_TRUE(live.stream);
  live.send_connect();
  ASSERT_TRUE(run_until([&] { return old_server.connects() == 1; }));

  ClientConfig next = config_;
  FakeEgressServer& new_server = add_server(10, 1, 100);  // appended to config_
  next.servers = {config_.servers.back()};
  config_.servers.pop_back();
  reload(std::move(next));
  EXPECT_EQ(pool_->server_count(), 1u);
  ASSERT_TRUE(run_until([&] { return new_server.open_tunnels() == 1; }));

  FakeWaiter& fresh = acquire();
  ASSERT_EQ(fresh.calls, 1);
  ASSERT_TRUE(fresh.stream) << fresh.no_tunnel;
  EXPECT_EQ(fresh.server, new_server.name());
  run_for(300ms);
  EXPECT_EQ(live.lost, 0) << live.lost_why;
  EXPECT_EQ(old_server.open_tunnels(), 1u) << "the retired tunnel stays for its session";
  EXPECT_EQ(old_server.accepted, 1) << "no tunnel opened to a removed server";
  const auto views = pool_->server_views();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].name, new_server.name());

  live.stream.reset();  // the session ends: the retired tunnel closes
  EXPECT_TRUE(run_until([&] { return old_server.open_tunnels() == 0; }));
  EXPECT_EQ(new_server.open_tunnels(), 1u);
}

TEST_F(TunnelPoolReloadTest, AKeptServerKeepsItsTunnelsAndTakesItsNewPoolSize) {
  FakeEgressServer& server = add_server(10, 1, 100);
  start_pool();
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 1; }));
  ClientConfig next = config_;
  next.servers[0].pool = 2;
  next.servers[0].priority = 20;
  reload(std::move(next));
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 2; }));
  run_for(300ms);
  EXPECT_EQ(server.accepted, 2) << "the first tunnel was kept, one more opened";
  FakeWaiter& w = acquire();
  EXPECT_TRUE(w.stream && w.reused);
}

TEST_F(TunnelPoolReloadTest, SessionsWaitingForARemovedServerGoToTheNewOne) {
  config_.client.retry_interval = 10s;
  FakeEgressServer& silent = add_server(10, 0, 100);
  silent.close_listener();
  start_pool();
  ClientConfig next = config_;
  FakeEgressServer& replacement = add_server(10, 0, 100);
  next.servers = {config_.servers.back()};
  config_.servers.pop_back();
  FakeWaiter& waiting = acquire();
  reload(std::move(next));
  ASSERT_TRUE(run_until([&] { return waiting.calls == 1; }));
  ASSERT_TRUE(waiting.stream) << waiting.no_tunnel;
  EXPECT_EQ(waiting.server, replacement.name());
}

}  // namespace
}  // namespace mx::loopback
