"""Warm-up of new source addresses ([[tenant.warmup]], docs/reputation.md).

One Fleet, one tenant per case so the tests do not share buckets. Each warm-up
allows 3 sessions an hour from its address (`schedule = [[1, 3]]`, starting
today, UTC): after those, source selection passes over the address, and a
tenant with no other address of the family is refused with 0x02, a log line
and a trail line naming the warm-up. An address whose `start` is tomorrow is
never used. A reload that raises the schedule lets the address be used again.
"""

import datetime
import re
import time
import unittest

from mxtest import (EchoServer, Fleet, REP_NOT_ALLOWED, REP_OK, SharedHarnessTest,
                    run_server)

TODAY = datetime.datetime.now(datetime.timezone.utc).date()
TOMORROW = TODAY + datetime.timedelta(days=1)


def warmup(ip, start=TODAY, schedule=((1, 3),)):
    return {"source": [ip], "start": start, "schedule": [list(s) for s in schedule]}


TENANTS = {
    "pair": {"source": ["127.0.0.2", "127.0.0.3"], "warmup": [warmup("127.0.0.3")]},
    "single": {"source": ["127.0.0.4"], "warmup": [warmup("127.0.0.4")]},
    "later": {"source": ["127.0.0.5", "127.0.0.6"],
              "warmup": [warmup("127.0.0.6", start=TOMORROW, schedule=((1, 100),))]},
    "unborn": {"source": ["127.0.0.7"],
               "warmup": [warmup("127.0.0.7", start=TOMORROW, schedule=((1, 100),))]},
}


class WarmupTest(SharedHarnessTest):
    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer("127.0.0.1")
        cls.peers = [cls.echo]
        cls.fleet = cls.start_harness(lambda: Fleet(TENANTS, ports=[cls.echo.port]))

    def session_from(self, client):
        """One CONNECT by CLIENT to the echo server, which must succeed: the source
        address the echo server saw it come from."""
        before = len(self.echo.records)
        r = self.fleet.clients[client].connect(self.echo.host, self.echo.port)
        r.close()
        self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + self.fleet.logs_tail(20))
        self.assertTrue(self.echo.accepted(before + 1), "the echo server saw it")
        return self.echo.records[before].peer[0]

    def assert_refused(self, client, reason):
        """A CONNECT by CLIENT is refused with 0x02, the log line and the trail line
        name REASON, nothing is dialed and the echo server sees nothing."""
        accepted = len(self.echo.records)
        mark = self.fleet.server.mark()
        trail = self.fleet.trail_mark()
        r = self.fleet.clients[client].connect(self.echo.host, self.echo.port)
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe() + "\n" + self.fleet.logs_tail(20))
        self.fleet.server.wait_for(
            rf"refused tenant={client} .*reason=\"?{re.escape(reason)}", 5, since=mark)
        # (the lines of the sessions before may come after the mark)
        line = self.fleet.wait_trail_match(trail, tenant=client, reply=2)
        self.assertEqual(line["end"], reason)
        self.assertEqual(self.fleet.dial_lines(mark), [], "nothing dialed")
        time.sleep(0.1)
        self.assertEqual(len(self.echo.records), accepted, "the far end saw no connection")

    def test_the_warming_address_is_passed_over_after_its_sessions(self):
        sources = [self.session_from("pair") for _ in range(10)]
        self.assertEqual(sources, ["127.0.0.2", "127.0.0.3"] * 3 + ["127.0.0.2"] * 4)

    def test_the_only_address_is_refused_after_its_sessions_until_a_reload_raises_them(self):
        for _ in range(3):
            self.assertEqual(self.session_from("single"), "127.0.0.4")
        self.assert_refused("single", "warmup of 127.0.0.4 (day 1): 3 sessions an hour reached")
        self.assertRegex(self.fleet.server.text(),
                         r"refused tenant=single .*reason=\"?warmup of 127\.0\.0\.4")
        # 3600 an hour: a token a second from now on (the bucket keeps what it had)
        tenants = dict(self.fleet.tenants)
        tenants["single"] = {**TENANTS["single"],
                             "warmup": [warmup("127.0.0.4", schedule=((1, 3600),))]}
        try:
            self.fleet.reload(tenants=tenants)
            deadline = time.monotonic() + 5
            while True:
                r = self.fleet.clients["single"].connect(self.echo.host, self.echo.port)
                r.close()
                if r.reply == REP_OK or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + self.fleet.logs_tail(20))
        finally:
            self.fleet.reload(tenants=TENANTS)

    def test_an_address_before_its_start_is_never_used(self):
        sources = {self.session_from("later") for _ in range(6)}
        self.assertEqual(sources, {"127.0.0.5"})
        self.assert_refused("unborn", f"warmup of 127.0.0.7: not in service before {TOMORROW}")

    def test_check_names_each_warming_address(self):
        cp = run_server("--check", "--for-reload", "-c", self.fleet.server_config,
                        cwd=self.fleet.dir, timeout=30)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn('tenant "pair": 127.0.0.3 warms up: day 1, at most 3 sessions an hour',
                      cp.stdout)
        self.assertIn(f'tenant "unborn": 127.0.0.7 is not in service before {TOMORROW} '
                      "(warm-up)", cp.stdout)


if __name__ == "__main__":
    unittest.main()
