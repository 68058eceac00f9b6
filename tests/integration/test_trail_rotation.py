"""Rotating the trail (issue 20 item 3): SIGUSR1 reopens the file after a rename
(and does not stop the server); a rename or a removal without a signal is
noticed within a second; copytruncate leaves whole lines from the start of the
file (O_APPEND). And ill-formed UTF-8 in a SOCKS5 domain (0xff, overlong,
surrogate, truncated, 0xfe) still makes a valid JSON line the query reads and
filters. One server for all.
"""

import json
import os
import re
import shutil
import signal
import socket
import unittest

from mxtest import REP_NOT_ALLOWED, REP_OK, EchoServer, Fleet, recv_until_eof, run_server


def read_lines(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        return f.read().splitlines()


class Rotation(unittest.TestCase):
    """Rotation with and without a signal, and copytruncate, on one server."""

    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer("127.0.0.1")
        try:
            cls.fleet = Fleet({"acme": {"source": ["127.0.0.2"]}}, ports=[cls.echo.port])
        except BaseException:
            cls.echo.close()
            raise
        cls.trail = cls.fleet.trail_path

    @classmethod
    def tearDownClass(cls):
        try:
            cls.fleet.close()
        finally:
            cls.echo.close()

    def setUp(self):
        self.fleet.check()

    def session(self) -> str:
        r = self.fleet.clients["acme"].connect("127.0.0.1", self.echo.port)
        self.assertEqual(r.reply, REP_OK, r.describe())
        r.sock.shutdown(socket.SHUT_WR)
        recv_until_eof(r.sock)
        r.close()
        src = "%s:%d" % tuple(r.bound)
        self.fleet.wait_trail_match(source=src)
        return src

    def sources_in(self, path: str) -> list[str]:
        return [json.loads(l).get("source") for l in read_lines(path) if l.strip()]

    def test_sigusr1_reopens_after_a_rename(self):
        before = self.session()
        os.rename(self.trail, self.trail + ".1")
        self.addCleanup(lambda: os.path.exists(self.trail + ".1") and
                        os.unlink(self.trail + ".1"))
        mark = self.fleet.server.mark()
        self.fleet.server.popen.send_signal(signal.SIGUSR1)
        self.fleet.server.wait_for(r"trail reopened: " + re.escape(self.trail), since=mark)
        self.assertTrue(self.fleet.server.alive(), "SIGUSR1 does not stop the server")
        after = self.session()
        self.assertEqual(self.sources_in(self.trail), [after])
        self.assertIn(before, self.sources_in(self.trail + ".1"))
        self.assertNotIn(after, self.sources_in(self.trail + ".1"))

    def test_a_rename_without_a_signal_is_noticed(self):
        os.rename(self.trail, self.trail + ".2")
        self.addCleanup(lambda: os.path.exists(self.trail + ".2") and
                        os.unlink(self.trail + ".2"))
        mark = self.fleet.server.mark()
        self.fleet.server.wait_for(r"trail reopened: " + re.escape(self.trail), timeout=5,
                                   since=mark)
        after = self.session()
        self.assertEqual(self.sources_in(self.trail), [after])

    def test_a_removal_without_a_signal_is_noticed(self):
        os.unlink(self.trail)
        mark = self.fleet.server.mark()
        self.fleet.server.wait_for(r"trail reopened: " + re.escape(self.trail), timeout=5,
                                   since=mark)
        after = self.session()
        self.assertEqual(self.sources_in(self.trail), [after])

    def test_copytruncate_keeps_whole_lines_at_the_start(self):
        self.session()
        shutil.copyfile(self.trail, self.trail + ".copy")
        self.addCleanup(os.unlink, self.trail + ".copy")
        os.truncate(self.trail, 0)
        after = self.session()
        with open(self.trail, "rb") as f:
            data = f.read()
        self.assertNotIn(b"\0", data, "O_APPEND: no hole where the old end was")
        self.assertTrue(data.startswith(b"{"), data[:40])
        self.assertEqual(self.sources_in(self.trail), [after])

    def test_ill_formed_utf8_domains_stay_valid_json_and_searchable(self):
        """Byte 0xff and other ill-formed UTF-8 (overlong, surrogate, truncated, 0xfe)
        in a SOCKS5 domain: each line parses and the query reads and filters it."""
        names = [b"a\xffb.example", b"a\xc0\x80b.example", b"a\xed\xa0\x80b.example",
                 b"a\xf0\x9fb.example", b"\xfe\xfe.example"]
        since = self.fleet.trail_mark()
        for name in names:
            r = self.fleet.clients["acme"].connect(name, 587)  # 587: refused by policy
            r.close()
            self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        recs = self.fleet.wait_trail(since, len(names))  # strict UTF-8 and JSON
        targets = [r["target"] for r in recs]
        self.assertEqual(len(targets), len(names))
        for t in targets:
            self.assertTrue(t.endswith(".example:587") and "\ufffd" in t, t)
        for t in targets:
            cp = run_server("trail", self.trail, "--dest", t, "--json")
            self.assertEqual(cp.returncode, 0, (t, cp.stderr))
            self.assertEqual([json.loads(l)["target"] for l in cp.stdout.splitlines()],
                             [t] * targets.count(t))
            self.assertNotIn("malformed", cp.stderr)


if __name__ == "__main__":
    unittest.main()
