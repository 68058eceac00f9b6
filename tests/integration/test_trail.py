"""The abuse trail: one JSON line per connection the server was asked to make.

Every field is checked for a success (exact byte counts, the source the far end
saw, the time the connection was asked for), refusals (a limit, a port, the
deny-list), a failure (connection refused), a name target, and the server's own
SOCKS5 listener (`user` instead of `key`, the exact peer), and a dial the
client gave up on before the reply (no reply, but the address dialed and the
source the SYNs left from, so a search by source finds it). The trail goes to
the file and, with `stdout = true`, to standard output as the same line. Last,
`mxegress-server trail` finds a connection by source, destination and time.
"""

import datetime
import json
import re
import socket
import time
import unittest

from mxtest import (Blackhole, Fleet, REP_NOT_ALLOWED, REP_OK, REP_REFUSED, RefusedPort,
                    SharedHarnessTest, SourceServer, pattern_bytes, recv_until_eof, run_server)

FIELDS = {"time", "tenant", "via", "peer", "target", "connected", "source", "reply",
          "bytes_up", "bytes_down", "duration_ms", "end"}
TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
DOWN = 5000
UP = 12345
CONNECT_TIMEOUT = 5


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


class TrailTest(SharedHarnessTest):
    @classmethod
    def setUpClass(cls):
        cls.source = SourceServer(DOWN, "127.0.0.1")
        cls.refused = RefusedPort("127.0.0.1")
        cls.hole = Blackhole("127.0.0.1")
        cls.closed_port = 2525      # allowed by policy, nothing listens there
        cls.peers = [cls.source, cls.refused, cls.hole]
        cls.fleet = cls.start_harness(lambda: Fleet(
            {"acme": {"source": ["127.0.0.2"]},
             "capped": {"source": ["127.0.0.3"], "max_connections": 1}},
            ports=[cls.source.port, cls.refused.port, cls.hole.port, 25], trail_stdout=True,
            connect_timeout=f"{CONNECT_TIMEOUT}s",
            socks5_users={"gw": {"password": "pw", "tenant": "acme",
                                 "from": ["127.0.0.1/32"]}}))
        cls.acme = cls.fleet.clients["acme"]

    def one_line(self, since):
        """The single trail line written after SINCE (waits for it; fails on more)."""
        recs = self.fleet.wait_trail(since, 1)
        time.sleep(0.1)
        recs = self.fleet.trail_records()[since:]
        self.assertEqual(len(recs), 1, f"one line per connection: {recs}")
        return recs[0]

    def check_common(self, t, *, tenant, via, target, reply, before, after):
        self.assertEqual(set(t) - {"key", "user"}, FIELDS, t)
        self.assertEqual(len(set(t) & {"key", "user"}), 1, "key or user, not both")
        self.assertRegex(t["time"], TIME_RE)
        stamp = parse_time(t["time"])
        self.assertGreaterEqual(stamp, before.replace(microsecond=before.microsecond // 1000
                                                      * 1000), "time is not before the request")
        self.assertLessEqual(stamp, after, "time is when it was asked for")
        self.assertEqual((t["tenant"], t["via"], t["target"], t["reply"]),
                         (tenant, via, target, reply), t)
        self.assertIsInstance(t["duration_ms"], int)
        self.assertGreaterEqual(t["duration_ms"], 0)
        self.assertIsInstance(t["end"], str)
        self.assertNotEqual(t["end"], "")
        if via == "tunnel":
            self.assertEqual(t["key"], self.acme.pubkey if tenant == "acme"
                             else self.fleet.clients[tenant].pubkey)
            # the peer is the client's tunnel connection, as the server authenticated it
            self.assertRegex(t["peer"], r"^127\.0\.0\.1:\d+$")
            self.assertRegex(self.fleet.server.text(),
                             rf"auth ok tenant={tenant} peer={re.escape(t['peer'])}\b")
        # the same line on stdout (in the server's log)
        line = json.dumps(t, separators=(",", ":"))
        self.assertIn(line, self.fleet.server.text(), "stdout = true copies the line")

    # ------------------------------------------------------------------
    def test_success_every_field(self):
        since = self.fleet.trail_mark()
        before = utcnow()
        t0 = time.monotonic()
        r = self.acme.connect("127.0.0.1", self.source.port)
        after = utcnow()
        self.addCleanup(r.close)
        self.assertEqual(r.reply, REP_OK, r.describe())
        time.sleep(0.3)
        r.sock.sendall(pattern_bytes(UP, seed=11))
        r.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(len(recv_until_eof(r.sock)), DOWN)
        r.close()
        # the far end's record of this connection: the one from BND.ADDR:BND.PORT
        recs = [x for x in self.source.records if x.peer[:2] == tuple(r.bound)]
        self.assertEqual(len(recs), 1, f"the far end saw {r.bound}")
        rec = recs[0]
        self.assertTrue(rec.done.wait(10))
        t = self.one_line(since)
        wall_ms = (time.monotonic() - t0) * 1000
        self.check_common(t, tenant="acme", via="tunnel", target=f"127.0.0.1:{self.source.port}",
                          reply=0, before=before, after=after)
        self.assertEqual(t["connected"], f"127.0.0.1:{self.source.port}")
        self.assertEqual(t["source"], "%s:%d" % rec.peer[:2], "the source the far end saw")
        self.assertTrue(t["source"].startswith("127.0.0.2:"), t["source"])
        self.assertEqual((t["bytes_up"], t["bytes_down"]), (UP, DOWN))
        self.assertEqual(rec.received_len, UP)
        self.assertGreaterEqual(t["duration_ms"], 300)
        self.assertLessEqual(t["duration_ms"], wall_ms + 50)
        self.assertEqual(t["end"], "closed")

    def test_refused_by_a_limit(self):
        held = self.fleet.clients["capped"].open("127.0.0.1", self.source.port)
        self.addCleanup(held.close)
        since = self.fleet.trail_mark()
        before = utcnow()
        r = self.fleet.clients["capped"].connect("127.0.0.1", self.source.port)
        after = utcnow()
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        t = self.one_line(since)
        self.check_common(t, tenant="capped", via="tunnel",
                          target=f"127.0.0.1:{self.source.port}", reply=2,
                          before=before, after=after)
        self.assertEqual((t["connected"], t["source"], t["bytes_up"], t["bytes_down"]),
                         (None, None, 0, 0))
        self.assertEqual(t["end"], "max_connections 1 reached")
        # the held one's line, before the next test counts lines
        held.close()
        self.assertEqual(self.fleet.wait_trail(since + 1)[0]["reply"], 0)

    def test_refused_by_policy_port(self):
        since = self.fleet.trail_mark()
        before = utcnow()
        r = self.acme.connect("127.0.0.1", 587)
        after = utcnow()
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        t = self.one_line(since)
        self.check_common(t, tenant="acme", via="tunnel", target="127.0.0.1:587", reply=2,
                          before=before, after=after)
        self.assertEqual((t["connected"], t["source"], t["bytes_up"], t["bytes_down"]),
                         (None, None, 0, 0))
        self.assertIn("port 587 is not allowed", t["end"])

    def test_refused_by_the_deny_list(self):
        since = self.fleet.trail_mark()
        before = utcnow()
        r = self.acme.connect("10.0.0.1", 25)
        after = utcnow()
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        t = self.one_line(since)
        self.check_common(t, tenant="acme", via="tunnel", target="10.0.0.1:25", reply=2,
                          before=before, after=after)
        self.assertEqual((t["connected"], t["source"]), (None, None))
        self.assertIn("10.0.0.1 is private (10.0.0.0/8)", t["end"])

    def test_failed_connection_refused(self):
        since = self.fleet.trail_mark()
        before = utcnow()
        r = self.acme.connect("127.0.0.1", self.refused.port)
        after = utcnow()
        r.close()
        self.assertEqual(r.reply, REP_REFUSED, r.describe())
        t = self.one_line(since)
        self.check_common(t, tenant="acme", via="tunnel",
                          target=f"127.0.0.1:{self.refused.port}", reply=REP_REFUSED,
                          before=before, after=after)
        self.assertEqual(t["connected"], f"127.0.0.1:{self.refused.port}", "the address dialed")
        self.assertRegex(t["source"], r"^127\.0\.0\.2:\d+$", "the SYN left from there")
        self.assertEqual((t["bytes_up"], t["bytes_down"]), (0, 0))
        self.assertIn("refused", t["end"].lower())

    def test_dial_the_client_gave_up_on_has_a_line(self):
        """The gateway closes while the server still dials a silent address: the
        SYNs did leave from the tenant's address, so the line names it, with no
        reply (none was sent), and a search by that source finds it."""
        self.assertTrue(self.hole.probe(0.5), f"blackhole ({self.hole.method}) not working")
        since = self.fleet.trail_mark()
        mark = self.fleet.server.mark()
        before = utcnow()
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.acme.connect("127.0.0.1", self.hole.port, timeout=0.7)
        after = utcnow()
        t = self.one_line(since)
        self.check_common(t, tenant="acme", via="tunnel", target=f"127.0.0.1:{self.hole.port}",
                          reply=None, before=before, after=after)
        self.assertEqual(t["connected"], f"127.0.0.1:{self.hole.port}", "the address dialed")
        self.assertRegex(t["source"], r"^127\.0\.0\.2:\d+$", "the SYNs left from there")
        self.assertEqual((t["bytes_up"], t["bytes_down"]), (0, 0))
        self.assertLess(t["duration_ms"], (CONNECT_TIMEOUT - 1) * 1000, "ended by the client")
        self.assertNotIn("no connection within", t["end"])
        self.fleet.server.wait_for(r"cancelled tenant=acme via=tunnel target=127\.0\.0\.1:%d"
                                   % self.hole.port, timeout=5, since=mark)
        cp = run_server("trail", self.fleet.trail_path, "--source", t["source"], "--json")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual([json.loads(l) for l in cp.stdout.splitlines() if l.strip()], [t])
        cp = run_server("trail", self.fleet.trail_path, "--source", t["source"])
        self.assertIn(" reply=- ", cp.stdout)

    def test_dial_a_server_socks5_client_gave_up_on_has_a_line(self):
        """The same on the server's own SOCKS5 listener: the client closing while
        the server dials ends the dial at once, with the trail line."""
        self.assertTrue(self.hole.probe(0.5), f"blackhole ({self.hole.method}) not working")
        # A first login runs argon2id (slow under ASan); later ones hit the cache.
        mark = self.fleet.trail_mark()
        warm = self.fleet.server_socks("127.0.0.1", self.source.port, "gw", "pw")
        self.assertEqual(warm.reply, REP_OK, warm.describe())
        warm.sock.shutdown(socket.SHUT_WR)
        recv_until_eof(warm.sock)
        warm.close()
        self.fleet.wait_trail(mark, 1)
        since = self.fleet.trail_mark()
        before = utcnow()
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.fleet.server_socks("127.0.0.1", self.hole.port, "gw", "pw", timeout=0.7)
        after = utcnow()
        t = self.one_line(since)
        self.check_common(t, tenant="acme", via="socks5", target=f"127.0.0.1:{self.hole.port}",
                          reply=None, before=before, after=after)
        self.assertEqual(t["connected"], f"127.0.0.1:{self.hole.port}")
        self.assertRegex(t["source"], r"^127\.0\.0\.2:\d+$")
        self.assertLess(t["duration_ms"], (CONNECT_TIMEOUT - 1) * 1000, "ended by the client")
        self.assertEqual(t["end"], "closed by the client before the reply")

    def test_name_target_as_asked(self):
        since = self.fleet.trail_mark()
        before = utcnow()
        r = self.acme.connect("localhost", self.source.port)
        after = utcnow()
        self.assertEqual(r.reply, REP_OK, r.describe())
        r.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(len(recv_until_eof(r.sock)), DOWN)
        r.close()
        t = self.one_line(since)
        self.check_common(t, tenant="acme", via="tunnel", target=f"localhost:{self.source.port}",
                          reply=0, before=before, after=after)
        self.assertEqual(t["connected"], f"127.0.0.1:{self.source.port}")
        self.assertEqual((t["bytes_up"], t["bytes_down"]), (0, DOWN))

    def test_server_socks5_line_has_the_user_and_exact_peer(self):
        since = self.fleet.trail_mark()
        before = utcnow()
        r = self.fleet.server_socks("127.0.0.1", self.source.port, "gw", "pw")
        after = utcnow()
        self.assertEqual(r.reply, REP_OK, r.describe())
        local = r.sock.getsockname()
        r.sock.sendall(b"x" * 100)
        r.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(len(recv_until_eof(r.sock)), DOWN)
        r.close()
        t = self.one_line(since)
        self.check_common(t, tenant="acme", via="socks5", target=f"127.0.0.1:{self.source.port}",
                          reply=0, before=before, after=after)
        self.assertEqual(t["user"], "gw")
        self.assertNotIn("key", t)
        self.assertEqual(t["peer"], "%s:%d" % local[:2], "the SOCKS5 client's own address")
        self.assertEqual((t["bytes_up"], t["bytes_down"]), (100, DOWN))
        self.assertRegex(t["source"], r"^127\.0\.0\.2:\d+$")

    def test_a_domain_that_is_not_utf8_stays_valid_json(self):
        """A SOCKS5 domain may hold any byte but controls and space, 0xff too.
        The trail is JSON, that is UTF-8: the ill-formed byte becomes U+FFFD, the
        line parses (strict UTF-8 and JSON), and the query reads and shows it."""
        since = self.fleet.trail_mark()
        r = self.acme.connect(b"mx\xff\xc3.example", 587)    # 587: refused by policy
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        t = self.one_line(since)    # trail_records() decodes strict UTF-8
        self.assertEqual(t["target"], "mx\ufffd\ufffd.example:587")
        with open(self.fleet.trail_path, "rb") as f:
            raw = [l for l in f.read().splitlines() if b".example:587" in l]
        self.assertEqual(len(raw), 1)
        self.assertIn(b'"target":"mx\xef\xbf\xbd\xef\xbf\xbd.example:587"', raw[0])
        cp = run_server("trail", self.fleet.trail_path, "--tenant", "acme", "--json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(t, [json.loads(l) for l in cp.stdout.splitlines() if l.strip()])
        self.assertNotIn("malformed", cp.stderr)
        cp = run_server("trail", self.fleet.trail_path, "--dest", "mx\ufffd\ufffd.example:587")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(" target=mx\ufffd\ufffd.example:587 -> - from - reply=0x02 ", cp.stdout)

    def test_trail_query_finds_the_connection(self):
        """`mxegress-server trail FILE --source IP --dest IP:PORT --around TIME --json`
        answers "who connected from S to D around T" with exactly that line."""
        since = self.fleet.trail_mark()
        r = self.acme.connect("127.0.0.1", self.source.port)
        self.assertEqual(r.reply, REP_OK, r.describe())
        r.sock.shutdown(socket.SHUT_WR)
        recv_until_eof(r.sock)
        r.close()
        t = self.one_line(since)
        src_ip = t["source"].rsplit(":", 1)[0]
        cp = run_server("trail", self.fleet.trail_path, "--source", t["source"],
                        "--dest", t["connected"], "--around", t["time"], "--window", "1s",
                        "--json")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        found = [json.loads(l) for l in cp.stdout.splitlines() if l.strip()]
        self.assertEqual(found, [t])
        # by source IP alone and tenant: every acme line from that address
        cp = run_server("trail", self.fleet.trail_path, "--source", src_ip, "--tenant", "acme",
                        "--json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        found = [json.loads(l) for l in cp.stdout.splitlines() if l.strip()]
        self.assertIn(t, found)
        self.assertTrue(all(x["tenant"] == "acme" and x["source"].startswith(src_ip + ":")
                            for x in found), found)
        # the other tenant never left from there
        cp = run_server("trail", self.fleet.trail_path, "--source", src_ip, "--tenant",
                        "capped", "--json")
        self.assertEqual((cp.returncode, cp.stdout.strip()), (1, ""), cp.stderr)


if __name__ == "__main__":
    unittest.main()
