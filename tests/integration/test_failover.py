"""Several egress servers: priority order, failover when one dies, return after it
recovers, and a quick 0x01 when all are down.

Two mxegress-server processes (own identities and ports, both list the one client
key), one client with ``[[server]]`` priority 10 (A) and 20 (B), pool = 2 each,
retry_interval = 1s, handshake_timeout = 2s. Which server carried a session is in
the client's ``session: ... via=HOST:PORT`` line and in that server's
``dial target=`` lines.
"""

import re
import signal
import socket
import time
import unittest

from mxtest import REP_GENERAL, REP_OK, EchoServer, echo_session
from netns import two_servers_one_client

HANDSHAKE_TIMEOUT = 2.0
MARGIN = 1.5          # ASan builds on two cores



class FailoverTest(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)
        # the best priority's pool is warm before any session
        self.dep, self.a, self.b, self.client = two_servers_one_client(
            self, "mxfailover-", self.echo.port,
            lambda a, b: [(a, {"priority": 10, "pool": 2}), (b, {"priority": 20, "pool": 2})],
            {"handshake_timeout": "2s", "retry_interval": "1s"}, warm=2)

    def context(self):
        return "\n" + self.dep.logs_tail(80)

    def via(self, port, since=0):
        return self.client.session_via(port, since)

    def run_sessions(self, n, tag, expect_via):
        """N sequential sessions; each must get 0x00 within handshake_timeout + margin
        and be carried by EXPECT_VIA (a ServerNode)."""
        for i in range(n):
            mark = self.client.mark()
            r, port = echo_session(self.client, self.echo, b"%s %d\n" % (tag.encode(), i))
            self.assertEqual(r.reply, REP_OK, f"{tag} session {i}: {r.describe()}"
                             + self.context())
            self.assertLess(r.elapsed, HANDSHAKE_TIMEOUT + MARGIN,
                            f"{tag} session {i} took {r.elapsed:.2f}s" + self.context())
            self.assertEqual(self.via(port, mark), expect_via.address,
                             f"{tag} session {i} went elsewhere" + self.context())

    # ---------------------------------------------------------------------

    def test_priority_failover_and_return(self):
        """Sessions go to A (priority 10); SIGKILL A with tunnels in its pool: the next
        sessions get 0x00 via B at once, the client logs the retry or A down; A back
        on its port: after retry_interval the client logs it up again and the
        sessions move back to A."""
        amark, bmark = self.a.mark(), self.b.mark()
        self.run_sessions(3, "before", self.a)
        self.assertEqual(len(self.a.dial_lines(amark)), 3, self.context())
        self.assertEqual(self.b.dial_lines(bmark), [], "priority 20 got sessions while "
                         "priority 10 was up" + self.context())
        self.assertEqual(self.b.auth_ok(), 0, "a pool was kept for the priority-20 server "
                         "while priority 10 was up" + self.context())

        cmark, bmark = self.client.mark(), self.b.mark()
        self.a.kill(signal.SIGKILL)
        # at once: the first session may draw a dead pooled tunnel of A
        self.run_sessions(5, "failover", self.b)
        self.assertEqual(len(self.b.dial_lines(bmark)), 5, self.context())
        log = self.client.since(cmark)
        a_name = re.escape(self.a.address)
        self.assertRegex(log, r"pool: server %s is down: |pooled tunnel to %s was dead"
                         % (a_name, a_name), self.context())

        cmark, amark = self.client.mark(), self.a.mark()
        self.a.restart()
        self.client.wait_for(r"pool: server %s is up again" % a_name, timeout=10, since=cmark)
        # the priority-10 pool fills again
        self.a.wait_count(r"auth ok tenant=acme", 2, timeout=10, since=amark)
        bmark = self.b.mark()
        self.run_sessions(3, "back", self.a)
        self.assertEqual(len(self.a.dial_lines(amark)), 3, self.context())
        self.assertEqual(self.b.dial_lines(bmark), [], self.context())

    def test_frozen_primary_does_not_hang_sessions(self):
        """A frozen primary (SIGSTOP: its tunnels neither answer nor close, like a host
        that vanished or a NAT that silently dropped the flows) with tunnels in the
        pool: a session that draws one must not wait for the CONNECT reply timeout
        (120 s); expected: it learns the tunnel is dead within keepalive_timeout
        (500 ms here, keepalive_interval 60 s so no idle PING finds out first) and is
        retried on the other server, answered within keepalive_timeout +
        handshake_timeout + margin."""
        self.client.kill(signal.SIGTERM)
        self.client.proc.stopping = True
        self.client.settings.update(keepalive_interval="60s", keepalive_timeout="500ms")
        amark = self.a.mark()
        self.client.restart()
        self.a.wait_count(r"auth ok tenant=acme", 2, timeout=10, since=amark)
        self.run_sessions(1, "before", self.a)
        cmark = self.client.mark()
        self.a.proc.stopping = True
        self.a.freeze()
        try:
            limit = 0.5 + HANDSHAKE_TIMEOUT + MARGIN
            start = time.monotonic()
            try:
                r, port = echo_session(self.client, self.echo, b"frozen\n", timeout=10)
            except (TimeoutError, socket.timeout):
                self.fail(f"SOCKS5 CONNECT had no reply after {time.monotonic() - start:.1f}s "
                          f"(expected one within {limit:.1f}s): a session that drew a pooled "
                          f"tunnel to a frozen server hangs" + self.context())
            self.assertEqual(r.reply, REP_OK, r.describe() + self.context())
            self.assertLess(r.elapsed, limit, r.describe() + self.context())
            self.assertEqual(self.via(port, cmark), self.b.address, self.context())
        finally:
            self.a.send_signal(signal.SIGCONT)
            self.a.proc.stopping = False

    def test_all_servers_down_gives_0x01_quickly(self):
        """Both servers killed: CONNECT gets 0x01 (general failure) within about a
        second, not after a hang; again once both are known down; the client logs
        why."""
        self.run_sessions(1, "before", self.a)
        cmark = self.client.mark()
        self.a.kill(signal.SIGKILL)
        self.b.kill(signal.SIGKILL)
        for i in range(3):
            r = self.client.connect("127.0.0.1", self.echo.port, timeout=15)
            r.close()
            self.assertEqual(r.reply, REP_GENERAL, f"attempt {i}: {r.describe()}"
                             + self.context())
            self.assertLess(r.elapsed, 1.5, f"attempt {i}: 0x01 only after {r.elapsed:.2f}s"
                            + self.context())
        log = self.client.since(cmark)
        for s in (self.a, self.b):
            self.assertRegex(log, r"pool: server %s is down: " % re.escape(s.address),
                             self.context())
        self.assertRegex(log, r"session: peer=\S+ target=\S+ reply=1 no tunnel: ",
                         self.context())


if __name__ == "__main__":
    unittest.main()
