"""Rotating the server's certificate and a tenant's key (docs/rotation.md).

- A server restarted on a new certificate (a new key, so a new pin) under two
  clients: "both" lists the old and the new pin (``pins = [...]``), "old" only
  the old one (``pin = ...``). "both" keeps working; "old" fails with a clear
  pin error naming the pin the server presented.
- docs/rotation.md's two procedures, step by step, with reloads only (the
  server's SIGHUP and the client's), a session running across all of them:
  (a) the certificate: both pins on the client, the server switched, the old
  pin dropped; (b) the key: both keys on the server, the client switched, the
  old key dropped.
"""

import os
import re
import signal
import time
import unittest

import mxtest
from mxtest import REP_GENERAL, REP_OK, EchoServer, echo_session
from netns import Deployment, close_at_cleanup



class PinRotationTest(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)
        self.dep = Deployment(prefix="mxpins-")
        close_at_cleanup(self, self.dep)
        self.server = self.dep.server("srv", listen=("127.0.0.1", mxtest.free_port()),
                                      tenants=[{"name": "acme", "keys": []}],
                                      ports=[self.echo.port])
        # The next certificate, made ahead: its pin goes to the gateways first.
        self.new_pin = mxtest.server_init(os.path.join(self.server.dir, "next"))
        self.old_pin = self.server.pin
        self.assertNotEqual(self.new_pin, self.old_pin)
        settings = {"retry_interval": "500ms"}
        self.both = self.dep.client(
            "both", servers=[(self.server, {"pins": [self.old_pin, self.new_pin], "pool": 1})],
            settings=settings)
        self.old = self.dep.client("old", servers=[(self.server, {"pool": 1})],
                                   settings=settings)
        self.server.tenants[0]["keys"] = [self.both, self.old]
        self.server.start()
        self.both.start()
        self.old.start()

    def context(self):
        return "\n" + self.dep.logs_tail(60)

    def eventually_ok(self, client, tag, timeout=10.0):
        """Sessions until one succeeds (a pooled tunnel of the old server process may
        be found dead first); the SocksResult of the first success."""
        deadline = time.monotonic() + timeout
        while True:
            r, _ = echo_session(client, self.echo, tag.encode())
            if r.reply == REP_OK or time.monotonic() > deadline:
                return r
            time.sleep(0.2)

    def test_both_pins_keep_working_and_the_old_pin_alone_fails_clearly(self):
        for client in (self.both, self.old):
            r, _ = echo_session(client, self.echo, b"before\n")
            self.assertEqual(r.reply, REP_OK, f"{client.name} before: {r.describe()}"
                             + self.context())

        # The switch: the server restarts on the new certificate.
        self.server.settings["cert"] = "next/server.crt"
        self.server.settings["key"] = "next/server.key"
        self.server.kill(signal.SIGTERM)
        omark = self.old.mark()
        self.server.restart()

        r = self.eventually_ok(self.both, "after\n")
        self.assertEqual(r.reply, REP_OK, "both pins, after the switch: " + r.describe()
                         + self.context())

        r, _ = echo_session(self.old, self.echo, b"after\n")
        self.assertEqual(r.reply, REP_GENERAL, "old pin only, after the switch: "
                         + r.describe() + self.context())
        m = self.old.wait_for(r"server verification failed: [^\n]*server certificate does "
                              r"not match the pin; it presented (sha256/\S+?)\)", 10, omark)
        self.assertEqual(m.group(1), self.new_pin, self.context())
        # And "both" never complained about a pin.
        self.assertNotIn("does not match", self.both.text())
        self.assertNotIn("matches none", self.both.text())


def reload_server(server) -> str:
    """Rewrite SERVER's file from its specs, SIGHUP, wait for ``reloaded``."""
    server.write_config()
    mark = server.mark()
    server.send_signal(signal.SIGHUP)
    server.wait_for(r"reloaded: \d+ tenants|reload refused", 15, mark)
    log = server.since(mark)
    if "reload refused" in log:
        raise AssertionError("server reload refused:\n" + log)
    return log


