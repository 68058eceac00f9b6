"""SIGHUP reloads the client (issue 20): a valid file is applied without a restart,
live sessions go on where they are, and an invalid file changes nothing.

Two mxegress-server processes A and B (own identities, both list the client's
key) and one client. Each test rewrites the client's specs (its servers, its
listeners) and calls ``ClientNode.reload()``, which writes client.toml, sends
SIGHUP and waits for ``client: reloaded`` (or ``client: reload refused``). Which
server carried a session is in the client's ``session: ... via=HOST:PORT`` line
and in that server's ``dial target=`` lines.
"""

import re
import socket
import threading
import time
import unittest

import mxtest
from mxtest import REP_OK, EchoServer, echo_session
from netns import two_servers_one_client



class ClientReloadTest(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)
        self.dep, self.a, self.b, self.client = two_servers_one_client(
            self, "mxcreload-", self.echo.port, lambda a, b: [(a, {"pool": 1})],
            {"retry_interval": "1s"}, warm=1)

    def context(self):
        return "\n" + self.dep.logs_tail(80)

    def via(self, port, since=0):
        return self.client.session_via(port, since)

    def assert_session_via(self, server, tag, addr=None):
        mark = self.client.mark()
        r, port = echo_session(self.client, self.echo, tag.encode() + b"\n", addr)
        self.assertEqual(r.reply, REP_OK, f"{tag}: {r.describe()}" + self.context())
        self.assertEqual(self.via(port, mark), server.address, tag + self.context())

    # ------------------------------------------------------------------
    def test_servers_swapped_while_a_session_runs(self):
        """B added and A removed by a reload: the session open on A's tunnel keeps
        relaying afterwards; new sessions go to B; A's tunnel closes once its last
        session ends; A gets no new session."""
        self.assert_session_via(self.a, "before")
        live = self.client.connect("127.0.0.1", self.echo.port, timeout=10)
        self.addCleanup(live.close)
        self.assertEqual(live.reply, REP_OK, live.describe() + self.context())
        live_port = live.sock.getsockname()[1]
        live.sock.sendall(b"one\n")
        self.assertEqual(mxtest.recv_exact(live.sock, 4), b"one\n")

        self.client.servers = [(self.b, {"pool": 1})]
        log = self.client.reload()
        self.assertRegex(log, r"server %s added by the reload" % re.escape(self.b.address))
        self.assertRegex(log, r"server %s removed or changed by a reload: its [12] tunnels take "
                         r"no new session \(1 sessions go on\)" % re.escape(self.a.address),
                         self.context())
        self.assertRegex(log, r"client: reloaded: 1 servers")
        amark = self.a.mark()
        for i in range(3):
            self.assert_session_via(self.b, f"after {i}")
        self.assertEqual(self.a.dial_lines(amark), [], "a removed server got sessions"
                         + self.context())

        # The session that ran across the reload still relays, both ways.
        payload = mxtest.pattern_bytes(256 * 1024)
        live.sock.sendall(payload)
        self.assertEqual(mxtest.recv_exact(live.sock, len(payload)), payload)
        self.assertTrue(self.client.alive())
        live.sock.shutdown(socket.SHUT_WR)
        mxtest.recv_until_eof(live.sock)
        live.close()
        self.assertEqual(self.via(live_port), self.a.address, self.context())
        self.client.wait_for(r"tunnel to %s closed: retired" % re.escape(self.a.address), 10)

    def test_broken_file_is_refused_and_the_old_one_serves(self):
        """A file that does not parse, then one whose pin is not a pin: each is refused
        with one error line naming the problem; the process stays; sessions still go
        to A as before."""
        good = self.client.config_text
        for broken, problem in (("[client\nkey = 1\n", r"client\.toml:1:"),
                                (good.replace(self.a.pin, "sha256/AAAA"),
                                 r"server\[0\]\.pin: the base64")):
            with open(self.client.config_path, "w") as f:
                f.write(broken)
            log = self.client.reload(expect="refused")
            self.assertEqual(len([l for l in log.splitlines() if "reload refused" in l]), 1, log)
            self.assertRegex(log, r"client: reload refused \(still running on the previous "
                             r"configuration\): [^\n]*" + problem, log)
            self.assertTrue(self.client.alive(), self.context())
            self.assert_session_via(self.a, "after a refused reload")
        # And a good file after them is applied.
        with open(self.client.config_path, "w") as f:
            f.write(good)
        self.client.reload()
        self.assert_session_via(self.a, "after a good reload")

    def test_changed_listeners(self):
        """A [[forward]] listener added (the SOCKS5 one kept open); then the SOCKS5
        listener moved to another port: the new port serves, the old one is closed,
        the forward listener stays."""
        fport = mxtest.free_port()
        self.client.forwards = [{"listen": f"127.0.0.1:{fport}",
                                 "target": f"127.0.0.1:{self.echo.port}"}]
        # Connections to the kept SOCKS5 port all through the reload: none refused.
        refused, tries, done = [], [0], threading.Event()

        def knock():
            while not done.is_set():
                try:
                    socket.create_connection(self.client.socks_addr, timeout=5).close()
                except OSError as e:
                    refused.append(repr(e))
                tries[0] += 1

        knocker = threading.Thread(target=knock)
        knocker.start()
        try:
            time.sleep(0.1)
            log = self.client.reload()
            time.sleep(0.1)
        finally:
            done.set()
            knocker.join(10)
        self.assertEqual(refused, [], f"of {tries[0]} connections")
        self.assertGreater(tries[0], 10)
        self.assertIn(f"forward to 127.0.0.1:{self.echo.port} listening on 127.0.0.1:{fport}",
                      log)
        self.assertNotIn("closed by the reload", log)
        with socket.create_connection(("127.0.0.1", fport), timeout=10) as s:
            s.sendall(b"forwarded\n")
            self.assertEqual(mxtest.recv_exact(s, 10), b"forwarded\n")
        self.assert_session_via(self.a, "socks5 kept")

        old = self.client.socks_addr
        self.client.socks_addr = ("127.0.0.1", mxtest.free_port())
        log = self.client.reload()
        self.assertIn(f"socks5 on {mxtest.fmt_hostport(*old)} closed by the reload", log)
        self.assertIn(f"socks5 listening on {mxtest.fmt_hostport(*self.client.socks_addr)}", log)
        self.assert_session_via(self.a, "socks5 moved")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(old, timeout=5).close()
        with socket.create_connection(("127.0.0.1", fport), timeout=10) as s:
            s.sendall(b"still\n")
            self.assertEqual(mxtest.recv_exact(s, 6), b"still\n")

    def test_log_level_applies(self):
        """debug → info by a reload: the debug lines stop, the info ones go on."""
        # A session at debug first: the pool's debug lines may come after start.
        self.assert_session_via(self.a, "at debug")
        self.client.wait_for(r"Z debug ", timeout=10)
        self.client.settings["log_level"] = "info"
        self.client.reload()
        mark = self.client.mark()
        self.assert_session_via(self.a, "at info")
        log = self.client.since(mark)
        self.assertIn("session: ", log)
        self.assertNotRegex(log, r"Z debug ", log)

    def test_a_listener_that_cannot_be_bound_refuses_the_reload(self):
        """A new listener on a port already taken: refused, and the listeners that
        were running still serve."""
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        self.client.forwards = [{"listen": f"127.0.0.1:{port}",
                                 "target": f"127.0.0.1:{self.echo.port}"}]
        self.client.write_config()
        log = self.client.reload(expect="refused")
        self.assertRegex(log, r"reload refused .*forward to .* on 127\.0\.0\.1:%d: " % port)
        self.assert_session_via(self.a, "after the refused listener")


if __name__ == "__main__":
    unittest.main()
