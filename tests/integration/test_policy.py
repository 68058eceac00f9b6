"""Server policy and dial outcomes as SOCKS5 reply codes.

Every refusal must also leave no ``dial target=`` line in the server log: the
check happens before anything is dialed.
"""

import re
import time
import unittest

from mxtest import (Blackhole, EchoServer, Pair, REP_NOT_ALLOWED, REP_OK, REP_REFUSED,
                    REP_TTL_EXPIRED, RefusedPort, SharedHarnessTest, recv_exact)

CONNECT_TIMEOUT = 2.0


class PolicyBase(SharedHarnessTest):
    pair: Pair

    def assertRefusedByPolicy(self, host, port):
        mark = self.pair.server.mark()
        with self.pair.connect(host, port) as r:
            self.assertEqual(r.reply, REP_NOT_ALLOWED,
                             f"{host}:{port}: {r.describe()}\n" + self.pair.logs_tail())
        # the refusal is logged with the target and a reason (waiting for it also
        # orders the log: any dial line would have been written before it)
        self.pair.server.wait_for(r"refused\b.*target=\[?" + re.escape(host)
                                  + r".*reason=", timeout=5, since=mark)
        self.assertEqual(self.pair.dial_lines(mark), [], f"{host} must not be dialed")

    def assertWorks(self, host, port):
        with self.pair.connect(host, port) as r:
            self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + self.pair.logs_tail())
            r.sock.sendall(b"ping")
            self.assertEqual(recv_exact(r.sock, 4), b"ping")


class LoopbackAllowedTest(PolicyBase):
    """allow = loopback, deny = 127.0.0.2/32, ports = only the ones listed."""

    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer("127.0.0.1")
        cls.echo_other_port = EchoServer("127.0.0.1")   # reachable, but port not allowed
        cls.denied = EchoServer("127.0.0.2")            # reachable, but deny-listed
        cls.refused = RefusedPort("127.0.0.1")
        cls.hole = Blackhole("127.0.0.1")
        cls.peers = [cls.echo, cls.echo_other_port, cls.denied, cls.refused, cls.hole]
        ports = [cls.echo.port, cls.refused.port, cls.hole.port, cls.denied.port, 25]
        cls.pair = cls.start_harness(lambda: Pair(
            ports=ports, deny=["127.0.0.2/32"], connect_timeout=f"{int(CONNECT_TIMEOUT)}s"))

    def test_allowed_target_works(self):
        self.assertWorks("127.0.0.1", self.echo.port)

    def test_refused_port_gives_0x05(self):
        mark = self.pair.server.mark()
        with self.pair.connect("127.0.0.1", self.refused.port) as r:
            self.assertEqual(r.reply, REP_REFUSED, r.describe() + "\n" + self.pair.logs_tail())
        self.pair.server.wait_for(r"dial target=127\.0\.0\.1:%d\b" % self.refused.port,
                                  timeout=5, since=mark)

    def test_port_not_in_ports_gives_0x02(self):
        self.assertRefusedByPolicy("127.0.0.1", self.echo_other_port.port)
        self.assertEqual(self.echo_other_port.records, [], "nothing reached the peer")

    def test_private_address_gives_0x02(self):
        self.assertRefusedByPolicy("10.0.0.1", 25)

    def test_metadata_address_gives_0x02(self):
        self.assertRefusedByPolicy("169.254.169.254", 25)

    def test_deny_entry_wins_over_allow(self):
        self.assertRefusedByPolicy("127.0.0.2", self.denied.port)
        self.assertEqual(self.denied.records, [], "nothing reached the denied peer")

    def test_blackholed_target_gives_0x06_within_connect_timeout(self):
        self.assertTrue(self.hole.probe(0.5), f"blackhole ({self.hole.method}) not working")
        mark = self.pair.server.mark()
        t0 = time.monotonic()
        with self.pair.connect("127.0.0.1", self.hole.port, timeout=30) as r:
            elapsed = time.monotonic() - t0
            self.assertEqual(r.reply, REP_TTL_EXPIRED, r.describe() + "\n" + self.pair.logs_tail())
        self.assertGreaterEqual(elapsed, CONNECT_TIMEOUT * 0.8, "answered before the timeout")
        self.assertLess(elapsed, CONNECT_TIMEOUT + 3.0, "connect_timeout not honoured")
        self.pair.server.wait_for(r"dial target=127\.0\.0\.1:%d\b" % self.hole.port,
                                  timeout=5, since=mark)


class LoopbackNotAllowedTest(PolicyBase):
    """The built-in deny-list with an empty allow list: loopback is refused too,
    including through a name ("localhost" -> 127.0.0.1 via /etc/hosts)."""

    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer("127.0.0.1")
        cls.peers = [cls.echo]
        cls.pair = cls.start_harness(lambda: Pair(ports=[cls.echo.port, 25], allow=[]))

    def test_localhost_name_gives_0x02(self):
        self.assertRefusedByPolicy("localhost", self.echo.port)
        self.assertEqual(self.echo.records, [])

    def test_loopback_literal_gives_0x02(self):
        self.assertRefusedByPolicy("127.0.0.1", self.echo.port)
        self.assertRefusedByPolicy("::1", self.echo.port)
        self.assertEqual(self.echo.records, [])

    def test_private_and_metadata_give_0x02(self):
        for host in ("10.0.0.1", "169.254.169.254", "192.168.1.1", "100.64.0.1", "fd00::1"):
            with self.subTest(host=host):
                self.assertRefusedByPolicy(host, 25)


if __name__ == "__main__":
    unittest.main()
