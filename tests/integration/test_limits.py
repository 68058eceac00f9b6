"""Per-tenant limits, each hit and released, and `tunnel_from`.

One Fleet serves the file, one tenant (and client) per limit so the tests do
not share counters. A refused connection must get SOCKS5 reply 0x02, a server
log line `refused tenant=NAME ... reason="<which limit>"`, and no `dial` line
(the limit is checked before anything is dialed); the far end sees nothing.
"""

import re
import socket
import time
import unittest

from mxtest import (EchoServer, Fleet, REP_GENERAL, REP_NOT_ALLOWED, REP_OK,
                    SharedHarnessTest, pattern_bytes, recv_exact, recv_until_eof)

TENANTS = {
    "maxconn": {"source": ["127.0.0.2"], "max_connections": 2},
    "rate": {"source": ["127.0.0.3"], "connections_per_minute": 30},
    "perdest": {"source": ["127.0.0.4"], "max_per_destination": 1},
    "bytes": {"source": ["127.0.0.5"], "bytes_per_day": "100kB"},
    "fenced": {"tunnel_from": ["127.0.0.9/32"]},
    "fenced_ok": {"tunnel_from": ["127.0.0.0/24", "::1/128"]},
}


class LimitsTest(SharedHarnessTest):
    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer("127.0.0.1")
        cls.echo2 = EchoServer("127.0.0.1")
        cls.echo9 = EchoServer("127.0.0.9")
        cls.peers = [cls.echo, cls.echo2, cls.echo9]
        # successful CONNECTs made to each peer: each is one accept() there, so
        # peer.accepted(n) tells when the peer's records caught up
        cls.dialed = {p.port: 0 for p in cls.peers}
        cls.fleet = cls.start_harness(
            lambda: Fleet(TENANTS, ports=sorted({p.port for p in cls.peers})))

    # helpers -----------------------------------------------------------
    def connect(self, client, peer):
        """Every CONNECT of this file goes through here (see `dialed`)."""
        r = self.fleet.clients[client].connect(peer.host, peer.port)
        if r.reply == REP_OK:
            self.dialed[peer.port] += 1
        return r

    def open(self, client, peer=None):
        peer = peer or self.echo
        r = self.connect(client, peer)
        self.addCleanup(r.close)
        self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + self.fleet.logs_tail(20))
        return r.sock

    def assert_refused(self, client, peer, reason, reply=REP_NOT_ALLOWED):
        """A CONNECT by CLIENT to PEER is refused with REPLY; the server logs REASON
        (a literal text) for the tenant, dials nothing, and PEER accepts nothing."""
        self.assertTrue(peer.accepted(self.dialed[peer.port]), "peer caught up")
        accepted = len(peer.records)
        mark = self.fleet.server.mark()
        r = self.connect(client, peer)
        r.close()
        self.assertEqual(r.reply, reply, r.describe() + "\n" + self.fleet.logs_tail(20))
        if reply == REP_NOT_ALLOWED:
            line = self.fleet.server.wait_for(
                rf"refused tenant={re.escape(client)} .*reason=\"?{re.escape(reason)}", 5,
                since=mark)
            self.assertIn(f"target={peer.host}:{peer.port}", line.group(0))
        self.assertEqual(self.fleet.dial_lines(mark), [], "nothing dialed")
        time.sleep(0.1)
        self.assertEqual(len(peer.records), accepted, "the far end saw no connection")
        return mark

    def close_and_wait(self, sock, tenant, mark=None):
        """Close SOCK and wait for the server to log the end of a session of TENANT
        (after MARK, default now)."""
        if mark is None:
            mark = self.fleet.server.mark()
        sock.close()
        self.fleet.server.wait_for(rf"session: tenant={re.escape(tenant)} via=\S+ .* end=",
                                   10, since=mark)

    def eventually_ok(self, client, peer=None, timeout=5.0):
        """A CONNECT that must succeed within TIMEOUT (a freed slot may be released
        a moment after the session's end is logged)."""
        peer = peer or self.echo
        deadline = time.monotonic() + timeout
        while True:
            r = self.connect(client, peer)
            if r.reply == REP_OK or time.monotonic() > deadline:
                break
            r.close()
            time.sleep(0.1)
        self.addCleanup(r.close)
        self.assertEqual(r.reply, REP_OK, "slot released: " + r.describe() + "\n"
                         + self.fleet.logs_tail(20))
        return r.sock

    # ------------------------------------------------------------------
    def test_max_connections_hit_and_released(self):
        a = self.open("maxconn")
        b = self.open("maxconn")
        self.assert_refused("maxconn", self.echo, "max_connections 2 reached")
        self.assert_refused("maxconn", self.echo2, "max_connections 2 reached")
        # the two live ones still work
        for s in (a, b):
            s.sendall(b"ping")
            self.assertEqual(recv_exact(s, 4), b"ping")
        self.close_and_wait(a, "maxconn")
        c = self.eventually_ok("maxconn")
        self.assert_refused("maxconn", self.echo, "max_connections 2 reached")
        self.close_and_wait(b, "maxconn")
        self.close_and_wait(c, "maxconn")
        self.eventually_ok("maxconn")
        self.eventually_ok("maxconn")

    def test_connections_per_minute_hit_and_refilled(self):
        """Burst of 30, then refused; the bucket refills at 30/60 = one per 2 s."""
        t0 = time.monotonic()
        ok = 0
        refused = None
        for _ in range(100):
            r = self.connect("rate", self.echo)
            r.close()
            if r.reply != REP_OK:
                refused = r
                break
            ok += 1
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(refused, "no refusal after 100 connections")
        self.assertEqual(refused.reply, REP_NOT_ALLOWED, refused.describe())
        self.assertGreaterEqual(ok, 30, "the whole burst is allowed")
        self.assertLessEqual(ok, 30 + int(elapsed / 2) + 1,
                             f"only the burst plus the refill of {elapsed:.1f}s")
        self.assertRegex(self.fleet.server.text(),
                         r'refused tenant=rate .*reason="?connections_per_minute 30 exceeded')
        # still empty at once
        self.assert_refused("rate", self.echo, "connections_per_minute 30 exceeded")
        time.sleep(2.3)     # one token back
        sock = self.eventually_ok("rate", timeout=0.5)
        sock.close()
        self.assert_refused("rate", self.echo, "connections_per_minute 30 exceeded")

    def test_max_per_destination_hit_and_released(self):
        a = self.open("perdest", self.echo)
        # another port on the same IP counts as the same destination
        self.assert_refused("perdest", self.echo2, "max_per_destination 1 reached for 127.0.0.1")
        self.assert_refused("perdest", self.echo, "max_per_destination 1 reached for 127.0.0.1")
        # another IP is another destination
        b = self.open("perdest", self.echo9)
        self.assert_refused("perdest", self.echo9, "max_per_destination 1 reached for 127.0.0.9")
        self.close_and_wait(a, "perdest")
        self.eventually_ok("perdest", self.echo2)
        self.close_and_wait(b, "perdest")
        self.eventually_ok("perdest", self.echo9)

    def test_bytes_per_day_hit_counted_both_ways(self):
        """100 kB a day: 50 000 bytes echoed (100 000 both ways) use it all up."""
        mark = self.fleet.server.mark()
        sock = self.open("bytes")
        payload = pattern_bytes(50_000, seed=5)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(15)
        self.assertEqual(recv_until_eof(sock), payload)
        self.close_and_wait(sock, "bytes", mark)
        self.assertRegex(self.fleet.server.text(),
                         r"session: tenant=bytes .*bytes_up=50000 bytes_down=50000")
        self.assert_refused("bytes", self.echo, "bytes_per_day 100000 reached")
        # the count survives a reload that keeps the limit ...
        self.fleet.reload()
        self.assert_refused("bytes", self.echo, "bytes_per_day 100000 reached")
        # ... and a larger limit lets the tenant go on
        tenants = dict(self.fleet.tenants)
        tenants["bytes"] = {**tenants["bytes"], "bytes_per_day": "1MB"}
        try:
            self.fleet.reload(tenants=tenants)
            self.eventually_ok("bytes", timeout=1)
        finally:
            self.fleet.reload(tenants=TENANTS)

    def test_tunnel_from_outside_is_refused_after_auth(self):
        mark = self.fleet.server.mark()
        cmark = self.fleet.clients["fenced"].proc.mark()
        self.assertTrue(self.echo.accepted(self.dialed[self.echo.port]))
        accepted = len(self.echo.records)
        r = self.connect("fenced", self.echo)
        r.close()
        self.assertEqual(r.reply, REP_GENERAL, r.describe())
        # the client may have tried (and been refused) before this request, when it
        # filled its pool at start: look at the whole log
        self.fleet.server.wait_for(
            r"auth failed peer=127\.0\.0\.1:\d+ reason=\"?tenant fenced may not open tunnels "
            r"from 127\.0\.0\.1", 5)
        self.assertNotRegex(self.fleet.server.text(), r"auth ok tenant=fenced ")
        self.assertEqual(self.fleet.dial_lines(mark), [])
        self.assertEqual(len(self.echo.records), accepted)
        self.assertRegex(self.fleet.clients["fenced"].proc.since(cmark), r"reply=1")

    def test_tunnel_from_inside_is_accepted(self):
        sock = self.open("fenced_ok")
        sock.sendall(b"x")
        self.assertEqual(recv_exact(sock, 1), b"x")
        self.assertRegex(self.fleet.server.text(), r"auth ok tenant=fenced_ok peer=127\.0\.0\.1")


if __name__ == "__main__":
    unittest.main()
