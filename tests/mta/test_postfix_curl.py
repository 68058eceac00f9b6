"""Real MTA tier: a real Postfix MX behind the real pair, real SMTP clients in front.

Path of every message: SMTP client -> SOCKS5 (mxegress-client) -> TLS 1.3 tunnel
-> mxegress-server -> TCP -> Postfix on 127.0.0.1:25. STARTTLS and the client
certificate are end to end, so the test checks, for each client:
  - the message arrived in Postfix's Maildir (unique token in the Subject),
  - the certificate the client saw is the MX's own (SHA-256 of the DER),
  - the MX logged the client's certificate, and it is the client's own,
  - the server dialled 127.0.0.1:25 for it.

Run inside tests/run_isolated (a private network namespace with only lo), as
root: Postfix's master starts as root, and port 25 is free there. Outside a
namespace the MX takes a free high port instead.

    MX_CLIENT_BIN=... MX_SERVER_BIN=... PYTHONPATH=tests/lib \
      tests/run_isolated /usr/bin/python3 -m unittest -v tests/mta/test_postfix_curl.py
"""

import os
import re
import ssl
import time
import unittest
import uuid
from email.message import EmailMessage

import mxtest
from mta import (PostfixMX, SocksSMTP, cert_sha256_from_pem, curl_smtp, make_client_cert,
                 openssl_sha256, pem_from_curl_certs)
from mxtest import REP_OK, Pair

MX_IP = "127.0.0.1"


