"""A fleet of three egress servers sharing one tenant's limits on a real Redis
(issue 22, docs/fleet.md).

Servers a, b and c (own identities and ports, one client each: client a reaches
only server a, and so on) serve the tenant "acme" with max_connections = 10 and
``[fleet]`` on a redis-server of the test's own (tests/lib/redislab.py) with a
short lease_time (3 s). A refusal is SOCKS5 0x02 and the server's usual line
``refused tenant=acme ... reason="max_connections 10 reached"``, whichever
server refuses. While Redis is gone each server enforces ceil(10 / 3) = 4 by
itself.
"""

import re
import signal
import time
import unittest
import urllib.error
import urllib.request

import mxtest
import redislab
from mxtest import REP_NOT_ALLOWED, REP_OK, EchoServer, pattern_bytes, recv_exact
from netns import Deployment, close_at_cleanup

LEASE_TIME = 3.0
MARGIN = 1.5  # ASan builds on two shared cores


@unittest.skipUnless(redislab.available(), "redis-server is not installed")
class FleetTest(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)
        self.redis = redislab.RedisLab().start()
        self.addCleanup(self.redis.close)

    def start_fleet(self, **limits):
        """Servers a, b, c and their clients, the tenant "acme" with LIMITS
        (default max_connections = 10); returns once each server counts 3."""
        self.dep = Deployment(prefix="mxfleet-")
        close_at_cleanup(self, self.dep)
        tenant = {"name": "acme", "keys": [], **(limits or {"max_connections": 10})}
        self.servers = {}
        self.clients = {}
        for name in "abc":
            fleet = (
                "[fleet]\n"
                f'redis = "{self.redis.address}"\n'
                f'server_id = "{name}"\n'
                f'lease_time = "{int(LEASE_TIME)}s"\n'
                'heartbeat_interval = "1s"\n'
                'reconnect_interval = "500ms"\n'
                'timeout = "250ms"\n')
            if name == "a":
                self.metrics_port = mxtest.free_port()
                fleet += f'\n[metrics]\nlisten = "127.0.0.1:{self.metrics_port}"\n'
            self.servers[name] = self.dep.server(
                name, listen=("127.0.0.1", mxtest.free_port()), tenants=[dict(tenant)],
                ports=[self.echo.port], extra=fleet)
        for name in "abc":
            self.clients[name] = self.dep.client(
                "client-" + name, servers=[(self.servers[name], {"pool": 1})])
        keys = list(self.clients.values())
        for server in self.servers.values():
            server.tenants[0]["keys"] = keys
            server.start()
        for client in self.clients.values():
            client.start()
        for server in self.servers.values():
            server.wait_for(r"redis reachable: shared limits", 10)
        # every server has counted the others (one heartbeat a second)
        for server in self.servers.values():
            server.wait_for(r"fleet: fleet size 3\b", 5)

    def scrape(self, path="/metrics"):
        """Server a's PATH: (status, body)."""
        url = f"http://127.0.0.1:{self.metrics_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def fleet_gauges(self):
        body = self.scrape()[1]
        return tuple(int(re.search(rf"^{name} (\d+)$", body, re.M).group(1))
                     for name in ("mxegress_fleet_shared", "mxegress_fleet_size"))

    def context(self):
        return "\n" + self.dep.logs_tail(40)

    def connect(self, via):
        return self.clients[via].connect(self.echo.host, self.echo.port)

    def open(self, via):
        r = self.connect(via)
        self.addCleanup(r.close)
        self.assertEqual(r.reply, REP_OK, f"via {via}: {r.describe()}" + self.context())
        return r

    def assert_refused(self, via, limit=10):
        mark = self.servers[via].mark()
        r = self.connect(via)
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, f"via {via}: {r.describe()}" + self.context())
        self.servers[via].wait_for(
            r'refused tenant=acme .*reason="?' + re.escape(f"max_connections {limit} reached"),
            5, since=mark)

    def close_and_wait(self, via, r):
        mark = self.servers[via].mark()
        r.close()
        self.servers[via].wait_for(r"session: tenant=acme via=\S+ .* end=", 5, since=mark)

    def open_within(self, via, seconds):
        """A session via VIA, retried until it is admitted within SECONDS."""
        deadline = time.monotonic() + seconds
        while True:
            r = self.connect(via)
            if r.reply == REP_OK:
                self.addCleanup(r.close)
                return r
            r.close()
            self.assertLess(time.monotonic(), deadline,
                            f"via {via}: still refused: {r.describe()}" + self.context())
            time.sleep(0.1)

    def echoes(self, r, data=b"still here\n"):
        r.sock.sendall(data)
        got = b""
        r.sock.settimeout(5)
        while len(got) < len(data):
            chunk = r.sock.recv(100)
            if not chunk:
                break
            got += chunk
        return got == data

    # ---------------------------------------------------------------------

    def test_max_connections_holds_for_the_fleet(self):
        """10 sessions spread over a, b and c: the 11th is refused whichever server it
        reaches, and a slot freed on a is usable on c."""
        self.start_fleet()
        held = {"a": [], "b": [], "c": []}
        for i in range(10):
            via = "abc"[i % 3]
            held[via].append(self.open(via))
        for via in "abc":
            self.assert_refused(via)
        self.close_and_wait("a", held["a"].pop())
        self.open_within("c", 2.0)
        for via in "ba":
            self.assert_refused(via)

    def test_a_killed_servers_slots_lapse_within_the_lease_time(self):
        """SIGKILL server a holding 4 of the 10 slots: within lease_time the fleet
        takes 4 more sessions via b and c, and no more."""
        self.start_fleet()
        for i in range(10):
            self.open("abc"[i % 3])
        self.assert_refused("b")
        self.servers["a"].kill()
        start = time.monotonic()
        self.open_within("b", LEASE_TIME + MARGIN)
        self.assertLess(time.monotonic() - start, LEASE_TIME + MARGIN)
        # a's two loop threads renewed their leases at different times
        for via in "cbc":
            self.open_within(via, LEASE_TIME + MARGIN - (time.monotonic() - start))
        self.assert_refused("c")
        self.assert_refused("b")

    def test_redis_killed_each_server_enforces_its_share_and_shared_again_after(self):
        """Redis killed with 6 sessions open: each server logs the switch within a
        second, running sessions go on, each server takes its share, ceil(10 / 3) = 4,
        by itself; Redis back: shared limits within the reconnect interval, the
        sessions admitted meanwhile counted by the fleet."""
        self.start_fleet()
        held = {"a": [self.open("a") for _ in range(3)], "b": [self.open("b") for _ in range(3)],
                "c": []}
        self.assertEqual(self.fleet_gauges(), (1, 3))
        marks = {name: s.mark() for name, s in self.servers.items()}
        self.redis.kill()
        for name, server in self.servers.items():
            server.wait_for(r"redis unreachable: enforcing each limit / 3", 1.0 + MARGIN,
                            since=marks[name])
        self.assertEqual(self.fleet_gauges(), (0, 3))
        self.assertEqual(self.scrape("/readyz")[0], 200, "it still serves")
        for r in held["a"] + held["b"]:
            self.assertTrue(self.echoes(r), "a running session was cut" + self.context())
        for _ in range(4):
            held["c"].append(self.open("c"))
        self.assert_refused("c", limit=4)
        held["a"].append(self.open("a"))
        self.assert_refused("a", limit=4)
        # Redis back (empty: it kept nothing); 11 sessions run.
        marks = {name: s.mark() for name, s in self.servers.items()}
        self.redis.start()
        for name, server in self.servers.items():
            server.wait_for(r"redis reachable: shared limits", 0.5 + 1.0 + MARGIN,
                            since=marks[name])
        self.assertEqual(self.fleet_gauges()[0], 1)
        # The next renewal (every lease_time / 3) registers every running session.
        time.sleep(LEASE_TIME / 3 + 0.5)
        for via in "abc":
            self.assert_refused(via)
        self.close_and_wait("c", held["c"].pop())
        self.close_and_wait("c", held["c"].pop())
        self.open_within("b", 2.0)
        self.assert_refused("b")

    def test_a_paused_redis_does_not_stall_sessions_beyond_the_timeout(self):
        """CLIENT PAUSE 2000: a new session is admitted after the 250 ms timeout,
        under the local rules, not after the pause."""
        self.start_fleet()
        self.open("a")
        self.redis.pause(2000)
        r = self.open("b")
        self.assertLess(r.elapsed, 0.25 + MARGIN, r.describe())
        self.assertTrue(self.echoes(r))





    def test_a_reload_keeps_the_fleet_it_started_with(self):
        """[fleet] applies at start: a SIGHUP with a changed [fleet] says so and the
        server goes on sharing (a reload that keeps it says nothing of it)."""
        self.start_fleet()
        server = self.servers["a"]
        mark = server.mark()
        server.send_signal(signal.SIGHUP)
        server.wait_for(r"reloaded: 1 tenants", 10, since=mark)
        self.assertNotIn("[fleet] applies after a restart", server.since(mark))
        server.extra = server.extra.replace('server_id = "a"', 'server_id = "a2"')
        server.write_config()
        mark = server.mark()
        server.send_signal(signal.SIGHUP)
        server.wait_for(r"\[fleet\] applies after a restart", 10, since=mark)
        server.wait_for(r"reloaded: 1 tenants", 10, since=mark)
        for i in range(10):
            self.open("abc"[i % 3])
        self.assert_refused("a")

    def test_max_per_destination_holds_for_the_fleet(self):
        """max_per_destination = 2: one session to the echo server via a and one via
        b, the third via c is refused naming the destination; one closed, c gets it."""
        self.start_fleet(max_per_destination=2)
        first = self.open("a")
        self.open("b")
        mark = self.servers["c"].mark()
        r = self.connect("c")
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe() + self.context())
        self.servers["c"].wait_for(
            r'refused tenant=acme .*reason="?max_per_destination 2 reached for 127\.0\.0\.1',
            5, since=mark)
        self.close_and_wait("a", first)
        self.open_within("c", 2.0)

    def test_bytes_per_day_holds_for_the_fleet(self):
        """bytes_per_day = 100kB: 50 kB relayed via b and 120 kB via a (half of each
        echoed), flushed to Redis (once a second by each server): a session via c,
        which relayed nothing itself, is refused with `bytes_per_day 100000 reached`."""
        self.start_fleet(bytes_per_day="100kB")
        for via, size in (("b", 25000), ("a", 60000)):
            r = self.open(via)
            data = pattern_bytes(size)
            r.sock.sendall(data)
            self.assertEqual(recv_exact(r.sock, size), data)
            self.close_and_wait(via, r)
        time.sleep(1.5)  # each server flushes its counts once a second
        mark = self.servers["c"].mark()
        r = self.connect("c")
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe() + self.context())
        self.servers["c"].wait_for(r'refused tenant=acme .*reason="?bytes_per_day 100000 reached',
                                   5, since=mark)

    def test_connections_per_minute_holds_for_the_fleet(self):
        """connections_per_minute = 60 (GCRA on Redis: a minute's burst, then one a
        second). The burst used up, sessions offered evenly over a, b and c at two a
        second for a minute: 60 +- 3 are admitted in all (each server alone would
        admit 60), the rest refused with the tenant's usual reason."""
        self.start_fleet(connections_per_minute=60)
        burst = 0
        while True:
            r = self.connect("abc"[burst % 3])
            r.close()
            if r.reply != REP_OK:
                self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe() + self.context())
                break
            burst += 1
            self.assertLess(burst, 150, "the burst never ended" + self.context())
        self.assertGreaterEqual(burst, 60, self.context())
        marks = {name: s.mark() for name, s in self.servers.items()}
        admitted = refused = 0
        start = time.monotonic()
        for i in range(120):
            time.sleep(max(0.0, start + i * 0.5 - time.monotonic()))
            r = self.connect("abc"[i % 3])
            r.close()
            if r.reply == REP_OK:
                admitted += 1
            else:
                self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe() + self.context())
                refused += 1
        self.assertLessEqual(abs(admitted - 60), 3,
                             f"{admitted} admitted, {refused} refused" + self.context())
        reasons = sum(s.count(r'refused tenant=acme .*reason="?connections_per_minute 60 '
                              r'exceeded', marks[name]) for name, s in self.servers.items())
        self.assertEqual(reasons, refused, self.context())

if __name__ == "__main__":
    unittest.main()
