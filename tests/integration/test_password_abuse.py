"""A flood of wrong RFC 1929 passwords on the server's SOCKS5 listener (issue 18,
item 2): 50 wrong passwords a second from one address for 10 s, each a real
SOCKS5 login, while a good user logs in again and again from another address
and a tenant's CONNECT goes through the tunnel. With the defaults of [socks5]
(max_password_checks_per_address = 4, login_failures = 5, login_backoff = "60s")
the flooding address costs at most a few argon2id checks before it is refused
unchecked, so the good user's (cached) login stays under 200 ms at the 99th
percentile and the tenant's CONNECT is unaffected. The refusals are logged at
warn, rate-limited: a few lines naming the address and user, not one per attempt.

What the bound covers: the good user's first login costs one argon2id check
(~65 ms, several times that under ASan) and is made before the measurement, as
a gateway's first login is; the p99 is over the logins that follow.
"""

import re
import socket
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from statistics import median

from mxtest import EchoServer, Fleet, SharedHarnessTest, recv_exact, socks5_greeting, socks5_userpass

ATTACKER = "127.0.0.5"
GATEWAY = "127.0.0.6"
USERS = {
    "exim": {"password": "correct horse", "tenant": "acme",
             "from": ["127.0.0.1/32", ATTACKER + "/32"]},
    "relay": {"password": "other secret", "tenant": "acme", "from": [GATEWAY + "/32"]},
}
FLOOD_SECONDS = 10.0
FLOOD_RATE = 50  # wrong passwords a second


def login(proxy, source, user, password, timeout=10.0):
    """One SOCKS5 connection from SOURCE up to the RFC 1929 status; returns
    (status or None when closed unanswered, seconds from connect to the status)."""
    start = time.monotonic()
    with socket.create_connection(proxy, timeout=timeout, source_address=(source, 0)) as sock:
        if socks5_greeting(sock, [0x02]) != 0x02:
            return None, time.monotonic() - start
        status = socks5_userpass(sock, user, password)
    return status, time.monotonic() - start


def p99(samples):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class PasswordAbuseTest(SharedHarnessTest):
    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer("127.0.0.1")
        cls.peers = [cls.echo]
        cls.fleet = cls.start_harness(
            lambda: Fleet({"acme": {"source": ["127.0.0.2"]}}, ports=[cls.echo.port],
                          socks5_users=USERS))
        cls.proxy = cls.fleet.server_socks_addr

    def tenant_round_trip(self):
        """A CONNECT through the tenant's client and tunnel, one byte echoed."""
        start = time.monotonic()
        sock = self.fleet.clients["acme"].open("127.0.0.1", self.echo.port)
        try:
            sock.sendall(b"x")
            self.assertEqual(recv_exact(sock, 1), b"x")
        finally:
            sock.close()
        return time.monotonic() - start

    def test_a_flood_of_wrong_passwords_leaves_others_unaffected(self):
        # Warm-up: the gateway's first login costs its one argon2id check.
        status, first = login(self.proxy, GATEWAY, "relay", "other secret")
        self.assertEqual(status, 0, self.fleet.logs_tail())
        # The tenant's CONNECTs before the flood, to compare with those during it.
        baseline = [self.tenant_round_trip() for _ in range(20)]
        mark = self.fleet.server.mark()

        flood_statuses = []
        stop = threading.Event()

        def attempt():
            try:
                status, _ = login(self.proxy, ATTACKER, "exim", "wrong")
            except OSError as e:
                status = repr(e)
            flood_statuses.append(status)

        def flood():
            with ThreadPoolExecutor(max_workers=64) as pool:
                start = time.monotonic()
                for i in range(int(FLOOD_SECONDS * FLOOD_RATE)):
                    delay = start + i / FLOOD_RATE - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(attempt)
            stop.set()

        flooder = threading.Thread(target=flood)
        flooder.start()
        good, tenant = [], []
        try:
            time.sleep(0.5)  # the flood is under way
            next_tenant = 0.0
            while not stop.is_set():
                status, elapsed = login(self.proxy, GATEWAY, "relay", "other secret")
                self.assertEqual(status, 0, "the good user is let in\n" + self.fleet.logs_tail())
                good.append(elapsed)
                if time.monotonic() >= next_tenant:
                    tenant.append(self.tenant_round_trip())
                    next_tenant = time.monotonic() + 0.25
                time.sleep(0.02)
        finally:
            flooder.join()

        self.assertEqual(len(flood_statuses), int(FLOOD_SECONDS * FLOOD_RATE))
        self.assertNotIn(0, flood_statuses, "no wrong password let in")
        refused = sum(1 for s in flood_statuses if s == 1)
        self.assertGreaterEqual(refused, 0.95 * len(flood_statuses),
                                "answered with RFC 1929 failure: %r" % flood_statuses[:20])
        self.assertGreaterEqual(len(good), 100)
        self.assertLess(p99(good), 0.200,
                        "good logins: p99 %.3f s, max %.3f s over %d (first, uncached: %.3f s)"
                        % (p99(good), max(good), len(good), first))
        self.assertGreaterEqual(len(tenant), 20)
        # Unaffected: the median as before the flood (a 50 ms allowance for a
        # loaded 2-core machine; an argon2id check queued in front of the
        # tunnel's work would cost ~65 ms each), and no outlier near a second.
        self.assertLess(median(tenant), median(baseline) + 0.050,
                        "tenant CONNECT round trips during the flood %r, before it %r"
                        % (tenant, baseline))
        self.assertLess(max(tenant), 1.0, "tenant CONNECT round trips: %r" % tenant)

        log = self.fleet.server.since(mark)
        warn_refusals = re.findall(
            r"warn\s+socks5: refused login of user \"?exim\"? from 127\.0\.0\.5 unchecked: .*",
            log)
        self.assertGreaterEqual(len(warn_refusals), 1, log[-3000:])
        # At most one line per 10 s for the kind of refusal, each saying how
        # many it stands for; hundreds of refusals, a handful of lines.
        self.assertLessEqual(len(warn_refusals), 5, "\n".join(warn_refusals))
        self.assertRegex(log, r"warn\s+socks5: 5 failed logins from 127\.0\.0\.5 \(the last for "
                              r"user \"?exim\"?\): its logins are refused unchecked for 1m")
        bad = re.findall(r"warn\s+socks5: .*login failed for user \"?exim\"?: bad password", log)
        self.assertLessEqual(len(bad), 10, "only the few checked attempts: %d" % len(bad))
        self.assertNotRegex(log, r"refused login of user \"?relay")


if __name__ == "__main__":
    unittest.main()
