"""SMTP-aware egress health (issue 23, docs/smtp-health.md) against real Postfix MX hosts.

The gateway's side is smtplib through the client's SOCKS5 (mta.SocksSMTP) or curl;
the MX hosts are private Postfix instances (mta.PostfixMX), each on its own
loopback address and port MX_PORT (the server's [smtp] ports). What the server
learned is read back where an operator reads it: the log, /metrics, the trail
and `mxegress-server trail`.

SuspectSourceTest: one MX refuses 127.0.0.11 and 127.0.0.21 with a 554 greeting
(Postfix's client restrictions judged at connect time) and welcomes the others.
The sessions ask for mx.example.test (dnsmasq answers), so the provider comes
from the target name even for refused sessions, whose greeting names no host.
- on_suspect = "report": after 3 refusals in 3 sessions the address is suspect
  (log, gauge, exact counts per source in /metrics, the trail and its
  --count-by / --banner queries); round-robin goes on using it.
- on_suspect = "avoid", cooldown 3 s: the sessions leave from the other address
  (a real message is delivered through them); after the cooldown exactly one
  session tests the refused address, which starts another cooldown.
- by address: a gateway that dials the MX's address and is refused every time
  (the greeting names no host): the provider comes from the address's PTR name,
  and the address becomes suspect there all the same.

StartTlsTest: MX hosts with and without STARTTLS, asked for by IP (the provider
is learned from the greeting's host name), one tenant (one source address) per
case so each counter is exact: no STARTTLS offered; offered and not used; used;
an MX that offered it and, restarted without it, does not (a downgrade); and
[smtp] observe = false: nothing of SMTP in the trail or /metrics.
"""

import datetime
import os
import re
import time
import unittest
import uuid

import mxtest
from dnslab import Dnsmasq
from mta import PostfixMX, SocksSMTP, curl_smtp, make_client_cert
from mxtest import Fleet, ScratchDirTest, SharedHarnessTest, close_at_cleanup, run_server
from test_metrics import get, metrics_table, parse_metrics, value
from test_resolver import DNS, resolver_table
from test_trail import parse_time

MX_PORT = 2525
PROVIDER = "example.test"
MX_NAME = "mx.example.test"
REFUSING_MX = "127.0.0.40"
REFUSED = {"rep": "127.0.0.11", "avd": "127.0.0.21"}
WELCOME = {"rep": "127.0.0.12", "avd": "127.0.0.22"}
COOLDOWN = 3.0
# A tenant whose one address the MX refuses, dialing the MX by address: only
# the address's PTR name (dnsmasq has it) can name the provider.
BY_ADDRESS = "127.0.0.51"
PTR_MX = "127.0.0.44"  # its own MX: no session ever names its address's provider


def smtp_config(**keys) -> str:
    return mxtest._toml_table("smtp", {"ports": [MX_PORT], **keys})


def smtp_session(client, host, *, mail_from=None):
    """One SMTP conversation through CLIENT's SOCKS5: the greeting; if it is 220,
    EHLO (and MAIL FROM:<MAIL_FROM> without STARTTLS, if given); QUIT.
    Returns (the source address the MX saw, the greeting's code)."""
    s = SocksSMTP(client.socks_addr, "", 0, local_hostname="gw.example.net", timeout=15)
    try:
        code, _ = s.connect(host, MX_PORT)
        if code == 220:
            s.ehlo()
            if mail_from:
                s.mail(mail_from)
        s.quit()
        return s.socks_result.bound[0], code
    finally:
        s.close()


def smtp_fields(record) -> tuple:
    """A trail line's SMTP fields: (provider, smtp_banner, starttls_offered, starttls_used)."""
    return tuple(record.get(k) for k in ("provider", "smtp_banner", "starttls_offered",
                                         "starttls_used"))


def ended_at(record) -> datetime.datetime:
    """When a trail line's session ended (its observations were recorded then)."""
    return parse_time(record["time"]) + datetime.timedelta(milliseconds=record["duration_ms"])


