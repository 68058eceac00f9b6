"""The server's own SOCKS5 listener, driven by a real client: curl sends a message
over SMTP through it (`--socks5-hostname user:password@host:port` and
`-x socks5h://...`), and the test MX (SmtpServer) checks that it arrived from the
tenant's source address. Wrong passwords, unknown users and clients outside
`from` are refused; limits are shared with the tenant's tunnels; requests that
reach the server get a trail line either way.
"""

import subprocess
import time
import unittest

from mxtest import (Fleet, REP_NOT_ALLOWED, SharedHarnessTest, SmtpServer, add_local_address,
                    recv_exact)

MESSAGE = (b"From: a@example.org\r\nTo: b@example.net\r\nSubject: via mxegress\r\n\r\n"
           b"Hello through the server's SOCKS5 listener.\r\n.leading dot\r\n")

USERS = {
    "exim": {"password": "correct horse", "tenant": "acme", "from": ["127.0.0.1/32"]},
    "relay": {"password": "other secret", "tenant": "acme", "from": ["127.0.0.6/32"]},
    "small": {"password": "small secret", "tenant": "small", "from": ["127.0.0.1/32"]},
}


class ServerSocks5Test(SharedHarnessTest):
    @classmethod
    def setUpClass(cls):
        add_local_address("::2")
        cls.mx = SmtpServer("127.0.0.1")
        cls.mx6 = SmtpServer("::1")
        cls.peers = [cls.mx, cls.mx6]
        cls.fleet = cls.start_harness(
            lambda: Fleet({"acme": {"source": ["127.0.0.2", "::2"]},
                           "small": {"source": ["127.0.0.3"], "max_connections": 1}},
                          ports=[cls.mx.port, cls.mx6.port], socks5_users=USERS))
        cls.proxy = "%s:%d" % cls.fleet.server_socks_addr
        cls.msg_file = cls.fleet.path("message.eml")
        with open(cls.msg_file, "wb") as f:
            f.write(MESSAGE)

    def curl(self, url, *proxy_args, interface=None):
        argv = ["curl", "-sS", "--max-time", "20", "--connect-timeout", "10", *proxy_args,
                "--mail-from", "a@example.org", "--mail-rcpt", "b@example.net",
                "-T", self.msg_file]
        if interface:
            argv += ["--interface", interface]
        argv.append(url)
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def delivered(self, mx, accepted_before):
        """The SmtpServer record of the next delivery to MX (waits for its end)."""
        self.assertTrue(mx.accepted(accepted_before + 1), "the MX was reached")
        rec = mx.records[accepted_before]
        self.assertTrue(rec.done.wait(10))
        self.assertEqual(rec.error, "")
        self.assertEqual(rec.extra["data"], MESSAGE,
                         "the message arrived intact")
        self.assertEqual(rec.extra["mail_from"], "<a@example.org>")
        self.assertEqual(rec.extra["rcpt_to"], ["<b@example.net>"])
        self.assertTrue(rec.extra["quit"])
        return rec

    def assert_refused_curl(self, cp, accepted_before, mark):
        self.assertNotEqual(cp.returncode, 0, "curl must fail\n" + cp.stdout + cp.stderr)
        time.sleep(0.1)
        self.assertEqual(len(self.mx.records), accepted_before, "the MX saw nothing")
        self.assertEqual(self.fleet.dial_lines(mark), [], "nothing dialed")

    # ------------------------------------------------------------------
    def test_curl_socks5_hostname_delivers_from_the_tenant_source(self):
        n, trail0 = len(self.mx.records), self.fleet.trail_mark()
        cp = self.curl(f"smtp://127.0.0.1:{self.mx.port}",
                       "--socks5-hostname", f"exim:correct%20horse@{self.proxy}")
        self.assertEqual(cp.returncode, 0, cp.stderr + "\n" + self.fleet.logs_tail(20))
        rec = self.delivered(self.mx, n)
        self.assertEqual(rec.peer[0], "127.0.0.2", "the MX saw the tenant's source")
        t = self.fleet.wait_trail_match(trail0, source=f"127.0.0.2:{rec.peer[1]}")
        self.assertEqual((t["via"], t["user"], t["tenant"], t["reply"]),
                         ("socks5", "exim", "acme", 0), t)
        self.assertEqual(t["target"], f"127.0.0.1:{self.mx.port}")
        self.assertNotIn("key", t)

    def test_curl_proxy_url_socks5h_with_a_name_and_proxy_user(self):
        n, trail0 = len(self.mx.records), self.fleet.trail_mark()
        cp = self.curl(f"smtp://localhost:{self.mx.port}",
                       "-x", f"socks5h://{self.proxy}", "--proxy-user", "exim:correct horse")
        self.assertEqual(cp.returncode, 0, cp.stderr + "\n" + self.fleet.logs_tail(20))
        rec = self.delivered(self.mx, n)
        self.assertEqual(rec.peer[0], "127.0.0.2")
        t = self.fleet.wait_trail_match(trail0, source=f"127.0.0.2:{rec.peer[1]}")
        self.assertEqual(t["target"], f"localhost:{self.mx.port}", "the name as asked")
        self.assertEqual(t["connected"], f"127.0.0.1:{self.mx.port}")

    def test_curl_ipv6_destination_from_the_tenant_ipv6_source(self):
        n = len(self.mx6.records)
        cp = self.curl(f"smtp://[::1]:{self.mx6.port}",
                       "-x", f"socks5h://exim:correct%20horse@{self.proxy}")
        self.assertEqual(cp.returncode, 0, cp.stderr + "\n" + self.fleet.logs_tail(20))
        rec = self.delivered(self.mx6, n)
        self.assertEqual(rec.peer[0], "::2")

    def test_wrong_password_is_refused(self):
        n, mark = len(self.mx.records), self.fleet.server.mark()
        cp = self.curl(f"smtp://127.0.0.1:{self.mx.port}",
                       "--socks5-hostname", f"exim:wrong@{self.proxy}")
        self.assert_refused_curl(cp, n, mark)
        self.fleet.server.wait_for(r"login failed for user \"?exim", 5, since=mark)

    def test_unknown_user_is_refused(self):
        n, mark = len(self.mx.records), self.fleet.server.mark()
        cp = self.curl(f"smtp://127.0.0.1:{self.mx.port}",
                       "--socks5-hostname", f"nobody:correct%20horse@{self.proxy}")
        self.assert_refused_curl(cp, n, mark)
        self.fleet.server.wait_for(r"login failed for user \"?nobody", 5, since=mark)

    def test_client_outside_every_from_is_refused(self):
        n, mark = len(self.mx.records), self.fleet.server.mark()
        cp = self.curl(f"smtp://127.0.0.1:{self.mx.port}",
                       "--socks5-hostname", f"exim:correct%20horse@{self.proxy}",
                       interface="127.0.0.5")
        self.assert_refused_curl(cp, n, mark)
        # no user may come from 127.0.0.5: closed before a SOCKS5 byte is read
        self.fleet.server.wait_for(r"refused connection from 127\.0\.0\.5:\d+: not in any "
                                   r"user's `from`", 5, since=mark)
        self.assertNotRegex(self.fleet.server.since(mark), r"login")

    def test_client_in_another_users_from_is_refused_with_a_trail_line(self):
        n, mark, trail0 = len(self.mx.records), self.fleet.server.mark(), self.fleet.trail_mark()
        cp = self.curl(f"smtp://127.0.0.1:{self.mx.port}",
                       "--socks5-hostname", f"exim:correct%20horse@{self.proxy}",
                       interface="127.0.0.6")
        self.assert_refused_curl(cp, n, mark)
        t = self.fleet.wait_trail_match(trail0, reply=REP_NOT_ALLOWED, user="exim")
        self.assertEqual((t["via"], t["user"], t["tenant"], t["reply"], t["connected"],
                          t["source"]), ("socks5", "exim", "acme", REP_NOT_ALLOWED, None, None), t)
        self.assertTrue(t["peer"].startswith("127.0.0.6:"), t)
        self.assertEqual(t["target"], f"127.0.0.1:{self.mx.port}")
        self.assertIn("may not connect from 127.0.0.6", t["end"])
        # the user of that address gets through from it
        cp = self.curl(f"smtp://127.0.0.1:{self.mx.port}",
                       "--socks5-hostname", f"relay:other%20secret@{self.proxy}",
                       interface="127.0.0.6")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(self.delivered(self.mx, n).peer[0], "127.0.0.2")

    def test_limits_are_shared_with_the_tenants_tunnels(self):
        """max_connections = 1 for "small": one tunnel session blocks its SOCKS5 user."""
        held = self.fleet.clients["small"].open("127.0.0.1", self.mx.port)
        self.addCleanup(held.close)
        self.assertTrue(recv_exact(held, 4).startswith(b"220 "))
        n, mark, trail0 = len(self.mx.records), self.fleet.server.mark(), self.fleet.trail_mark()
        r = self.fleet.server_socks("127.0.0.1", self.mx.port, "small", "small secret")
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        self.fleet.server.wait_for(
            r'refused tenant=small via=socks5 .*reason="max_connections 1 reached"', 5, since=mark)
        self.assertEqual(self.fleet.dial_lines(mark), [])
        self.assertEqual(len(self.mx.records), n, "the MX saw nothing")
        t = self.fleet.wait_trail_match(trail0, user="small", reply=REP_NOT_ALLOWED)
        self.assertEqual((t["via"], t["user"], t["reply"], t["end"]),
                         ("socks5", "small", 2, "max_connections 1 reached"), t)
        mark = self.fleet.server.mark()
        held.sendall(b"QUIT\r\n")
        held.close()
        self.fleet.server.wait_for(r"session: tenant=small via=tunnel .*end=", 10, since=mark)
        deadline = time.monotonic() + 5
        while True:
            cp = self.curl(f"smtp://127.0.0.1:{self.mx.port}",
                           "--socks5-hostname", f"small:small%20secret@{self.proxy}")
            if cp.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(self.mx.records[-1].peer[0], "127.0.0.3")


if __name__ == "__main__":
    unittest.main()
