"""The client's warm tunnel pool: reuse, growth under a burst, shrink, keepalive.

A server logs ``tunnel: auth ok tenant=...`` once per authenticated tunnel, so the
number of those lines is the number of TLS handshakes + AUTH the client made; the
client tags each finished session ``tunnel=pooled`` (it took an idle tunnel: no
handshake on its critical path) or ``tunnel=fresh``. Live tunnels are counted as
established TCP connections on the server's tunnel port (``ss``).

Each test has its own server and client (the pool settings are the point), with
``sessions_per_tunnel = 1`` (one session at a time per tunnel), so that the pool's
growth and shrinking show in tunnel counts; test_pool_mux.py has tunnels shared by
many sessions. Both are the same code path and wire format.
"""

import signal
import socket
import time
import unittest

import mxtest
from mxtest import REP_OK, EchoServer, echo_session
from netns import Deployment, ResetFlows, client_ports_of_tunnels, close_at_cleanup



def session_line(client, port: int, since: int = 0, timeout: float = 10.0) -> str:
    """The client's ``session: peer=127.0.0.1:PORT ... end=`` line (waits for it)."""
    m = client.wait_for(r"session: peer=127\.0\.0\.1:%d [^\n]* end=[^\n]*" % port, timeout,
                        since)
    return m.group(0)


def start_pair(dep, echo, pool_opts, client_settings=None, ports=()):
    """Server + client with ONE [[server]] (pool options POOL_OPTS) that may dial ECHO
    and PORTS, started; the client does not start before the server listens."""
    port = mxtest.free_port()
    server = dep.server("server", listen=("127.0.0.1", port),
                        tenants=[{"name": "acme", "keys": []}], ports=[echo.port, *ports])
    client = dep.client("client", servers=[(server, pool_opts)],
                        settings={"retry_interval": "1s", **(client_settings or {})})
    server.tenants[0]["keys"] = [client]
    server.start()
    client.start()
    return server, client