class RotationByReloadTest(unittest.TestCase):
    """docs/rotation.md, with a session that runs across every step."""

    def setUp(self):
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)
        self.dep = Deployment(prefix="mxrotate-")
        close_at_cleanup(self, self.dep)
        self.server = self.dep.server("srv", listen=("127.0.0.1", mxtest.free_port()),
                                      tenants=[{"name": "acme", "keys": []}],
                                      ports=[self.echo.port])
        self.client = self.dep.client("gw", servers=[(self.server, {"pool": 1})],
                                      settings={"retry_interval": "500ms"})
        self.server.tenants[0]["keys"] = [self.client]
        self.server.start()
        self.client.start()
        self.live = self.client.connect("127.0.0.1", self.echo.port, timeout=10)
        self.addCleanup(self.live.close)
        self.assertEqual(self.live.reply, REP_OK, self.live.describe() + self.context())
        self.live_bytes = 0

    def context(self):
        return "\n" + self.dep.logs_tail(60)

    def assert_live(self, step):
        """The session opened before the first step still relays both ways."""
        payload = mxtest.pattern_bytes(64 * 1024, seed=self.live_bytes + 1)
        self.live.sock.sendall(payload)
        self.assertEqual(mxtest.recv_exact(self.live.sock, len(payload)), payload,
                         step + self.context())
        self.live_bytes += len(payload)

    def assert_new_session(self, step):
        r, _ = echo_session(self.client, self.echo, step.encode() + b"\n")
        self.assertEqual(r.reply, REP_OK, f"{step}: {r.describe()}" + self.context())

    def test_a_the_servers_certificate(self):
        old_pin = self.server.pin
        new_pin = mxtest.server_init(os.path.join(self.server.dir, "next"))
        # 1. Every gateway trusts both pins.
        self.client.servers = [(self.server, {"pool": 1, "pins": [old_pin, new_pin]})]
        self.client.reload()
        self.assert_new_session("both pins")
        self.assert_live("after step 1")
        # 2. The server switches to the new certificate.
        self.server.settings["cert"] = "next/server.crt"
        self.server.settings["key"] = "next/server.key"
        reload_server(self.server)
        self.assert_new_session("server switched")
        self.assert_live("after step 2")
        # 3. The old pin goes: the client's new tunnels are verified against the
        # new pin alone, so the server presents the new certificate.
        mark = self.client.mark()
        self.client.servers = [(self.server, {"pool": 1, "pins": [new_pin]})]
        self.client.reload()
        self.client.wait_for(r"tunnel to %s opened" % re.escape(self.server.address), 10, mark)
        self.assert_new_session("old pin gone")
        self.assert_live("after step 3")
        self.assertNotIn("does not match", self.client.text())
        self.assertNotIn("matches none", self.client.text())

    def test_b_a_tenants_key(self):
        next_key = os.path.join(self.client.dir, "client-next.key")
        new_pubkey = mxtest.keygen(next_key)
        old_pubkey = self.client.pubkey
        # 1. The server accepts both keys.
        self.server.tenants[0]["keys"] = [old_pubkey, new_pubkey]
        reload_server(self.server)
        self.assert_new_session("both keys")
        # 2. The gateway switches to the new key: every server gets new tunnels.
        self.client.settings["key"] = "client-next.key"
        smark = self.server.mark()
        log = self.client.reload()
        self.assertRegex(log, r"removed or changed by a reload", self.context())
        self.assert_new_session("new key")
        self.assertGreaterEqual(self.server.auth_ok(smark), 1, self.context())
        self.assert_live("after step 2")
        # 3. The old key goes: nothing of the client's breaks, the live session
        # (on a tunnel signed with the old key) finishes its work.
        self.server.tenants[0]["keys"] = [new_pubkey]
        smark = self.server.mark()
        reload_server(self.server)
        self.assert_new_session("old key gone")
        self.assert_live("after step 3")
        self.assertNotRegex(self.server.since(smark), r"auth failed", self.context())


if __name__ == "__main__":
    unittest.main()
