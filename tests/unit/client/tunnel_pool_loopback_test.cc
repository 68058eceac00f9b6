// Tier (c): a real TunnelPool against in-process egress servers on loopback
// (fake_egress_server.h): warm-up, streams handed out at once or after an
// opening, servers marked down, cancelled waiters, lost and retired tunnels.
// The sessions are a fake PoolWaiter.
#include "tunnel_pool_fixture.h"

namespace mx::loopback {
namespace {

TEST_F(TunnelPoolLoopbackTest, WarmUpOpensPoolTunnelsToThePreferredServerOnly) {
  FakeEgressServer& preferred = add_server(10, 2, 100);
  FakeEgressServer& backup = add_server(20, 2, 100);
  start_pool();
  ASSERT_TRUE(run_until([&] { return preferred.open_tunnels() == 2; }));
  run_for(700ms);  // two maintenance ticks: the pool is full, nothing more opens
  EXPECT_EQ(preferred.accepted, 2);
  EXPECT_EQ(preferred.open_tunnels(), 2u);
  EXPECT_EQ(backup.accepted, 0) << "a server of a worse priority opens only for waiting sessions";
}

// The client's READY=1 (docs/systemd.md) waits for this: called once, when
// the first tunnel is authenticated, with that tunnel already in the pool.
TEST_F(TunnelPoolLoopbackTest, FirstAnswerOnceTheFirstTunnelIsAuthenticated) {
  FakeEgressServer& server = add_server(10, 2, 100);
  int answers = 0;
  size_t tunnels_then = 0;
  start_pool([&] {
    ++answers;
    tunnels_then = pool_->tunnel_count();
  });
  EXPECT_EQ(answers, 0);
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 2 && pool_->tunnel_count() == 2; }));
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(tunnels_then, 1u);
  EXPECT_EQ(pool_->servers_up(), 1u);
  EXPECT_EQ(pool_->server_count(), 1u);
}

// ... or once the first opening failed, with its server already marked down.
TEST_F(TunnelPoolLoopbackTest, FirstAnswerOnceTheFirstOpeningFailed) {
  config_.client.retry_interval = 10s;  // no probe during the test
  FakeEgressServer& server = add_server(10, 1, 100);
  server.close_listener();
  int answers = 0;
  size_t up_then = 99;
  start_pool([&] {
    ++answers;
    up_then = pool_->servers_up();
  });
  ASSERT_TRUE(run_until([&] { return answers == 1; }));
  EXPECT_EQ(up_then, 0u);
  run_for(300ms);
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(pool_->tunnel_count(), 0u);
}

TEST_F(TunnelPoolLoopbackTest, AcquireGivesAStreamOfAWarmTunnelAtOnce) {
  FakeEgressServer& server = add_server(10, 1, 100);
  start_pool();
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 1; }));
  FakeWaiter& first = acquire();
  ASSERT_EQ(first.calls, 1) << "called back before acquire() returned";
  ASSERT_TRUE(first.stream);
  EXPECT_TRUE(first.reused);
  EXPECT_EQ(first.server, server.name());
  FakeWaiter& second = acquire();
  ASSERT_EQ(second.calls, 1);
  EXPECT_TRUE(second.reused);
  first.send_connect();
  second.send_connect();
  ASSERT_TRUE(run_until([&] { return server.connects() == 2; }));
  EXPECT_EQ(server.conns[0]->streams.size(), 2u) << "both sessions share the warm tunnel";
  run_for(400ms);
  EXPECT_EQ(server.accepted, 1) << "a tunnel with room left keeps the pool warm";
}