class PoolTest(unittest.TestCase):
    def setUp(self):
        self.dep = Deployment(prefix="mxpool-")
        close_at_cleanup(self, self.dep)
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)

    def pair(self, pool_opts=None, client_settings=None):
        """Server + client in the single mode (one session per tunnel)."""
        return start_pair(self.dep, self.echo, {"sessions_per_tunnel": 1, **(pool_opts or {})},
                          client_settings)

    def context(self):
        return "\n" + self.dep.logs_tail(80)

    # ---------------------------------------------------------------------

    def test_warm_pool_serves_sequential_sessions_without_handshakes(self):
        """pool=2: two tunnels are authenticated before any session; 20 sequential
        sessions all take a pooled tunnel and cost no handshake each (the count of
        ``auth ok`` stays at pool + 1: the refill opened while the first session ran)."""
        server, client = self.pair({"pool": 2, "pool_max": 8})
        server.wait_count(r"auth ok tenant=acme", 2, timeout=10)
        time.sleep(0.5)  # nothing else should follow by itself
        self.assertEqual(server.auth_ok(), 2,
                         "pool = 2 but the server saw a different number of tunnels before "
                         "any session" + self.context())
        self.assertEqual(server.established(), 2, self.context())
        self.assertEqual(client.session_lines(), [], "sessions before any client?")

        lines = []
        for i in range(20):
            r, port = echo_session(client, self.echo, b"hello %d\n" % i)
            self.assertEqual(r.reply, REP_OK, f"session {i}: {r.describe()}{self.context()}")
            lines.append(session_line(client, port))
            time.sleep(0.05)  # lets the session's end reach the pool before the next one
        not_pooled = [l for l in lines if "tunnel=pooled" not in l]
        self.assertEqual(not_pooled, [], "sessions that did not take a pooled tunnel "
                         "(a TLS handshake on their critical path)" + self.context())
        via = {l.split(" via=", 1)[1].split()[0] for l in lines}
        self.assertEqual(via, {server.address})
        auths = server.auth_ok()
        self.assertLessEqual(auths, 3, f"{auths} tunnels authenticated for 20 sequential "
                             f"sessions with pool = 2: tunnels are not reused" + self.context())
        self.assertEqual(len(server.dial_lines()), 20)
        # the tunnels went back to the pool: still open, nothing new needed
        self.assertLessEqual(server.established(), 3, self.context())
        self.assertGreaterEqual(server.established(), 2, self.context())

    def test_burst_grows_the_pool_up_to_pool_max_then_it_shrinks(self):
        """10 concurrent sessions with pool=2, pool_max=5: 10 tunnels at once (8 new
        handshakes), afterwards at most pool_max stay open, and once pool_idle_timeout
        has passed the pool is back to 2."""
        server, client = self.pair({"pool": 2, "pool_max": 5},
                                   {"pool_idle_timeout": "3s"})
        server.wait_count(r"auth ok tenant=acme", 2, timeout=10)
        time.sleep(0.3)
        before = server.auth_ok()
        self.assertEqual(before, 2, self.context())

        socks = []
        try:
            for i in range(10):
                r = client.connect("127.0.0.1", self.echo.port)
                self.assertEqual(r.reply, REP_OK, f"burst session {i}: {r.describe()}"
                                 + self.context())
                socks.append(r.sock)
            # all ten are live at once: ten tunnels carry them
            for i, s in enumerate(socks):
                s.sendall(b"burst %d\n" % i)
            for i, s in enumerate(socks):
                self.assertEqual(mxtest.recv_exact(s, len(b"burst %d\n" % i)), b"burst %d\n" % i)
            live = server.established()
            self.assertGreaterEqual(live, 10, "10 concurrent sessions but only %d tunnels"
                                    % live + self.context())
            grown = server.auth_ok()
            self.assertGreaterEqual(grown - before, 8, "the burst did not open tunnels"
                                    + self.context())
        finally:
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_WR)
                    mxtest.recv_until_eof(s)
                except OSError:
                    pass
                s.close()
        client.wait_count(r"session: .* end=", 10, timeout=10)
        time.sleep(1.0)
        after_burst = server.established()
        self.assertLessEqual(after_burst, 5, "more idle tunnels than pool_max = 5 kept after "
                             "the burst" + self.context())
        self.assertGreater(after_burst, 2, "the pool did not keep the burst's tunnels (it "
                           "should keep up to pool_max for pool_idle_timeout)" + self.context())

        # idle beyond pool_idle_timeout (3 s; checked every retry_interval = 1 s)
        deadline = time.monotonic() + 10
        while server.established() > 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(server.established(), 2, "the pool did not shrink back to pool = 2"
                         + self.context())
        # and it still serves
        r, port = echo_session(client, self.echo, b"after the burst\n")
        self.assertEqual(r.reply, REP_OK, r.describe() + self.context())
        self.assertIn("tunnel=pooled", session_line(client, port))

    def test_dead_idle_tunnels_are_detected_by_ping_and_replaced(self):
        """keepalive_interval = 1s, keepalive_timeout = 500ms: while the server runs,
        PINGs are answered and nothing is replaced; SIGSTOP the server for 2 s: the
        client logs the idle tunnels lost (no answer within keepalive_timeout) and
        replaces them after SIGCONT; a session afterwards succeeds on a pooled tunnel."""
        server, client = self.pair({"pool": 2},
                                   {"keepalive_interval": "1s", "keepalive_timeout": "500ms"})
        server.wait_count(r"auth ok tenant=acme", 2, timeout=10)
        time.sleep(3.0)  # three keepalive rounds with a live server
        self.assertNotIn("keepalive_timeout", client.text(), self.context())
        self.assertEqual(server.auth_ok(), 2, "tunnels were replaced while the server "
                         "answered every PING" + self.context())

        cmark, smark = client.mark(), server.mark()
        server.freeze()
        try:
            client.wait_for(r"tunnel to %s lost \(0 sessions\): no answer within "
                            r"keepalive_timeout" % server.address.replace(".", r"\."),
                            timeout=5, since=cmark)
            time.sleep(1.5)
        finally:
            server.send_signal(signal.SIGCONT)
        # after SIGCONT the pool refills with newly authenticated tunnels
        server.wait_count(r"auth ok tenant=acme", 2, timeout=15, since=smark)
        deadline = time.monotonic() + 10
        while server.established() != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(server.established(), 2, "the dead tunnels were not closed and "
                         "replaced by two live ones" + self.context())
        r, port = echo_session(client, self.echo, b"after the stop\n")
        self.assertEqual(r.reply, REP_OK, r.describe() + self.context())
        self.assertIn("tunnel=pooled", session_line(client, port), self.context())

    def test_session_that_draws_a_dead_pooled_tunnel_is_retried_on_a_fresh_one(self):
        """The pooled tunnels die unnoticed (every further packet the client sends on
        them is answered with a RST, as after a lost NAT mapping; keepalive is 60 s so
        no PING finds out first): the next sessions draw them, and each is retried once
        on a fresh tunnel; the SOCKS5 client only sees 0x00 and its echo."""
        server, client = self.pair({"pool": 2})
        server.wait_count(r"auth ok tenant=acme", 2, timeout=10)
        time.sleep(0.3)
        ports = client_ports_of_tunnels(server.tunnel_addr[1])
        self.assertEqual(len(ports), 2, f"client ends of the pooled tunnels: {ports}")
        with ResetFlows(server.tunnel_addr[1], ports):
            for i in range(2):
                cmark = client.mark()
                r, port = echo_session(client, self.echo, b"retried %d\n" % i)
                self.assertEqual(r.reply, REP_OK, f"session {i}: {r.describe()}"
                                 + self.context())
                self.assertLess(r.elapsed, 2.0, f"session {i}: {r.describe()}")
                log = client.since(cmark)
                self.assertRegex(log, r"pooled tunnel to %s was dead \(.*\); retrying on "
                                 r"a fresh tunnel" % server.address.replace(".", r"\."),
                                 self.context())
                self.assertIn("tunnel=fresh", session_line(client, port, cmark),
                              self.context())
        # the pool is healthy again afterwards
        r, port = echo_session(client, self.echo, b"afterwards\n")
        self.assertEqual(r.reply, REP_OK, r.describe() + self.context())


if __name__ == "__main__":
    unittest.main()