class SmtpHealthTest(SharedHarnessTest, ScratchDirTest):
    """Shared checks; setUpClass of a subclass sets cls.tmp, cls.fleet, cls.metrics."""

    def scrape(self) -> dict:
        status, _, body = get(self.metrics, "/metrics")
        self.assertEqual(status, 200)
        return parse_metrics(body)

    def smtp_value(self, samples, name, tenant, source, **labels) -> float:
        return value(samples, name, tenant=tenant, source=source, provider=PROVIDER, **labels)

    def sessions(self, tenant, host, n, **kw):
        """N sessions of TENANT one after the other; waits for their trail lines.
        Returns ([(source, code)], [trail records])."""
        since = self.fleet.trail_mark()
        seen = [smtp_session(self.fleet.clients[tenant], host, **kw) for _ in range(n)]
        return seen, self.wait_records(since, n)

    def deliver(self, client, mx, host):
        """A message sent by curl through CLIENT to MX (asked for as HOST) with STARTTLS
        required; waits until MX delivered it."""
        token = uuid.uuid4().hex
        cert = make_client_cert(os.path.join(self.tmp, "gw"), cn="gw.example.net", name="gw")
        msg = os.path.join(self.tmp, f"{token}.eml")
        with open(msg, "w") as f:
            f.write(f"From: gw@example.net\r\nTo: {mx.address()}\r\n"
                    f"Subject: {token}\r\n\r\nthrough mxegress\r\n")
        r = curl_smtp(f"smtp://{host}:{MX_PORT}/gw.example.net", cacert=mx.cert_pem_path,
                      cert=cert, sender="gw@example.net", rcpt=mx.address(), upload=msg,
                      max_time=20, timeout=30,
                      proxy_args=("--socks5-hostname", mxtest.fmt_hostport(*client.socks_addr)))
        self.assertEqual(r.returncode, 0, r.stderr + self.fleet.logs_tail(30))
        self.assertIn(token, mx.wait_for_message(20, contains=token))

    def wait_records(self, since, n):
        records = self.fleet.wait_trail(since, n, timeout=20)
        self.assertEqual(len(records), n, records)
        return records

    def warn_suspect(self, tenant, mark):
        source = REFUSED[tenant]
        return self.fleet.server.wait_for(
            rf"warn +smtp: source address suspect source={re.escape(source)} "
            rf"provider={re.escape(PROVIDER)} tenant={tenant} refused=3 sessions=3 "
            rf'example="554 5\.7\.1 <unknown\[{re.escape(source)}\]>: Client host rejected: '
            rf'Access denied"', 10, since=mark)


@unittest.skipUnless(mxtest.isolated() and os.geteuid() == 0,
                     "needs root inside tests/run_isolated (Postfix, dnsmasq on port 53)")
