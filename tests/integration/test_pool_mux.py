"""The client's tunnels shared by many sessions (docs/PROTOCOL.md).

With ``sessions_per_tunnel`` > 1 (the default is 100) one tunnel carries many
sessions at once, each with its own credit window; with 1, one at a time, on the
same wire format and code path. These tests pin ``sessions_per_tunnel`` themselves,
so they check the same thing in both ctest runs. A server logs
``tunnel: auth ok ...`` once per tunnel; live tunnels are counted as established
TCP connections on the server's tunnel port (``ss``).
"""

import socket
import threading
import time
import unittest

import mxtest
from mxtest import REP_OK, EchoServer, LoopbackServer, SourceServer
from netns import Deployment, ResetFlows, client_ports_of_tunnels, close_at_cleanup
from test_pool import echo_session, session_line, start_pair


class StalledServer(LoopbackServer):
    """Accepts and never reads: an MX that stopped taking data."""

    def __init__(self, *args, **kw):
        self.release = threading.Event()
        super().__init__(*args, **kw)

    def handle(self, conn, rec):
        self.release.wait(60)

    def close(self) -> None:
        self.release.set()
        super().close()


def fill_until_blocked(sock: socket.socket, limit: int, seconds: float) -> int:
    """Sends on SOCK for up to SECONDS or LIMIT bytes; returns how much it took."""
    sock.setblocking(False)
    chunk = b"s" * 65536
    sent = 0
    deadline = time.monotonic() + seconds
    while sent < limit and time.monotonic() < deadline:
        try:
            sent += sock.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
    sock.setblocking(True)
    return sent


