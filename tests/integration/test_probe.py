"""`mxegress-client probe HOST[:PORT]` against real MXes through the real pair.

A private Postfix MX (PostfixMX: STARTTLS with its own self-signed
certificate, client certificates asked for) on 127.0.0.1:25, a minimal SMTP
server without STARTTLS (SmtpServer), and dnsmasq (Dnsmasq) serving the MX
records the probe looks up on the client side, and the A records the
server looks up for the MX host names the probe sends as domains:

    mail.test   MX 10 mx.example.test                         (Postfix)
    two.test    MX 10 mx.dead.test, MX 20 mx.example.test     (the first refuses)
    *.example.test  A 127.0.0.1        *.dead.test  A 127.0.0.9 (nothing listens)

The tenant dials from 127.0.0.2, so the source address the probe reports
(the CONNECT reply's BND.ADDR) can be told from the kernel's default.
Run in tests/run_isolated (own network namespace, root: Postfix, port 25, port 53).
"""

import json
import os
import re
import time
import unittest

import mxtest
from dnslab import Dnsmasq
from mta import PostfixMX, make_client_cert, normalize_fingerprint
from mxtest import LoopbackServer, Pair, SmtpServer

DNS = "127.0.0.53"
SOURCE = "127.0.0.2"
RESOLVER = '[resolver]\nservers = ["%s"]\ntries = 2\ntimeout = "3s"\n' % DNS


class RefusingMx(LoopbackServer):
    """Greets with 554 (multi-line), answers QUIT with 221."""

    def handle(self, conn, rec):
        self._send(conn, rec, b"554-mx.refusing.test no service here\r\n554 5.7.1 go away\r\n")
        f = conn.makefile("rb")
        if f.readline(4096).upper().startswith(b"QUIT"):
            self._send(conn, rec, b"221 bye\r\n")
            rec.extra["quit"] = True


class SilentMx(LoopbackServer):
    """Accepts and says nothing until the client leaves."""

    def handle(self, conn, rec):
        self._read_to_eof(conn, rec)


