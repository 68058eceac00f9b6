"""Authentication on both hops: the tunnel (server pin, client key) and SOCKS5 users."""

import re
import unittest

from mxtest import (EchoServer, METHOD_NO_AUTH, METHOD_NONE_ACCEPTABLE, METHOD_USERPASS,
                    Pair, REP_GENERAL, REP_OK, SharedHarnessTest, recv_exact, wait_closed)


class TunnelAuthTest(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer("127.0.0.1")
        self.addCleanup(self.echo.close)

    def test_wrong_pin_client_refuses_server(self):
        with Pair(ports=[self.echo.port], wrong_pin=True) as pair:
            with pair.connect("127.0.0.1", self.echo.port) as r:
                self.assertEqual(r.reply, REP_GENERAL, r.describe() + "\n" + pair.logs_tail())
            clog = pair.client.text()
            self.assertTrue(
                "server verification failed" in clog
                or re.search(r"(?i)(tls|certificate|handshake).*(pin|sha256/)|pin.*mismatch", clog),
                "client log must say the server's pin did not match\n" + pair.logs_tail())
            slog = pair.server.text()
            self.assertNotIn("auth ok", slog)
            self.assertEqual(pair.dial_lines(), [])
            self.assertEqual(self.echo.records, [])

    def test_unknown_client_key_nothing_dialed(self):
        with Pair(ports=[self.echo.port], unknown_key=True) as pair:
            with pair.connect("127.0.0.1", self.echo.port) as r:
                self.assertEqual(r.reply, REP_GENERAL, r.describe() + "\n" + pair.logs_tail())
            pair.server.wait_for("auth failed", timeout=5)
            slog = pair.server.text()
            self.assertNotIn("auth ok", slog)
            self.assertEqual(pair.dial_lines(), [], "nothing may be dialed for an unknown key")
            self.assertEqual(self.echo.records, [])

    def test_known_key_is_authenticated_as_its_tenant(self):
        with Pair(ports=[self.echo.port], tenant_name="acme") as pair:
            with pair.connect("127.0.0.1", self.echo.port) as r:
                self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + pair.logs_tail())
            self.assertIn("auth ok tenant=acme", pair.server.text())


class SocksUsersTest(SharedHarnessTest):
    USERS = {"gw": "correct horse battery staple", "other": "s3cret"}

    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer("127.0.0.1")
        cls.peers = [cls.echo]
        cls.pair = cls.start_harness(lambda: Pair(ports=[cls.echo.port], users=cls.USERS))

    def test_right_password_works(self):
        for name, password in self.USERS.items():
            with self.subTest(user=name):
                with self.pair.connect("127.0.0.1", self.echo.port,
                                       username=name, password=password) as r:
                    self.assertEqual(r.method, METHOD_USERPASS)
                    self.assertEqual(r.auth_status, 0)
                    self.assertEqual(r.reply, REP_OK, r.describe())
                    r.sock.sendall(b"hello")
                    self.assertEqual(recv_exact(r.sock, 5), b"hello")

    def _assert_auth_fails(self, username, password):
        mark = self.pair.server.mark()
        with self.pair.connect("127.0.0.1", self.echo.port,
                               username=username, password=password) as r:
            self.assertEqual(r.method, METHOD_USERPASS)
            self.assertEqual(r.auth_status, 0x01, r.describe())
            how, data, _ = wait_closed(r.sock, 5)
            self.assertIn(how, ("eof", "reset"), "client closes after a failed login")
            self.assertEqual(data, b"")
        self.assertEqual(self.pair.dial_lines(mark), [])

    def test_wrong_password_fails_and_closes(self):
        self._assert_auth_fails("gw", "wrong password")

    def test_other_users_password_fails(self):
        self._assert_auth_fails("gw", self.USERS["other"])

    def test_unknown_user_fails(self):
        self._assert_auth_fails("nobody", "correct horse battery staple")

    def test_no_auth_offered_when_users_exist_gets_0xff(self):
        with self.pair.connect("127.0.0.1", self.echo.port, methods=[METHOD_NO_AUTH]) as r:
            self.assertEqual(r.method, METHOD_NONE_ACCEPTABLE, r.describe())
            how, _, _ = wait_closed(r.sock, 5)
            self.assertIn(how, ("eof", "reset"))

    def test_both_methods_offered_userpass_chosen(self):
        with self.pair.connect("127.0.0.1", self.echo.port, username="gw",
                               password=self.USERS["gw"],
                               methods=[METHOD_NO_AUTH, METHOD_USERPASS]) as r:
            self.assertEqual(r.method, METHOD_USERPASS)
            self.assertEqual(r.reply, REP_OK, r.describe())


class NoUsersTest(unittest.TestCase):
    def test_no_users_means_no_auth(self):
        with EchoServer("127.0.0.1") as echo, Pair(ports=[echo.port]) as pair:
            with pair.connect("127.0.0.1", echo.port,
                              methods=[METHOD_USERPASS, METHOD_NO_AUTH]) as r:
                self.assertEqual(r.method, METHOD_NO_AUTH)
                self.assertEqual(r.reply, REP_OK, r.describe())
            with pair.connect("127.0.0.1", echo.port, methods=[METHOD_USERPASS]) as r:
                self.assertEqual(r.method, METHOD_NONE_ACCEPTABLE, r.describe())


if __name__ == "__main__":
    unittest.main()