class SuspectSourceTest(SmtpHealthTest):
    @classmethod
    def setUpClass(cls):
        cls.make_tmp("mxtest-smtp-", "smtp-health")
        cls.mx = PostfixMX(REFUSING_MX, MX_PORT, cls.tmp, refuse_clients=list(REFUSED.values()))
        cls.addClassCleanup(cls.mx.stop)
        cls.mx.start()
        cls.ptr_mx = PostfixMX(PTR_MX, MX_PORT, cls.tmp, refuse_clients=[BY_ADDRESS])
        cls.addClassCleanup(cls.ptr_mx.stop)
        cls.ptr_mx.start()
        cls.peers = [Dnsmasq(cls.tmp, listen=DNS, answers={PROVIDER: REFUSING_MX},
                             ptr={PTR_MX: "mx2." + PROVIDER})]
        cls.metrics = ("127.0.0.1", mxtest.free_port())
        rr = {"source_selection": "round-robin"}
        cls.fleet = cls.start_harness(lambda: Fleet(
            {"rep": {"source": [REFUSED["rep"], WELCOME["rep"]], **rr, "on_suspect": "report"},
             "avd": {"source": [REFUSED["avd"], WELCOME["avd"]], **rr, "on_suspect": "avoid"},
             "ip": {"source": [BY_ADDRESS]}},
            ports=[MX_PORT],
            server_extra=(smtp_config(suspect_min_sessions=3, cooldown=f"{COOLDOWN:.0f}s")
                          + metrics_table(cls.metrics[1]) + resolver_table())))
        cls.failed = False

    def test_refused_source_is_reported_and_still_used(self):
        a, b = REFUSED["rep"], WELCOME["rep"]
        mark = self.fleet.server.mark()
        seen, records = self.sessions("rep", MX_NAME, 8)
        self.assertEqual([code for _, code in seen], [554 if s == a else 220 for s, _ in seen],
                         f"the MX refuses {a} only: {seen}")
        self.assertEqual(sorted(s for s, _ in seen), [a] * 4 + [b] * 4,
                         f"round-robin goes on using {a} once it is suspect: {seen}")
        self.assertTrue(all(x[0] != y[0] for x, y in zip(seen, seen[1:])), seen)
        self.warn_suspect("rep", mark)
        self.assertEqual(len(re.findall(r"source address suspect", self.fleet.server.since(mark))),
                         1, "reported once")

        for r in records:
            source = r["source"].rsplit(":", 1)[0]
            self.assertEqual(r["target"], f"{MX_NAME}:{MX_PORT}")
            # b's EHLO was answered with STARTTLS; a never got that far
            self.assertEqual(smtp_fields(r), (PROVIDER, 554, None, False) if source == a
                             else (PROVIDER, 220, True, False), r)

        samples = self.scrape()
        self.assertEqual(value(samples, "mxegress_smtp_source_suspect", source=a,
                               provider=PROVIDER), 1)
        self.assertNotIn(("mxegress_smtp_source_suspect",
                          (("provider", PROVIDER), ("source", b))), samples,
                         "only addresses ever suspect have the gauge")
        for source, cls_counts in ((a, {"2xx": 0, "4xx": 0, "5xx": 4}),
                                   (b, {"2xx": 4, "4xx": 0, "5xx": 0})):
            self.assertEqual(self.smtp_value(samples, "mxegress_smtp_sessions_total", "rep",
                                             source), 4)
            for klass, n in cls_counts.items():
                self.assertEqual(self.smtp_value(samples, "mxegress_smtp_banners_total", "rep",
                                                 source, **{"class": klass}), n, (source, klass))

        cp = run_server("trail", self.fleet.trail_path, "--tenant", "rep",
                        "--count-by", "source,provider")
        self.assertEqual((cp.returncode, cp.stdout.splitlines()), (0, [
            "source provider sessions smtp banner_2xx banner_4xx banner_5xx "
            "starttls_offered starttls_used",
            f"{a} {PROVIDER} 4 4 0 0 4 0 0",
            f"{b} {PROVIDER} 4 4 4 0 0 4 0"]), cp.stderr)
        cp = run_server("trail", self.fleet.trail_path, "--tenant", "rep", "--banner", "5xx",
                        "--provider", PROVIDER)
        lines = cp.stdout.splitlines()
        self.assertEqual(len(lines), 4, cp.stdout + cp.stderr)
        self.assertTrue(all(f" from {a}:" in l and " banner=554" in l for l in lines), lines)

    def test_provider_of_an_address_comes_from_its_ptr_name(self):
        mark = self.fleet.server.mark()
        seen, records = self.sessions("ip", PTR_MX, 4)
        self.assertEqual(seen, [(BY_ADDRESS, 554)] * 4)
        self.fleet.server.wait_for(
            rf"warn +smtp: source address suspect source={re.escape(BY_ADDRESS)} "
            rf"provider={re.escape(PROVIDER)} tenant=ip ", 10, since=mark)
        # The lookup starts at the first dial; at the latest the second
        # session's end knows its answer.
        self.assertEqual([smtp_fields(r) for r in records[1:]],
                         [(PROVIDER, 554, None, False)] * 3, records)
        self.assertIn(smtp_fields(records[0])[0], (PROVIDER, "unknown"), records[0])
        samples = self.scrape()
        self.assertEqual(value(samples, "mxegress_smtp_source_suspect", source=BY_ADDRESS,
                               provider=PROVIDER), 1)

    def test_avoid_leaves_from_the_other_source_until_the_cooldown_ends(self):
        a, b = REFUSED["avd"], WELCOME["avd"]
        client = self.fleet.clients["avd"]
        mark = self.fleet.server.mark()
        since = self.fleet.trail_mark()
        seen = []
        while sum(1 for s, _ in seen if s == a) < 3 and len(seen) < 6:
            seen.append(smtp_session(client, MX_NAME))
        records = self.wait_records(since, len(seen))
        self.assertEqual([code for _, code in seen].count(554), 3, seen)
        self.warn_suspect("avd", mark)
        cooldown_end = ended_at(records[-1]) + datetime.timedelta(seconds=COOLDOWN)

        # During the cooldown: a real message, then two more sessions, all from b.
        since = self.fleet.trail_mark()
        self.deliver(client, self.mx, MX_NAME)
        seen = [smtp_session(client, MX_NAME) for _ in range(2)]
        during = self.wait_records(since, 3)
        for rec in during:
            self.assertLess(parse_time(rec["time"]), cooldown_end,
                            "the machine took longer than the cooldown for three sessions")
            self.assertTrue(rec["source"].startswith(b + ":"), rec)
            self.assertEqual(rec["smtp_banner"], 220, rec)

        # After it: exactly one session tests a (refused: another cooldown), the
        # sessions after it leave from b again.
        time.sleep(max(0.0, (cooldown_end - datetime.datetime.now(datetime.timezone.utc))
                       .total_seconds()) + 0.3)
        since = self.fleet.trail_mark()
        seen = [smtp_session(client, MX_NAME) for _ in range(4)]
        after = self.wait_records(since, 4)
        tests = [i for i, (s, _) in enumerate(seen) if s == a]
        self.assertEqual(len(tests), 1, f"one test session from {a}: {seen}")
        self.assertEqual(seen[tests[0]][1], 554, seen)
        second_end = ended_at(after[tests[0]]) + datetime.timedelta(seconds=COOLDOWN)
        for rec in after[tests[0] + 1:]:
            self.assertLess(parse_time(rec["time"]), second_end, "within the second cooldown")
            self.assertTrue(rec["source"].startswith(b + ":"), rec)
        samples = self.scrape()
        self.assertEqual(value(samples, "mxegress_smtp_source_suspect", source=a,
                               provider=PROVIDER), 1, "still suspect")