@unittest.skipUnless(mxtest.isolated(), "needs tests/run_isolated (port 25 and 53, root)")
class ProbeTest(mxtest.ScratchDirTest):
    @classmethod
    def setUpClass(cls):
        cls.make_tmp("mxprobe-", "probe")
        cls.dns = Dnsmasq(cls.tmp, listen=DNS,
                          answers={"example.test": "127.0.0.1", "dead.test": "127.0.0.9"},
                          mx={"mail.test": [(10, "mx.example.test")],
                              "two.test": [(20, "mx.example.test"), (10, "mx.dead.test")]})
        cls.addClassCleanup(cls.dns.close)
        cls.mx = PostfixMX("127.0.0.1", 25, os.path.join(cls.tmp, "mx"))
        cls.mx.start()
        cls.addClassCleanup(cls.mx.stop)
        cls.plain = SmtpServer("127.0.0.1")
        cls.addClassCleanup(cls.plain.close)
        cls.refusing = RefusingMx("127.0.0.1")
        cls.addClassCleanup(cls.refusing.close)
        cls.silent = SilentMx("127.0.0.1")
        cls.addClassCleanup(cls.silent.close)
        cls.pair = Pair(ports=[25, cls.plain.port, cls.refusing.port, cls.silent.port],
                        connect_timeout="5s",
                        tenant_settings={"source": [SOURCE]},
                        server_extra=RESOLVER, client_extra=RESOLVER)
        cls.addClassCleanup(cls.pair.close)
        cls.failed = False

    def probe(self, *args):
        return mxtest.run_client("-c", self.pair.client_config, "probe", *args,
                                 "--helo", "gw.example.net", "--timeout", "20", timeout=120)

    def explain(self, cp):
        return "exit %d\nstdout:\n%s\nstderr:\n%s\n%s" % (
            cp.returncode, cp.stdout, cp.stderr, self.pair.logs_tail(30))

    def probe_json(self, *args):
        cp = self.probe(*args, "--json")
        try:
            return cp, json.loads(cp.stdout)
        except ValueError:
            self.fail("not JSON: " + self.explain(cp))

    def fingerprint(self, text):
        return normalize_fingerprint(text)

    # ------------------------------------------------------------------
    def test_domain_through_postfix_with_starttls(self):
        cp = self.probe("mail.test")
        self.assertEqual(cp.returncode, 0, self.explain(cp))
        out = cp.stdout
        self.assertRegex(out, r"mx-lookup +ok +mail\.test MX mx\.example\.test \(10\)")
        self.assertRegex(out, r"tunnel +ok +via 127\.0\.0\.1:%d" % self.pair.tunnel_port)
        self.assertRegex(out, r"connect +ok +mx\.example\.test:25 from 127\.0\.0\.2:\d+")
        self.assertRegex(out, r"banner +ok +220 ")
        self.assertRegex(out, r"starttls +ok +220 ")
        self.assertRegex(out, r"tls +ok +TLSv1\.[23] ")
        self.assertRegex(out, r"ehlo-tls +ok +250 ")
        self.assertRegex(out, r"quit +ok +221 ")
        m = re.search(r"SHA-256 fingerprint: ([0-9A-F:]+)", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(len(m.group(1)), 95, "32 bytes as AB:CD:...")
        self.assertEqual(self.fingerprint(m.group(1)), self.mx.cert_sha256(),
                         "the MX's own certificate")
        self.assertIn("verified (system CA store, host name): no: ", out,
                      "the MX's self-signed certificate is reported, not refused")
        self.assertIn("probe OK: mx.example.test via", out)
        # The source printed is the one the MX saw.
        self.assertTrue(self.wait_maillog(r"connect from \S+\[127\.0\.0\.2\]"),
                        self.mx.log()[-2000:])

    def wait_maillog(self, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.mx.log()):
                return True
            time.sleep(0.1)
        return False

    def test_json_of_an_implicit_mx(self):
        cp, j = self.probe_json("mx.example.test")
        self.assertEqual(cp.returncode, 0, self.explain(cp))
        self.assertTrue(j["ok"])
        self.assertEqual(j["exit_code"], 0)
        self.assertIsNone(j["failure"])
        self.assertEqual(j["mx_host"], "mx.example.test", "no MX records: the host itself")
        self.assertTrue(j["source"].startswith(SOURCE + ":"), j["source"])
        self.assertEqual(j["banner_code"], 220)
        self.assertTrue(j["starttls_offered"])
        names = [s["step"] for s in j["steps"]]
        self.assertEqual(names, ["mx-lookup", "tunnel", "connect", "banner", "ehlo", "starttls",
                                 "tls", "ehlo-tls", "quit"])
        self.assertTrue(all(s["ok"] for s in j["steps"]), j["steps"])
        times = [s["ms"] for s in j["steps"]]
        self.assertEqual(times, sorted(times), "times since the start, in order")
        cert = j["tls"]["certificate"]
        self.assertEqual(self.fingerprint(cert["sha256"]), self.mx.cert_sha256())
        self.assertIn("mx.example.test", cert["dns_names"])
        self.assertIn("mx.example.test", cert["subject"])
        self.assertFalse(cert["verified"])
        self.assertTrue(cert["verify_error"])
        self.assertRegex(j["tls"]["version"], r"^TLSv1\.[23]$")

    def test_preferred_mx_refuses_the_next_one_succeeds(self):
        cp, j = self.probe_json("two.test")
        self.assertEqual(cp.returncode, 0, self.explain(cp))
        connects = [s for s in j["steps"] if s["step"] == "connect"]
        self.assertEqual(len(connects), 2, j["steps"])
        self.assertFalse(connects[0]["ok"])
        self.assertIn("mx.dead.test:25", connects[0]["detail"])
        self.assertIn("connection refused", connects[0]["detail"])
        self.assertTrue(connects[1]["ok"])
        self.assertEqual(j["mx_host"], "mx.example.test")
        self.assertIn("mx.dead.test (10), mx.example.test (20)", j["steps"][0]["detail"],
                      "in order of preference")

    def test_mx_without_starttls_fails_at_that_step(self):
        cp = self.probe("127.0.0.1:%d" % self.plain.port)
        self.assertEqual(cp.returncode, 7, self.explain(cp))
        self.assertRegex(cp.stderr, r"probe FAILED at starttls: STARTTLS not offered \(exit 7\)")
        self.assertRegex(cp.stdout, r"banner +ok +220 mx\.test")
        # BND.ADDR is the server's side of the connection: the address and port
        # the MX saw (SmtpServer's banner names its peer).
        source = re.search(r"connect +ok +\S+ from (127\.0\.0\.2:\d+)", cp.stdout).group(1)
        self.assertIn("220 mx.test ESMTP peer=%s" % source, cp.stdout)
        # --no-tls is content with the banner and EHLO.
        cp = self.probe("127.0.0.1:%d" % self.plain.port, "--no-tls")
        self.assertEqual(cp.returncode, 0, self.explain(cp))
        self.assertIn("no TLS", cp.stdout)
        self.assertEqual(self.plain.records[-1].extra["helo"], "gw.example.net")
        self.assertTrue(self.plain.records[-1].extra["quit"])

    def test_refused_connect_names_the_step_and_the_reply(self):
        cp = self.probe("127.0.0.9:25")
        self.assertEqual(cp.returncode, 5, self.explain(cp))
        self.assertRegex(cp.stdout, r"connect +FAIL +127\.0\.0\.9:25: connection refused")
        self.assertIn("probe FAILED at connect: CONNECT 127.0.0.9:25 refused: connection refused",
                      cp.stderr)
        _, j = self.probe_json("127.0.0.1:26")
        self.assertEqual((j["exit_code"], j["failure"], j["failed_step"]),
                         (5, "connect refused", "connect"))
        self.assertIn("not allowed", j["reason"], "port 26 is not in the policy")
        # An IPv6 literal, and the tenant has an IPv4 source only.
        _, j = self.probe_json("[::1]:25")
        self.assertEqual(j["exit_code"], 5, j)
        self.assertIn("CONNECT [::1]:25 refused: address type not supported", j["reason"])

    def test_client_certificate_is_presented(self):
        cc = make_client_cert(os.path.join(self.tmp, "cc"), cn="probe.example.test", name="probe")
        cp = self.probe("mail.test", "--cert", cc.cert_path, "--key", cc.key_path)
        self.assertEqual(cp.returncode, 0, self.explain(cp))
        deadline = time.monotonic() + 10
        while cc.sha256 not in self.mx.logged_client_cert_sha256s() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIn(cc.sha256, self.mx.logged_client_cert_sha256s(), self.mx.log()[-2000:])

    def test_verify_fails_on_the_self_signed_certificate(self):
        cp, j = self.probe_json("mx.example.test", "--verify")
        self.assertEqual(cp.returncode, 9, self.explain(cp))
        self.assertEqual((j["failure"], j["failed_step"]), ("certificate not verified", "tls"))
        self.assertIn("self-signed", j["reason"])
        self.assertEqual(j["steps"][-1]["step"], "quit", "QUIT inside TLS all the same")

    def test_banner_554_is_named_with_its_text(self):
        cp = self.probe("127.0.0.1:%d" % self.refusing.port)
        self.assertEqual(cp.returncode, 6, self.explain(cp))
        self.assertIn("probe FAILED at banner: banner 554 mx.refusing.test no service here / "
                      "5.7.1 go away (exit 6)", cp.stderr)
        rec = self.refusing.wait_finished(10)
        self.assertTrue(rec.extra.get("quit"), "QUIT after the 554, as RFC 5321 asks")

    def test_silent_mx_times_out_at_the_banner(self):
        cp = mxtest.run_client("-c", self.pair.client_config, "probe",
                               "127.0.0.1:%d" % self.silent.port, "--helo", "gw.example.net",
                               "--timeout", "1", "--json", timeout=60)
        j = json.loads(cp.stdout)
        self.assertEqual(cp.returncode, 10, self.explain(cp))
        self.assertEqual((j["failure"], j["failed_step"], j["reason"]),
                         ("timeout", "banner", "timeout at banner"))
        connect_ms = [s["ms"] for s in j["steps"] if s["step"] == "connect"][0]
        self.assertGreaterEqual(j["steps"][-1]["ms"] - connect_ms, 900)

    def test_usage_errors(self):
        cp = mxtest.run_client("-c", self.pair.client_config, "probe")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("probe needs HOST[:PORT]", cp.stderr)


if __name__ == "__main__":
    unittest.main()