class PostfixThroughPairTest(mxtest.ScratchDirTest):
    @classmethod
    def setUpClass(cls):
        cls.make_tmp("mxmta-", "mta")
        cls.mx_port = 25 if mxtest.isolated() else mxtest.free_port(MX_IP)
        cls.mx = PostfixMX(MX_IP, cls.mx_port, os.path.join(cls.tmp, "mx"))
        cls.mx.start()
        cls.addClassCleanup(cls.mx.stop)
        cls.pair = Pair(ports=[cls.mx_port], connect_timeout="10s")
        cls.addClassCleanup(cls.pair.close)
        cls.failed = False

    def setUp(self):
        self.pair.check()

    # ---- helpers -------------------------------------------------------

    def context(self):
        """Logs of all three programs, for failure messages."""
        lines = [l for l in self.mx.log().splitlines() if "SSL_accept:" not in l]
        return "\n--- Postfix maillog (tail, SSL_accept lines left out) ---\n%s\n%s" % (
            "\n".join(lines[-40:]), self.pair.logs_tail(40))

    def fresh_message(self, sender, rcpt, client):
        token = "%s-%s" % (client, uuid.uuid4().hex)
        subject = "mxegress real-MTA test %s" % token
        return token, subject, (
            "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@%s.example.test>\r\n"
            "\r\nsent by %s through mxegress, token %s\r\n"
            % (sender, rcpt, subject, token, client, client, token))

    def wait_logged_fingerprint(self, fpr, timeout=10.0):
        """Postfix logs through postlogd, asynchronously: poll the maillog."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logged = self.mx.logged_client_cert_sha256s()
            if fpr in logged:
                return logged
            time.sleep(0.1)
        return self.mx.logged_client_cert_sha256s()

    def assert_dialled(self, mark):
        target = "%s:%d" % (MX_IP, self.mx_port)
        deadline = time.monotonic() + 5
        while True:
            lines = self.pair.dial_lines(mark)
            if any(re.search(r"dial target=%s(\D|$)" % re.escape(target), l) for l in lines):
                return
            if time.monotonic() > deadline:
                self.fail("server log has no 'dial target=%s' line after the send; dial "
                          "lines: %r%s" % (target, lines, self.context()))
            time.sleep(0.05)

    def assert_delivered(self, token, subject, client_cn):
        try:
            text = self.mx.wait_for_message(20, contains=token)
        except TimeoutError as e:
            self.fail("%s%s" % (e, self.context()))
        self.assertIn("Subject: %s" % subject, text)
        # Postfix's own Received header: TLS negotiated with the client itself
        self.assertRegex(text, r"\(using TLSv1\.3 with cipher ")
        self.assertIn('Client CN "%s"' % client_cn, text)
        return text

    # ---- tests ---------------------------------------------------------

    def test_curl_starttls_client_cert_through_socks5(self):
        """curl smtp:// --socks5-hostname --ssl-reqd --cert: delivered, certs end to end."""
        d = os.path.join(self.tmp, "curl")
        cc = make_client_cert(d, cn="curl.example.test", name="curl")
        self.assertEqual(cc.sha256, openssl_sha256(cc.cert_path))
        sender, rcpt = "sender@curl.example.test", self.mx.address("curl")
        token, subject, body = self.fresh_message(sender, rcpt, "curl")
        msg = os.path.join(d, "msg.eml")
        with open(msg, "w") as f:
            f.write(body)
        server_mark = self.pair.server.mark()
        r = curl_smtp("smtp://%s:%d/curl.example.test" % (MX_IP, self.mx_port),
                      cacert=self.mx.cert_pem_path, cert=cc, sender=sender, rcpt=rcpt,
                      upload=msg, max_time=60, timeout=90,
                      proxy_args=("--socks5-hostname", "%s:%d" % self.pair.socks_addr),
                      extra=("-w", "%{certs}"))
        self.assertEqual(r.returncode, 0, "curl failed:\n%s%s" % (r.stderr, self.context()))
        self.assertIn("SOCKS5 request granted", r.stderr)
        self.assertRegex(r.stderr, r"> STARTTLS")
        self.assertRegex(r.stderr, r"SSL connection using TLSv1\.3")

        self.assert_delivered(token, subject, "curl.example.test")

        # the certificate curl saw is the MX's own
        pem = pem_from_curl_certs(r.stdout)
        self.assertIsNotNone(pem, "no certificate in curl -w '%%{certs}': %r" % r.stdout)
        seen = cert_sha256_from_pem(pem)
        self.assertEqual(seen, self.mx.cert_sha256())
        self.assertEqual(seen, openssl_sha256(self.mx.cert_pem_path))

        # the MX logged curl's client certificate, and it is curl's own
        logged = self.wait_logged_fingerprint(cc.sha256)
        self.assertIn(cc.sha256, logged,
                      "MX did not log curl's client certificate %s; logged %r%s"
                      % (cc.sha256, logged, self.context()))

        self.assert_dialled(server_mark)

    def test_smtplib_starttls_client_cert_through_socks5(self):
        """Python smtplib over mxtest's SOCKS5 CONNECT, starttls() with a client cert."""
        d = os.path.join(self.tmp, "smtplib")
        cc = make_client_cert(d, cn="smtplib.example.test", name="smtplib")
        sender, rcpt = "sender@smtplib.example.test", self.mx.address("smtplib")
        token, subject, _ = self.fresh_message(sender, rcpt, "smtplib")
        em = EmailMessage()
        em["From"], em["To"], em["Subject"] = sender, rcpt, subject
        em.set_content("sent by smtplib through mxegress, token %s\n" % token)

        ctx = ssl.create_default_context(cafile=self.mx.cert_pem_path)
        ctx.load_cert_chain(cc.cert_path, cc.key_path)
        server_mark = self.pair.server.mark()
        # local_hostname given: smtplib would otherwise call getfqdn() (DNS)
        with SocksSMTP(self.pair.socks_addr, MX_IP, self.mx_port, timeout=30,
                       local_hostname="smtplib.example.test") as s:
            self.assertEqual(s.socks_result.reply, REP_OK)
            code, _ = s.ehlo()
            self.assertEqual(code, 250)
            self.assertTrue(s.has_extn("starttls"), "MX offers no STARTTLS")
            code, _ = s.starttls(context=ctx)
            self.assertEqual(code, 220)
            self.assertEqual(s.sock.version(), "TLSv1.3")
            seen = cert_sha256_from_pem(ssl.DER_cert_to_PEM_cert(
                s.sock.getpeercert(binary_form=True)))
            s.ehlo()
            refused = s.send_message(em)
            self.assertEqual(refused, {})
        self.assertEqual(seen, self.mx.cert_sha256())

        self.assert_delivered(token, subject, "smtplib.example.test")
        logged = self.wait_logged_fingerprint(cc.sha256)
        self.assertIn(cc.sha256, logged,
                      "MX did not log smtplib's client certificate %s; logged %r%s"
                      % (cc.sha256, logged, self.context()))
        self.assert_dialled(server_mark)


if __name__ == "__main__":
    unittest.main()