TEST_F(TunnelPoolLoopbackTest, OneSessionPerTunnelPutsTwoSessionsOnTwoTunnels) {
  FakeEgressServer& server = add_server(10, 2, 1);
  start_pool();
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 2; }));
  FakeWaiter& first = acquire();
  FakeWaiter& second = acquire();
  ASSERT_EQ(first.calls, 1);
  ASSERT_EQ(second.calls, 1);
  EXPECT_TRUE(first.reused);
  EXPECT_TRUE(second.reused);
  first.send_connect();
  second.send_connect();
  ASSERT_TRUE(run_until([&] { return server.connects() == 2; }));
  EXPECT_EQ(server.conns[0]->streams.size(), 1u);
  EXPECT_EQ(server.conns[1]->streams.size(), 1u);
  // Both warm tunnels are full: two more keep the pool.
  EXPECT_TRUE(run_until([&] { return server.open_tunnels() == 4; }));
}

TEST_F(TunnelPoolLoopbackTest, ABurstBeyondTheWarmTunnelsWaitsForOpenings) {
  FakeEgressServer& server = add_server(10, 1, 1);
  start_pool();
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 1; }));
  FakeWaiter& warm = acquire();
  FakeWaiter& second = acquire();
  FakeWaiter& third = acquire();
  ASSERT_EQ(warm.calls, 1);
  EXPECT_TRUE(warm.reused);
  EXPECT_EQ(second.calls, 0);
  EXPECT_EQ(third.calls, 0);
  ASSERT_TRUE(run_until([&] { return second.calls == 1 && third.calls == 1; }));
  ASSERT_TRUE(second.stream);
  ASSERT_TRUE(third.stream);
  EXPECT_FALSE(second.reused) << "its tunnel's handshake was on its path";
  EXPECT_FALSE(third.reused);
  EXPECT_EQ(second.server, server.name());
  second.send_connect();
  third.send_connect();
  ASSERT_TRUE(run_until([&] { return server.connects() == 2; }));
  for (const auto& conn : server.conns) EXPECT_LE(conn->streams.size(), 1u);
}

// A slot freed on a full shared tunnel is taken by a waiting session at
// once: it does not wait for the opening that was started for it.
TEST_F(TunnelPoolLoopbackTest, ASlotFreedOnAFullTunnelServesAWaiterAtOnce) {
  FakeEgressServer& server = add_server(10, 1, 2);
  start_pool();
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 1; }));
  FakeWaiter& a = acquire();
  FakeWaiter& b = acquire();
  ASSERT_TRUE(a.stream && b.stream);
  FakeWaiter& c = acquire();
  EXPECT_EQ(c.calls, 0) << "the warm tunnel is full";
  a.stream.reset();  // in this same turn, before any opening can finish
  ASSERT_EQ(c.calls, 1) << "the freed slot serves the waiter at once";
  EXPECT_TRUE(c.reused) << "that tunnel was open before it asked";
  c.send_connect();
  ASSERT_TRUE(run_until([&] { return server.connects() == 1; }));
  EXPECT_EQ(server.conns[0]->streams.size(), 1u) << "c's CONNECT went on the first tunnel";
}

TEST_F(TunnelPoolLoopbackTest, OneOpeningServesManyWaitersWhenTunnelsAreShared) {
  FakeEgressServer& server = add_server(10, 0, 100);
  start_pool();
  FakeWaiter& a = acquire();
  FakeWaiter& b = acquire();
  FakeWaiter& c = acquire();
  EXPECT_EQ(a.calls + b.calls + c.calls, 0) << "no warm tunnel with a pool of 0";
  ASSERT_TRUE(run_until([&] { return a.calls == 1 && b.calls == 1 && c.calls == 1; }));
  EXPECT_TRUE(a.stream && b.stream && c.stream);
  EXPECT_FALSE(a.reused || b.reused || c.reused);
  run_for(400ms);
  EXPECT_EQ(server.accepted, 1);
}