class MuxPoolTest(unittest.TestCase):
    def setUp(self):
        self.dep = Deployment(prefix="mxmux-")
        close_at_cleanup(self, self.dep)
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)

    def pair(self, pool_opts, client_settings=None, ports=()):
        return start_pair(self.dep, self.echo, pool_opts, client_settings, ports)

    def context(self):
        return "\n" + self.dep.logs_tail(80)

    def wait_established(self, server, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while server.established() != n and time.monotonic() < deadline:
            time.sleep(0.05)
        return server.established()

    # ---------------------------------------------------------------------

    def test_sequential_sessions_share_one_warm_tunnel(self):
        """pool=1, sessions_per_tunnel=100: one tunnel before any session; 20 sequential sessions all run on it (tunnel=pooled, no further
        handshake, still one TCP connection)."""
        server, client = self.pair({"pool": 1, "sessions_per_tunnel": 100})
        server.wait_for(r"auth ok tenant=acme peer=\S+", timeout=10)
        # The server logs its auth ok before the client has its reply: a session
        # started in between waits for the tunnel being opened (not "pooled").
        client.wait_for(r"pool: tunnel to \S+ opened", timeout=10)
        for i in range(20):
            r, port = echo_session(client, self.echo, b"shared %d\n" % i)
            self.assertEqual(r.reply, REP_OK, f"session {i}: {r.describe()}{self.context()}")
            self.assertIn("tunnel=pooled", session_line(client, port), self.context())
        self.assertEqual(server.auth_ok(), 1, "sessions opened tunnels of their own"
                         + self.context())
        self.assertEqual(self.wait_established(server, 1), 1, self.context())
        self.assertEqual(len(server.dial_lines()), 20)

    def test_concurrent_sessions_fill_tunnels_up_to_the_limit(self):
        """sessions_per_tunnel=4: 12 sessions held open at once need at least 3
        tunnels and, with the pool keeping one spare, no more than a few beyond; every
        session's bytes come back intact while all are open."""
        server, client = self.pair({"pool": 1, "sessions_per_tunnel": 4})
        server.wait_count(r"auth ok tenant=acme", 1, timeout=10)
        socks = []
        try:
            for i in range(12):
                r = client.connect("127.0.0.1", self.echo.port, timeout=10)
                self.assertEqual(r.reply, REP_OK, f"session {i}: {r.describe()}"
                                 + self.context())
                socks.append(r.sock)
            for i, s in enumerate(socks):
                payload = mxtest.pattern_bytes(100000 + i, i)
                s.sendall(payload)
                self.assertEqual(mxtest.recv_exact(s, len(payload)), payload, f"session {i}")
            tunnels = server.established()
            self.assertGreaterEqual(tunnels, 3, "more than 4 sessions on one tunnel"
                                    + self.context())
            self.assertLessEqual(tunnels, 6, "sessions did not share tunnels" + self.context())
        finally:
            for s in socks:
                s.close()

    def test_a_burst_waits_for_shared_tunnels_instead_of_opening_one_each(self):
        """pool=1, sessions_per_tunnel=10: 40 sessions started at once, while the one
        warm tunnel has room for 10, need 3 more tunnels; the sessions beyond the room
        wait for tunnels being opened instead of each opening its own (40 handshakes),
        and all of them work."""
        server, client = self.pair({"pool": 1, "sessions_per_tunnel": 10})
        server.wait_count(r"auth ok tenant=acme", 1, timeout=10)
        smark = server.mark()
        results = [None] * 40
        barrier = threading.Barrier(40)

        def one(i):
            barrier.wait()
            try:
                results[i] = echo_session(client, self.echo, b"burst %d\n" % i)[0].reply
            except Exception as e:  # reported below
                results[i] = repr(e)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(results, [REP_OK] * 40, self.context())
        opened = server.auth_ok(smark)
        self.assertLessEqual(opened, 8, f"{opened} tunnels opened for a burst of 40 with "
                             "room for 10 each" + self.context())

    def test_a_stalled_session_does_not_slow_its_neighbours(self):
        """One tunnel (pool=1, sessions_per_tunnel=10) carries three sessions: one to
        an MX that stopped reading, one from a destination flooding a SOCKS5 client
        that stopped reading, and an echo of 4 MiB each way. The echo completes while
        the other two stay stalled: each holds at most its window (4 MiB) plus socket
        buffers, not the tunnel."""
        stalled = StalledServer()
        self.addCleanup(stalled.close)
        flood = SourceServer(64 << 20)
        self.addCleanup(flood.close)
        server, client = self.pair({"pool": 1, "sessions_per_tunnel": 10},
                                   ports=[stalled.port, flood.port])
        server.wait_count(r"auth ok tenant=acme", 1, timeout=10)

        up = client.connect("127.0.0.1", stalled.port, timeout=10)
        self.assertEqual(up.reply, REP_OK, up.describe() + self.context())
        self.addCleanup(up.close)
        down = client.connect("127.0.0.1", flood.port, timeout=10)
        self.assertEqual(down.reply, REP_OK, down.describe() + self.context())
        self.addCleanup(down.close)
        # Credit stops the sender: what it got rid of fits in socket buffers, the
        # relay's watermarks and one window (about 12 MiB here; without credit the
        # tunnel takes whatever comes, some 250 MiB in these 3 s).
        sent_up = fill_until_blocked(up.sock, 256 << 20, 3.0)
        self.assertLess(sent_up, 64 << 20, f"{sent_up} bytes went towards an MX that reads "
                        "nothing: no back-pressure" + self.context())

        echo = client.connect("127.0.0.1", self.echo.port, timeout=10)
        self.assertEqual(echo.reply, REP_OK, echo.describe() + self.context())
        self.addCleanup(echo.close)
        self.assertEqual(server.established(), 1, "the sessions are not on one tunnel"
                         + self.context())
        payload = mxtest.pattern_bytes(4 << 20, 9)
        start = time.monotonic()
        got = bytearray()

        def reader():
            while len(got) < len(payload):
                data = echo.sock.recv(1 << 18)
                if not data:
                    return
                got.extend(data)

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        echo.sock.settimeout(20)
        echo.sock.sendall(payload)
        t.join(20)
        elapsed = time.monotonic() - start
        self.assertEqual(len(got), len(payload), f"the neighbour got {len(got)} of "
                         f"{len(payload)} bytes in {elapsed:.1f}s" + self.context())
        self.assertTrue(bytes(got) == payload, "the neighbour's bytes differ")
        self.assertLess(elapsed, 10.0, self.context())
        # the stalled ones are still stalled, and still alive
        self.assertLess(fill_until_blocked(up.sock, 64 << 20, 0.5), 64 << 20)
        self.assertEqual(server.established(), 1, self.context())

    def test_session_on_a_dead_shared_tunnel_is_retried_on_a_fresh_one(self):
        """The shared tunnel dies unnoticed (every further packet the client sends on
        it is answered with a RST; keepalive is 60 s): the next session is retried
        once on a fresh tunnel and the SOCKS5 client only sees 0x00 and its echo."""
        server, client = self.pair({"pool": 1, "sessions_per_tunnel": 10})
        server.wait_count(r"auth ok tenant=acme", 1, timeout=10)
        time.sleep(0.3)
        ports = client_ports_of_tunnels(server.tunnel_addr[1])
        self.assertEqual(len(ports), 1, f"client ends of the shared tunnels: {ports}")
        with ResetFlows(server.tunnel_addr[1], ports):
            cmark = client.mark()
            r, port = echo_session(client, self.echo, b"retried\n")
            self.assertEqual(r.reply, REP_OK, r.describe() + self.context())
            self.assertLess(r.elapsed, 2.0, r.describe())
            self.assertRegex(client.since(cmark), r"pooled tunnel to %s was dead \(.*\); "
                             r"retrying on a fresh tunnel" % server.address.replace(".", r"\."),
                             self.context())
        r, port = echo_session(client, self.echo, b"afterwards\n")
        self.assertEqual(r.reply, REP_OK, r.describe() + self.context())

    def test_tunnels_are_spread_evenly_over_the_server_loops(self):
        """Server threads=2, a client pool of 8 shared tunnels: each loop runs 4.
        SO_REUSEPORT alone hashes connections (4/4 about one time in four); the
        loop that accepts a tunnel passes it to the loop with fewer. Sessions
        work on every tunnel, passed ones included."""
        port = mxtest.free_port()
        server = self.dep.server("server", listen=("127.0.0.1", port),
                                 tenants=[{"name": "acme", "keys": []}], ports=[self.echo.port],
                                 settings={"threads": 2})
        client = self.dep.client("client", servers=[(server, {"pool": 8, "sessions_per_tunnel": 100})],
                                 settings={"retry_interval": "1s"})
        server.tenants[0]["keys"] = [client]
        server.start()
        client.start()
        deadline = time.monotonic() + 15
        while server.auth_ok() < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(server.auth_ok(), 8, self.context())
        per_loop = [server.count(r"loop %d runs tunnel" % i) for i in (0, 1)]
        self.assertEqual(per_loop, [4, 4], self.context())
        for i in range(16):
            r, _ = echo_session(client, self.echo, b"spread %d\n" % i)
            self.assertEqual(r.reply, REP_OK, f"session {i}: {r.describe()}{self.context()}")
        self.assertEqual(server.auth_ok(), 8, "sessions opened tunnels of their own" + self.context())

    def test_one_session_per_tunnel_is_a_setting_not_a_mode(self):
        """sessions_per_tunnel=1: two sessions held open at once run on two tunnels
        (pool=1 had one warm), and the next session after both ended reuses a warm
        tunnel without a handshake."""
        server, client = self.pair({"pool": 1, "sessions_per_tunnel": 1})
        server.wait_count(r"auth ok tenant=acme", 1, timeout=10)
        client.wait_for(r"pool: tunnel to \S+ opened", timeout=10)
        socks = []
        try:
            for i in range(2):
                r = client.connect("127.0.0.1", self.echo.port, timeout=10)
                self.assertEqual(r.reply, REP_OK, r.describe() + self.context())
                socks.append(r.sock)
            for i, s in enumerate(socks):
                s.settimeout(10)
                s.sendall(b"single %d\n" % i)
                self.assertEqual(mxtest.recv_exact(s, 9), b"single %d\n" % i)
            self.assertGreaterEqual(self.wait_established(server, 3), 2, self.context())
            self.assertGreaterEqual(server.auth_ok(), 2, "two sessions shared one tunnel "
                                    "with sessions_per_tunnel = 1" + self.context())
        finally:
            for s in socks:
                s.close()
        time.sleep(0.3)  # the sessions' ends reach the pool
        auths = server.auth_ok()
        r, port = echo_session(client, self.echo, b"again\n")
        self.assertEqual(r.reply, REP_OK, r.describe() + self.context())
        self.assertIn("tunnel=pooled", session_line(client, port), self.context())
        self.assertEqual(server.auth_ok(), auths, "a session after the others ended "
                         "needed a handshake" + self.context())


if __name__ == "__main__":
    unittest.main()
