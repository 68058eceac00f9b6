"""SIGHUP reloads: what a valid one changes, what it must not touch, and what an
invalid one must not change at all.

Each test starts its own Fleet (the configuration is the point) and rewrites the
server's file before `fleet.reload()`, which sends SIGHUP and waits for
`reloaded: N tenants` (or `reload refused` when a broken file is expected).
"""

import hashlib
import re
import socket
import threading
import time
import unittest

from mxtest import (EchoServer, Fleet, close_at_cleanup, REP_GENERAL, REP_NOT_ALLOWED, REP_OK, SourceServer,
                    WhoAmIServer, pattern_bytes, read_whoami, recv_exact, recv_until_eof,
                    sha256, wait_closed)

BULK = 64 * 1024 * 1024
BULK_SECONDS = 3.0          # the slow reader takes at least this long


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.mx = WhoAmIServer("127.0.0.1")
        self.addCleanup(self.mx.close)

    def fleet(self, tenants, **kw):
        kw.setdefault("ports", [self.mx.port])
        fleet = Fleet(tenants, **kw)
        close_at_cleanup(self, fleet)
        return fleet

    def whoami(self, fleet, client, **kw):
        """CONNECT through CLIENT to the test MX; returns (socket, ip the MX saw)."""
        sock = fleet.clients[client].open(self.mx.host, self.mx.port, **kw)
        self.addCleanup(sock.close)
        return sock, read_whoami(sock)[0]

    def eventually(self, fleet, client, want=REP_OK, timeout=5.0):
        """CONNECT until the reply is WANT (the client may retry a refused server
        only after its retry_interval); returns the last SocksResult."""
        deadline = time.monotonic() + timeout
        while True:
            r = fleet.clients[client].connect(self.mx.host, self.mx.port)
            self.addCleanup(r.close)
            if r.reply == want or time.monotonic() > deadline:
                return r
            r.close()
            time.sleep(0.2)

    # ------------------------------------------------------------------
    def test_new_tenant_and_key_apply_to_new_connections(self):
        fleet = self.fleet({"acme": {"source": ["127.0.0.2"]}},
                           clients={"acme": "acme", "late": None})
        mark = fleet.server.mark()
        r = fleet.clients["late"].connect(self.mx.host, self.mx.port)
        r.close()
        self.assertEqual(r.reply, REP_GENERAL, "a key in no tenant: " + r.describe())
        fleet.server.wait_for(r"auth failed .*unknown key " + re.escape(
            fleet.clients["late"].pubkey), 5)
        self.assertEqual(fleet.dial_lines(mark), [])

        log = fleet.reload(tenants={**fleet.tenants,
                                    "late": {"keys": [fleet.clients["late"].pubkey],
                                             "source": ["127.0.0.3"]}})
        self.assertIn("reloaded: 2 tenants", log)
        r = self.eventually(fleet, "late")
        self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + fleet.logs_tail(20))
        self.assertEqual(read_whoami(r.sock)[0], "127.0.0.3", "the new tenant's source")
        self.assertEqual(self.whoami(fleet, "acme")[1], "127.0.0.2", "old tenant unchanged")

    def test_changed_source_and_limit_apply_to_new_connections(self):
        fleet = self.fleet({"acme": {"source": ["127.0.0.2"], "max_connections": 1}})
        first, seen = self.whoami(fleet, "acme")
        self.assertEqual(seen, "127.0.0.2")
        r = fleet.clients["acme"].connect(self.mx.host, self.mx.port)
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        fleet.reload(tenants={"acme": {"source": ["127.0.0.4"], "max_connections": 2}})
        second, seen = self.whoami(fleet, "acme")
        self.assertEqual(seen, "127.0.0.4", "new source for a new connection")
        # the live one still counts, against the new limit: 2 of 2
        mark = fleet.server.mark()
        r = fleet.clients["acme"].connect(self.mx.host, self.mx.port)
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        fleet.server.wait_for(r'refused tenant=acme .*reason="max_connections 2 reached"', 5,
                              since=mark)
        # and the first connection, made under the old config, still relays
        first.sendall(b"still here")
        self.assertEqual(recv_exact(first, 10), b"still here")

    def test_limit_counters_survive_a_reload(self):
        fleet = self.fleet({"acme": {"source": ["127.0.0.2"], "max_connections": 1}})
        self.whoami(fleet, "acme")
        # a reload that changes something else; the open connection still counts
        fleet.reload(tenants={"acme": {"source": ["127.0.0.2"], "max_connections": 1},
                              "other": {}})
        mark = fleet.server.mark()
        r = fleet.clients["acme"].connect(self.mx.host, self.mx.port)
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        fleet.server.wait_for(r'refused tenant=acme .*reason="max_connections 1 reached"', 5,
                              since=mark)
        self.assertEqual(fleet.dial_lines(mark), [])

    def test_removed_key_loses_its_idle_tunnels_and_cannot_connect(self):
        fleet = self.fleet({"acme": {"source": ["127.0.0.2"]}},
                           clients={"a1": "acme", "a2": "acme"})
        a1, a2 = fleet.clients["a1"], fleet.clients["a2"]
        # a1: one live session across the reload, and idle tunnels in its pool
        live, seen = self.whoami(fleet, "a1")
        self.assertEqual(seen, "127.0.0.2")
        fleet.server.wait_for(r"auth ok tenant=acme", 5)
        time.sleep(0.3)     # let both clients fill their pools
        reloaded = fleet.server.mark()
        fleet.reload(tenants={"acme": {"source": ["127.0.0.2"], "keys": [a2.pubkey]}})
        fleet.server.wait_for(r"closing idle tunnel peer=\S+ reason=\"?unknown key "
                              + re.escape(a1.pubkey), 5, since=reloaded)
        # the removed key's new connections fail at the client with 0x01
        mark = fleet.server.mark()
        r = self.eventually(fleet, "a1", want=REP_GENERAL)
        self.assertEqual(r.reply, REP_GENERAL, r.describe())
        # Logged once per address and reason every 10 s: the line may be the
        # one for a1's pool refilling right after the reload, before `mark`.
        fleet.server.wait_for(r"auth failed .*unknown key " + re.escape(a1.pubkey), 5,
                              since=reloaded)
        self.assertEqual(fleet.dial_lines(mark), [])
        # the tenant's other key still works
        self.assertEqual(self.whoami(fleet, "a2")[1], "127.0.0.2")
        # the live session of the removed key was left to finish
        live.sendall(b"after reload")
        self.assertEqual(recv_exact(live, 12), b"after reload")
        live.shutdown(socket.SHUT_WR)
        live.settimeout(10)
        self.assertEqual(recv_until_eof(live), b"")

    def test_long_transfer_keeps_flowing_across_three_sighups(self):
        source = SourceServer(BULK, "127.0.0.1", timeout=120)
        self.addCleanup(source.close)
        fleet = self.fleet({"acme": {"source": ["127.0.0.2"]}}, ports=[source.port])
        up = pattern_bytes(1 << 20, seed=3)
        sock = fleet.clients["acme"].open("127.0.0.1", source.port, timeout=60)
        self.addCleanup(sock.close)
        sock.sendall(up)
        sock.shutdown(socket.SHUT_WR)
        trail0 = fleet.trail_mark()
        progress = {"got": 0}
        reloads = []
        errors = []
        hups_done = threading.Event()

        def hup():
            try:
                specs = [
                    {"acme": {"source": ["127.0.0.2"]}, "t1": {}},
                    {"acme": {"source": ["127.0.0.2"], "max_connections": 100}, "t1": {},
                     "t2": {"source": ["127.0.0.3"]}},
                    {"acme": {"source": ["127.0.0.2", "127.0.0.3"],
                              "connections_per_minute": 600}},
                ]
                for tenants in specs:
                    time.sleep(BULK_SECONDS / 4)
                    fleet.reload(tenants=tenants)
                    reloads.append(progress["got"])
            except Exception as e:
                errors.append(e)
            finally:
                hups_done.set()

        t = threading.Thread(target=hup, daemon=True)
        t0 = time.monotonic()
        t.start()
        h = hashlib.sha256()
        buf = memoryview(bytearray(1 << 16))
        rate = BULK / BULK_SECONDS
        while True:
            n = sock.recv_into(buf)
            if n == 0:
                break
            h.update(buf[:n])
            progress["got"] += n
            ahead = progress["got"] / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
            if progress["got"] > BULK - (4 << 20) and not hups_done.is_set():
                # a slow machine: hold the last 4 MiB until the third reload is done
                hups_done.wait(30)
        elapsed = time.monotonic() - t0
        t.join(30)
        self.assertEqual(errors, [])
        self.assertEqual(len(reloads), 3, "three reloads applied")
        self.assertLess(reloads[-1], BULK, "the third reload came while data still flowed")
        self.assertEqual(progress["got"], BULK, "every byte arrived")
        self.assertEqual(h.hexdigest(), source.payload_sha256, "down hash")
        rec = source.wait_finished(30)
        self.assertEqual(rec.received_sha256, sha256(up), "up hash")
        self.assertTrue(rec.eof)
        recs = fleet.wait_trail(trail0, 1)
        self.assertEqual((recs[0]["bytes_up"], recs[0]["bytes_down"], recs[0]["end"]),
                         (len(up), BULK, "closed"), recs[0])
        self.assertNotRegex(fleet.server.text(), r"cutting session")
        print(f"\n  64 MiB in {elapsed:.1f}s, reloads at {[x >> 20 for x in reloads]} MiB",
              end=" ")

    def test_broken_config_is_refused_and_changes_nothing(self):
        fleet = self.fleet({"acme": {"source": ["127.0.0.2"], "max_connections": 5}},
                           clients={"acme": "acme", "late": None})
        late_key = fleet.clients["late"].pubkey
        # each broken file would also add the "late" tenant if it were applied
        with_late = fleet.render_server_config(
            {**fleet.tenants, "late": {"keys": [late_key], "source": ["127.0.0.3"]}},
            fleet.socks5_users)
        cases = [
            ("syntax error", with_late + "\n[[tenant]\nname = \"x\"\n",
             r"server\.toml:\d+:\d+: "),
            ("unknown key", with_late.replace('name = "late"', 'name = "late"\nbogus = 1'),
             r"server\.toml: tenant\[1\]\.bogus: unknown key"),
            ("source not on this host",
             with_late.replace('source = ["127.0.0.3"]', 'source = ["192.0.2.77"]'),
             r'tenant "late"\.source: 192\.0\.2\.77 is not an address of this host'),
            ("bad limit", with_late.replace('name = "late"',
                                            'name = "late"\nmax_connections = "many"'),
             r"tenant\[1\]\.max_connections: "),
        ]
        for what, text, problem in cases:
            with self.subTest(what):
                self.assertNotEqual(text, with_late, "the case changes the file")
                log = fleet.reload(raw=text, expect="refused")
                self.assertRegex(log, problem, f"{what}: the log names the problem")
                self.assertIn("still running on the previous configuration", log)
                # nothing changed: acme from its source, late still unknown
                self.assertEqual(self.whoami(fleet, "acme")[1], "127.0.0.2")
                mark = fleet.server.mark()
                r = fleet.clients["late"].connect(self.mx.host, self.mx.port)
                r.close()
                self.assertEqual(r.reply, REP_GENERAL, r.describe())
                self.assertEqual(fleet.dial_lines(mark), [])
                fleet.check()
        # the running configuration still reloads fine afterwards
        fleet.reload(raw=with_late)
        r = self.eventually(fleet, "late")
        self.assertEqual(r.reply, REP_OK, r.describe())
        self.assertEqual(read_whoami(r.sock)[0], "127.0.0.3")

    def test_disabled_tenant_is_cut_refused_and_loses_idle_tunnels(self):
        echo = EchoServer("127.0.0.1")
        self.addCleanup(echo.close)
        fleet = self.fleet(
            {"acme": {"source": ["127.0.0.2"]}, "beta": {"source": ["127.0.0.3"]}},
            ports=[self.mx.port, echo.port],
            socks5_users={"gw": {"password": "pw", "tenant": "acme",
                                 "from": ["127.0.0.0/8"]}})
        acme_tunnel = fleet.clients["acme"].open("127.0.0.1", echo.port)
        self.addCleanup(acme_tunnel.close)
        r = fleet.server_socks("127.0.0.1", echo.port, "gw", "pw")
        self.addCleanup(r.close)
        self.assertEqual(r.reply, REP_OK, r.describe())
        acme_socks = r.sock
        beta = fleet.clients["beta"].open("127.0.0.1", echo.port)
        self.addCleanup(beta.close)
        for s in (acme_tunnel, acme_socks, beta):
            s.sendall(b"hello")
            self.assertEqual(recv_exact(s, 5), b"hello")
        time.sleep(0.3)     # pools filled
        trail0 = fleet.trail_mark()
        mark = fleet.server.mark()
        fleet.reload(tenants={"acme": {"source": ["127.0.0.2"], "enabled": False},
                              "beta": {"source": ["127.0.0.3"]}})
        # live sessions of acme are cut, through the tunnel and the server's SOCKS5
        for name, s in (("tunnel", acme_tunnel), ("socks5", acme_socks)):
            how, data, elapsed = wait_closed(s, 5)
            self.assertIn(how, ("eof", "reset"), f"acme's {name} session was not cut")
        # acme's idle tunnels are closed
        fleet.server.wait_for(r"closing idle tunnel peer=\S+ reason=\"?tenant acme is disabled",
                              5, since=mark)
        # beta is untouched
        beta.sendall(b"beta lives")
        self.assertEqual(recv_exact(beta, 10), b"beta lives")
        # new connections of acme are refused, by either way in, and nothing is dialed
        mark = fleet.server.mark()
        r = fleet.clients["acme"].connect(self.mx.host, self.mx.port)
        r.close()
        self.assertIn(r.reply, (REP_GENERAL, REP_NOT_ALLOWED), r.describe())
        r = fleet.server_socks(self.mx.host, self.mx.port, "gw", "pw")
        r.close()
        self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        self.assertEqual(fleet.dial_lines(mark), [])
        # the cut sessions are in the trail
        for via in ("tunnel", "socks5"):
            t = fleet.wait_trail_match(trail0, tenant="acme", via=via, reply=0)
            self.assertEqual(t["bytes_up"], 5, t)
        # enabled again: acme works again
        fleet.reload(tenants={"acme": {"source": ["127.0.0.2"]},
                              "beta": {"source": ["127.0.0.3"]}})
        r = self.eventually(fleet, "acme")
        self.assertEqual(r.reply, REP_OK, r.describe())
        self.assertEqual(read_whoami(r.sock)[0], "127.0.0.2")


if __name__ == "__main__":
    unittest.main()