TEST_F(TunnelPoolLoopbackTest, AServerThatRefusesIsMarkedDownAndItsWaitersGoToTheOther) {
  config_.client.retry_interval = 10s;  // no probe during the test
  FakeEgressServer& preferred = add_server(10, 0, 100);
  FakeEgressServer& backup = add_server(20, 0, 100);
  preferred.close_listener();
  start_pool();
  FakeWaiter& first = acquire();
  EXPECT_EQ(first.calls, 0);
  ASSERT_TRUE(run_until([&] { return first.calls == 1; }));
  ASSERT_TRUE(first.stream) << first.no_tunnel;
  EXPECT_EQ(first.server, backup.name());
  EXPECT_FALSE(first.reused);
  // The preferred server is down: the next session goes to the backup's
  // tunnel at once, instead of waiting for the preferred one.
  FakeWaiter& second = acquire();
  ASSERT_EQ(second.calls, 1);
  EXPECT_EQ(second.server, backup.name());
  EXPECT_TRUE(second.reused);
  EXPECT_EQ(preferred.accepted, 0);
  EXPECT_EQ(backup.accepted, 1);
}

TEST_F(TunnelPoolLoopbackTest, ADownServerIsProbedEveryRetryIntervalAndUsedOnceBack) {
  config_.client.retry_interval = 300ms;
  FakeEgressServer& preferred = add_server(10, 1, 100);
  FakeEgressServer& backup = add_server(20, 0, 100);
  preferred.close_listener();
  start_pool();
  FakeWaiter& first = acquire();
  ASSERT_TRUE(run_until([&] { return first.calls == 1; }));
  EXPECT_EQ(first.server, backup.name()) << first.no_tunnel;
  preferred.reopen_listener();
  // The next probe (maintenance, once retry_at is due) finds it up again,
  // and its warm tunnel takes the next session at once.
  ASSERT_TRUE(run_until([&] { return preferred.open_tunnels() == 1; }, 3s));
  EXPECT_EQ(preferred.accepted, 1) << "one probe, not one per session or tick";
  FakeWaiter& second = acquire();
  ASSERT_EQ(second.calls, 1);
  EXPECT_EQ(second.server, preferred.name());
  EXPECT_TRUE(second.reused);
}

TEST_F(TunnelPoolLoopbackTest, WithEveryServerDownSessionsFailAtOnce) {
  config_.client.retry_interval = 10s;
  add_server(10, 0, 100).close_listener();
  add_server(20, 0, 100).close_listener();
  start_pool();
  FakeWaiter& first = acquire();
  ASSERT_TRUE(run_until([&] { return first.calls == 1; }));
  EXPECT_FALSE(first.stream);
  EXPECT_EQ(first.no_tunnel, "no egress server could be reached");
  FakeWaiter& second = acquire();
  EXPECT_EQ(second.calls, 1) << "no wait while every server is down";
  EXPECT_FALSE(second.stream);
  EXPECT_EQ(second.no_tunnel, "every egress server is down");
}

TEST_F(TunnelPoolLoopbackTest, ACancelledWaiterIsNeverCalled) {
  FakeEgressServer& server = add_server(10, 0, 100);
  start_pool();
  FakeWaiter& gone = acquire();
  FakeWaiter& kept = acquire();
  pool_->cancel(gone);
  ASSERT_TRUE(run_until([&] { return kept.calls == 1; }));
  EXPECT_TRUE(kept.stream);
  run_for(200ms);
  EXPECT_EQ(gone.calls, 0);
  EXPECT_FALSE(gone.stream);
  EXPECT_EQ(server.accepted, 1);
}