TLS_MX, PLAIN_MX, CHANGING_MX = "127.0.0.41", "127.0.0.42", "127.0.0.43"
# one tenant per case, each with its own source address, so each counter is exact
STARTTLS_TENANTS = {"plain": "127.0.0.31", "unused": "127.0.0.32", "used": "127.0.0.33",
                    "down": "127.0.0.34", "quiet": "127.0.0.35"}


@unittest.skipUnless(mxtest.isolated() and os.geteuid() == 0,
                     "needs root inside tests/run_isolated (Postfix)")
class StartTlsTest(SmtpHealthTest):
    @classmethod
    def setUpClass(cls):
        cls.make_tmp("mxtest-starttls-", "smtp-starttls")
        cls.tls_mx = PostfixMX(TLS_MX, MX_PORT, cls.tmp)
        cls.plain_mx = PostfixMX(PLAIN_MX, MX_PORT, cls.tmp, starttls=False)
        for mx in (cls.tls_mx, cls.plain_mx):
            cls.addClassCleanup(mx.stop)
            mx.start()
        cls.metrics = ("127.0.0.1", mxtest.free_port())
        cls.fleet = cls.start_harness(lambda: Fleet(
            {name: {"source": [ip]} for name, ip in STARTTLS_TENANTS.items() if name != "quiet"},
            ports=[MX_PORT], server_extra=smtp_config() + metrics_table(cls.metrics[1])))
        cls.failed = False

    def counters(self, tenant) -> dict:
        """{sessions, offered, used, unused, downgrades} of TENANT at PROVIDER."""
        samples = self.scrape()
        names = {"sessions": "sessions", "offered": "starttls_offered",
                 "used": "starttls_used", "unused": "starttls_unused",
                 "downgrades": "starttls_downgrades"}
        return {k: self.smtp_value(samples, f"mxegress_smtp_{n}_total", tenant,
                                   STARTTLS_TENANTS[tenant]) for k, n in names.items()}

    def test_mx_without_starttls(self):
        seen, records = self.sessions("plain", PLAIN_MX, 2)
        self.assertEqual(seen, [(STARTTLS_TENANTS["plain"], 220)] * 2)
        for r in records:
            self.assertEqual(smtp_fields(r), (PROVIDER, 220, False, False), r)
        self.assertEqual(self.counters("plain"), {"sessions": 2, "offered": 0, "used": 0,
                                                  "unused": 0, "downgrades": 0})

    def test_starttls_offered_but_not_used(self):
        mark = self.fleet.server.mark()
        seen, records = self.sessions("unused", TLS_MX, 1, mail_from="gw@example.net")
        self.assertEqual(seen, [(STARTTLS_TENANTS["unused"], 220)])
        self.assertEqual(smtp_fields(records[0]), (PROVIDER, 220, True, False), records[0])
        self.fleet.server.wait_for(
            rf"info +smtp: STARTTLS offered but not used tenant=unused mx={TLS_MX} "
            rf"provider={re.escape(PROVIDER)} source={STARTTLS_TENANTS['unused']}\n", 10,
            since=mark)
        self.assertEqual(self.counters("unused"), {"sessions": 1, "offered": 1, "used": 0,
                                                   "unused": 1, "downgrades": 0})

    def test_starttls_used(self):
        since = self.fleet.trail_mark()
        self.deliver(self.fleet.clients["used"], self.tls_mx, TLS_MX)
        rec = self.wait_records(since, 1)[0]
        self.assertEqual(smtp_fields(rec), (PROVIDER, 220, True, True), rec)
        self.assertEqual(self.counters("used"), {"sessions": 1, "offered": 1, "used": 1,
                                                 "unused": 0, "downgrades": 0})

    def test_mx_that_stops_offering_starttls_is_a_downgrade(self):
        mark = self.fleet.server.mark()
        with PostfixMX(CHANGING_MX, MX_PORT, os.path.join(self.tmp, "before")):
            _, before = self.sessions("down", CHANGING_MX, 1)
        with PostfixMX(CHANGING_MX, MX_PORT, os.path.join(self.tmp, "after"), starttls=False):
            _, after = self.sessions("down", CHANGING_MX, 1)
        self.assertEqual([smtp_fields(r) for r in before + after],
                         [(PROVIDER, 220, True, False), (PROVIDER, 220, False, False)])
        self.fleet.server.wait_for(
            rf"warn +smtp: MX no longer offers STARTTLS mx={CHANGING_MX} "
            rf"provider={re.escape(PROVIDER)} tenant=down source={STARTTLS_TENANTS['down']}\n",
            10, since=mark)
        self.assertEqual(self.counters("down"), {"sessions": 2, "offered": 1, "used": 0,
                                                 "unused": 0, "downgrades": 1})

    def test_observation_off(self):
        metrics = ("127.0.0.1", mxtest.free_port())
        fleet = Fleet({"quiet": {"source": [STARTTLS_TENANTS["quiet"]]}}, ports=[MX_PORT],
                      server_extra=smtp_config(observe=False) + metrics_table(metrics[1]))
        close_at_cleanup(self, fleet)
        smtp_session(fleet.clients["quiet"], TLS_MX, mail_from="gw@example.net")
        rec = fleet.wait_trail(0, 1)[0]
        self.assertEqual(rec["source"].rsplit(":", 1)[0], STARTTLS_TENANTS["quiet"], rec)
        self.assertEqual(smtp_fields(rec), (None,) * 4, rec)
        self.assertNotIn("smtp_banner=", fleet.server.text())
        self.assertNotIn(" smtp: ", fleet.server.text())
        status, _, body = get(metrics, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual([k for k in parse_metrics(body) if k[0].startswith("mxegress_smtp_")],
                         [], "no SMTP samples")


if __name__ == "__main__":
    unittest.main()
