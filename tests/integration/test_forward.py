"""``[[forward]]``: a fixed smarthost for SMTP clients that cannot be told anything
else, with a real SMTP client (curl) and a real MX (Postfix on 127.0.0.1:25).

Path: curl smtp://127.0.0.1:2525 -> mxegress-client [[forward]] -> TLS tunnel ->
mxegress-server -> Postfix on 127.0.0.1:25. STARTTLS and curl's client certificate
are end to end (the MX logs curl's certificate).

Three forwards on one client:
  127.0.0.1:2525 -> 127.0.0.1:25          (the MX)
  127.0.0.1:2526 -> 127.0.0.1:<refused>   on_failure = "reset"
  127.0.0.1:2527 -> 127.0.0.1:<refused>   on_failure = "421"
"""

import os
import re
import socket
import time
import unittest
import uuid

import mxtest
from mta import PostfixMX, curl_smtp, make_client_cert
from netns import Deployment

MX_IP = "127.0.0.1"
FWD_OK, FWD_RESET, FWD_421 = 2525, 2526, 2527


@unittest.skipUnless(mxtest.isolated() and os.geteuid() == 0,
                     "needs root inside tests/run_isolated (Postfix on port 25)")
class ForwardTest(mxtest.ScratchDirTest):
    @classmethod
    def setUpClass(cls):
        cls.make_tmp("mxforward-", "forward")
        cls.mx = PostfixMX(MX_IP, 25, os.path.join(cls.tmp, "mx"))
        cls.mx.start()
        cls.addClassCleanup(cls.mx.stop)
        cls.refused = mxtest.RefusedPort(MX_IP)
        cls.addClassCleanup(cls.refused.close)
        cls.dep = Deployment(prefix="mxforward-dep-")
        cls.addClassCleanup(lambda: cls.dep.close(in_error=cls.failed))
        cls.server = cls.dep.server("server", listen=("127.0.0.1", mxtest.free_port()),
                                    tenants=[{"name": "acme", "keys": []}],
                                    ports=[25, cls.refused.port],
                                    settings={"connect_timeout": "5s"})
        refused = "%s:%d" % (MX_IP, cls.refused.port)
        cls.client = cls.dep.client(
            "client", servers=[(cls.server, {})], socks5=False,
            forwards=[{"listen": f"127.0.0.1:{FWD_OK}", "target": f"{MX_IP}:25"},
                      {"listen": f"127.0.0.1:{FWD_RESET}", "target": refused,
                       "on_failure": "reset"},
                      {"listen": f"127.0.0.1:{FWD_421}", "target": refused,
                       "on_failure": "421"}])
        cls.server.tenants[0]["keys"] = [cls.client]
        cls.server.start()
        cls.client.start()
        cls.cert = make_client_cert(os.path.join(cls.tmp, "curl"), cn="curl.example.test",
                                    name="curl")
        cls.failed = False

    def setUp(self):
        self.dep.check()

    def context(self):
        lines = [l for l in self.mx.log().splitlines() if "SSL_accept:" not in l]
        return ("\n--- Postfix maillog (tail) ---\n" + "\n".join(lines[-30:]) + "\n"
                + self.dep.logs_tail(40))

    def curl(self, port, token, extra=()):
        sender, rcpt = "sender@curl.example.test", self.mx.address("fwd")
        msg = os.path.join(self.tmp, f"{token}.eml")
        with open(msg, "w") as f:
            f.write(f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: forward {token}\r\n\r\n"
                    f"through a [[forward]], token {token}\r\n")
        start = time.monotonic()
        r = curl_smtp(f"smtp://127.0.0.1:{port}/curl.example.test",
                      cacert=self.mx.cert_pem_path, cert=self.cert, sender=sender, rcpt=rcpt,
                      upload=msg, max_time=30, timeout=60, extra=extra)
        return r, time.monotonic() - start

    # ---------------------------------------------------------------------

    def test_curl_delivers_through_forward(self):
        """curl to 127.0.0.1:2525 with STARTTLS and a client certificate: the message
        is in the MX's Maildir, the MX logged curl's certificate, the server dialled
        127.0.0.1:25 and the client logged the forward session."""
        token = uuid.uuid4().hex
        smark, cmark = self.server.mark(), self.client.mark()
        r, _ = self.curl(FWD_OK, token)
        self.assertEqual(r.returncode, 0, "curl failed:\n" + r.stderr + self.context())
        self.assertRegex(r.stderr, r"> STARTTLS")
        self.assertRegex(r.stderr, r"< 220 mx\.example\.test ESMTP")
        try:
            text = self.mx.wait_for_message(20, contains=token)
        except TimeoutError as e:
            self.fail(f"{e}{self.context()}")
        self.assertIn(f"Subject: forward {token}", text)
        self.assertIn('Client CN "curl.example.test"', text)
        deadline = time.monotonic() + 10
        while self.cert.sha256 not in self.mx.logged_client_cert_sha256s():
            if time.monotonic() > deadline:
                self.fail("the MX did not log curl's client certificate" + self.context())
            time.sleep(0.1)
        dials = self.server.dial_lines(smark)
        self.assertTrue(any(re.search(r"dial target=127\.0\.0\.1:25(\s|$)", l) for l in dials),
                        f"no dial target=127.0.0.1:25 in {dials}" + self.context())
        self.client.wait_for(r"session: peer=127\.0\.0\.1:\d+ target=127\.0\.0\.1:25 "
                             r"via=%s tunnel=(pooled|fresh) bytes_up=\d+ [^\n]*end="
                             % re.escape(self.server.address), 10, cmark)

    def test_refused_target_resets(self):
        """on_failure = "reset": the target refuses, so the SMTP client's connection is
        reset before any greeting; curl fails on it at once (not after a timeout)."""
        smark, cmark = self.server.mark(), self.client.mark()
        r, elapsed = self.curl(FWD_RESET, uuid.uuid4().hex)
        self.assertNotEqual(r.returncode, 0, "curl succeeded through a refused target")
        self.assertRegex(r.stderr, r"(?i)reset by peer|Recv failure|Connection reset",
                         "curl did not see a reset:\n" + r.stderr + self.context())
        self.assertNotRegex(r.stderr, r"< \d{3}", "curl got an SMTP line:\n" + r.stderr)
        self.assertLess(elapsed, 5.0)
        # the raw view: RST, no bytes
        with socket.create_connection(("127.0.0.1", FWD_RESET), timeout=10) as s:
            how, data, took = mxtest.wait_closed(s, 10)
        self.assertEqual((how, data), ("reset", b""), f"after {took:.2f}s" + self.context())
        self.assertTrue(any(f"dial target=127.0.0.1:{self.refused.port}" in l
                            for l in self.server.dial_lines(smark)), self.context())
        self.assertRegex(self.client.since(cmark),
                         r"forward: peer=\S+ target=127\.0\.0\.1:%d failed \(.*\): reset"
                         % self.refused.port)

    def test_refused_target_answers_421(self):
        """on_failure = "421": the SMTP client reads "421 4.4.1 mxegress: connection to
        HOST:PORT refused" as the greeting, then the connection closes."""
        cmark = self.client.mark()
        want = f"421 4.4.1 mxegress: connection to 127.0.0.1:{self.refused.port} refused"
        r, elapsed = self.curl(FWD_421, uuid.uuid4().hex)
        self.assertNotEqual(r.returncode, 0, "curl succeeded through a refused target")
        self.assertIn("< " + want, r.stderr, "curl did not see the 421 greeting:\n" + r.stderr
                      + self.context())
        self.assertLess(elapsed, 5.0)
        with socket.create_connection(("127.0.0.1", FWD_421), timeout=10) as s:
            how, data, took = mxtest.wait_closed(s, 10)
        self.assertEqual(data, (want + "\r\n").encode(), self.context())
        self.assertEqual(how, "eof", f"after {took:.2f}s" + self.context())
        self.assertRegex(self.client.since(cmark),
                         r"forward: peer=\S+ target=127\.0\.0\.1:%d failed \(.*\): 421"
                         % self.refused.port)


if __name__ == "__main__":
    unittest.main()