// acquire(fresh): the retry of a session whose pooled tunnel was dead takes
// only a tunnel opened from then on, not an old one that empties meanwhile.
TEST_F(TunnelPoolLoopbackTest, AFreshWaiterIsNotServedByAnOldTunnelThatEmpties) {
  FakeEgressServer& server = add_server(10, 1, 1);
  start_pool();
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 1; }));
  FakeWaiter& old_session = acquire();
  ASSERT_TRUE(old_session.stream);
  FakeWaiter& retry = acquire(/*fresh=*/true);
  FakeWaiter& plain = acquire();  // queued behind it, any tunnel will do
  EXPECT_EQ(retry.calls + plain.calls, 0);
  old_session.stream.reset();  // the old tunnel empties, in this same turn
  EXPECT_EQ(retry.calls, 0) << "served by the tunnel that was already open";
  ASSERT_EQ(plain.calls, 1) << "the plain session takes the emptied tunnel at once";
  EXPECT_TRUE(plain.reused) << "that tunnel was open before it asked";
  plain.send_connect();
  ASSERT_TRUE(run_until([&] { return retry.calls == 1; }));
  EXPECT_FALSE(retry.reused);
  retry.send_connect();
  ASSERT_TRUE(run_until([&] { return server.connects() == 2; }));
  EXPECT_EQ(server.conns[0]->streams.size(), 1u) << "only the plain session on the old tunnel";
}

TEST_F(TunnelPoolLoopbackTest, ATunnelClosedByTheServerLosesItsStreamsAndIsReplaced) {
  config_.client.retry_interval = 10s;  // maintenance every 5 s: the loss itself replaces it
  FakeEgressServer& server = add_server(10, 1, 100);
  start_pool();
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 1; }));
  FakeWaiter& connecting = acquire();  // before its reply: told through its control
  FakeWaiter& relaying = acquire();    // in its data phase: told through its reader
  ASSERT_TRUE(connecting.stream && relaying.stream);
  connecting.send_connect();
  relaying.stream->set_reader(&relaying.reader);
  ASSERT_TRUE(run_until([&] { return server.connects() == 1; }));

  server.conns[0]->endpoint->close("the test closes it");
  ASSERT_TRUE(run_until([&] { return connecting.lost == 1 && relaying.reader.errors == 1; }));
  EXPECT_TRUE(starts_with(connecting.lost_why, "lost: ")) << connecting.lost_why;
  EXPECT_TRUE(starts_with(relaying.reader.error, "lost: ")) << relaying.reader.error;
  EXPECT_FALSE(connecting.stream->live());
  EXPECT_FALSE(relaying.stream->live());

  ASSERT_TRUE(
      run_until([&] { return server.open_tunnels() == 1 && server.authenticated == 2; }, 2s));
  FakeWaiter& next = acquire();
  ASSERT_EQ(next.calls, 1);
  EXPECT_TRUE(next.reused);
  next.send_connect();
  ASSERT_TRUE(run_until([&] { return server.conns[1]->streams.size() == 1; }));
}

TEST_F(TunnelPoolLoopbackTest, GoAwayRetiresATunnelWhichClosesAfterItsLastSession) {
  FakeEgressServer& server = add_server(10, 1, 100);
  start_pool();
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 1; }));
  FakeWaiter& old_session = acquire();
  old_session.send_connect();
  ASSERT_TRUE(run_until([&] { return server.connects() == 1; }));

  server.conns[0]->send_goaway();
  // Retired, it no longer counts as ready: the pool opens another.
  ASSERT_TRUE(run_until([&] { return server.open_tunnels() == 2; }));
  FakeWaiter& new_session = acquire();
  ASSERT_EQ(new_session.calls, 1);
  new_session.send_connect();
  ASSERT_TRUE(run_until([&] { return server.connects() == 2; }));
  EXPECT_EQ(server.conns[0]->streams.size(), 1u) << "no new session on the retired tunnel";
  EXPECT_EQ(server.conns[1]->streams.size(), 1u);

  run_for(300ms);
  EXPECT_TRUE(server.conns[0]->open()) << "its session still runs";
  EXPECT_EQ(old_session.lost, 0);
  old_session.stream.reset();  // the last session ends (RST)
  ASSERT_TRUE(run_until([&] { return !server.conns[0]->open(); }));
  EXPECT_EQ(server.conns[0]->closed_why, "peer closed the tunnel");
  EXPECT_TRUE(server.conns[1]->open());
}

}  // namespace
}  // namespace mx::loopback
