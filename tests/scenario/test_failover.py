"""MX failover through the pair (tests/scenario/topology.py): beta.test's preferred MX
refuses connections (nothing listens: a RST), the second accepts; gamma.test's only
MX is silent (nftables drops its tcp/25).

Timeouts, made consistent: mxegress-server's ``connect_timeout`` is 4 s, the
gateways' own are 5 s (Exim's ``connect_timeout`` and the socks_proxy ``tmo``,
which covers the SOCKS CONNECT reply; Postfix's ``smtp_connect_timeout`` and
``smtp_helo_timeout``, the latter being what bounds a redirected connection, whose
TCP connect is local and instant). So the server's answer, "timed out", reaches the
gateway before its own timer fires, and a silent MX costs the server's 4 s, never
more than the gateway's 5 s.
"""

import re
import time
import unittest

from scenario_test import ScenarioTest
from topology import GATEWAY_CONNECT_TIMEOUT, MX2_BETA, MX_DOWN, MX_SILENT, SERVER_CONNECT_TIMEOUT

Q = re.escape


class FailoverTest(ScenarioTest):

    def test_exim_skips_the_refusing_mx(self):
        """Exim logs the refusal of mx-down.beta.test (the server's SOCKS5 reply,
        connection refused) and delivers to mx2.beta.test in the same attempt."""
        ex, mx = self.sc.exim, self.sc.mx_beta
        xmark = len(ex.log())
        mid = self.unique_id("failover-exim", "tenant-a.test")
        start = time.monotonic()
        ex.send("alice@tenant-a.test", "erin@beta.test", mid, "failover")
        self.wait_message_ids(mx, [mid], 30)
        elapsed = time.monotonic() - start
        ex.wait_log(rf"H=mx-down\.beta\.test \[{Q(MX_DOWN)}\] Connection refused", 5, xmark)
        ex.wait_log(rf"=> erin@beta\.test R=\S+ T=client_socks H=mx2\.beta\.test "
                    rf"\[{Q(MX2_BETA)}\] X=TLS1\.3:\S+ CV=yes", 5, xmark)
        self.assertNotRegex(ex.log()[xmark:], r"== erin@beta\.test", "deferred" + self.context())
        self.assertLess(elapsed, 10, self.context())

    def test_postfix_skips_the_refusing_mx(self):
        """Postfix logs the client's 421 for mx-down.beta.test ("connection ... refused",
        the transparent listener's on_failure = "421") and delivers to mx2.beta.test
        in the same attempt."""
        pf, mx = self.sc.postfix, self.sc.mx_beta
        pmark = len(pf.log())
        mid = self.unique_id("failover-postfix", "tenant-b.test")
        start = time.monotonic()
        pf.send("carol@tenant-b.test", "frank@beta.test", mid, "failover")
        self.wait_message_ids(mx, [mid], 30)
        elapsed = time.monotonic() - start
        pf.wait_log(rf"host mx-down\.beta\.test\[{Q(MX_DOWN)}\] refused to talk to me: 421 "
                    rf"4\.4\.1 mxegress: connection to {Q(MX_DOWN)}:25 refused", 5, pmark)
        pf.wait_log(rf"to=<frank@beta\.test>, relay=mx2\.beta\.test\[{Q(MX2_BETA)}\]:25, "
                    rf".*status=sent", 5, pmark)
        self.assertNotIn("status=deferred", pf.log()[pmark:], self.context())
        self.assertLess(elapsed, 10, self.context())

    def timed_defer(self, gateway, pattern, mark, start):
        """Seconds from START until GATEWAY logged PATTERN after MARK."""
        gateway.wait_log(pattern, GATEWAY_CONNECT_TIMEOUT + 10, mark)
        return time.monotonic() - start

    def test_silent_mx_costs_no_more_than_the_connect_timeout(self):
        """Both gateways send to gamma.test at once; each defers the message after the
        server's connect timeout (4 s) said "timed out", within the gateway's own 5 s
        (plus scheduling slack), and nothing was delivered anywhere."""
        ex, pf = self.sc.exim, self.sc.postfix
        xmark, pmark = len(ex.log()), len(pf.log())
        try:
            start = time.monotonic()
            ex.send("alice@tenant-a.test", "gina@gamma.test",
                    self.unique_id("silent-exim", "tenant-a.test"), "silent")
            pf.send("carol@tenant-b.test", "hank@gamma.test",
                    self.unique_id("silent-postfix", "tenant-b.test"), "silent")
            exim_s = self.timed_defer(ex, r"== gina@gamma\.test R=\S+ T=client_socks defer",
                                      xmark, start)
            postfix_s = self.timed_defer(
                pf, rf"to=<hank@gamma\.test>, relay=mx\.gamma\.test\[{Q(MX_SILENT)}\]:25, "
                rf".*status=deferred \(host mx\.gamma\.test\[{Q(MX_SILENT)}\] refused to talk "
                rf"to me: 421 4\.4\.1 mxegress: connection to {Q(MX_SILENT)}:25 timed out\)",
                pmark, start)
            for name, took in (("exim", exim_s), ("postfix", postfix_s)):
                self.assertGreaterEqual(took, SERVER_CONNECT_TIMEOUT - 0.5,
                                        f"{name} gave up before the server's connect timeout")
                self.assertLessEqual(took, GATEWAY_CONNECT_TIMEOUT + 1.5,
                                     f"{name}: the silent MX cost {took:.1f}s" + self.context())
            ex.wait_log(rf"H=mx\.gamma\.test \[{Q(MX_SILENT)}\] ", 1, xmark)
            self.sc.server.wait_for(rf"session: failed tenant=\S+ via=tunnel "
                                    rf"target={Q(MX_SILENT)}:25 reply=6 "
                                    rf'reason="no connection within '
                                    rf'{SERVER_CONNECT_TIMEOUT * 1000} ms"', 5)
            print(f"\nsilent MX: exim deferred after {exim_s:.1f}s, postfix after "
                  f"{postfix_s:.1f}s (server connect_timeout {SERVER_CONNECT_TIMEOUT}s, "
                  f"gateways' {GATEWAY_CONNECT_TIMEOUT}s)")
        finally:
            # the deferred messages would be retried by every later queue run
            ex.clear_queue()
            pf.clear_queue()


if __name__ == "__main__":
    unittest.main()
