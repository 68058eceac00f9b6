"""Connections before authentication are capped (issue 18, item 3).

A stranger at 127.0.0.9 opens slowloris connections that never authenticate: 10,000
at the tunnel port (each sends the first bytes of a TLS record and nothing more),
2,000 at the server's own SOCKS5 port (a greeting byte). The server keeps at most
[server] max_unauthenticated_per_address (32 by default) of them and closes the rest
at once; the ones it keeps are closed by [server] handshake_timeout. Meanwhile the
tenant's client at 127.0.0.1 keeps working with its p99 bounded, the server's RSS
stays within 100 MB of what it was before the flood and comes back after it, and
the refusals are logged rate-limited: one line per 10 s naming the address, the
listener and the limit, with the count of those left out.
"""

import math
import multiprocessing
import re
import resource
import selectors
import socket
import subprocess
import threading
import time
import unittest

import mxtest
from mxtest import EchoServer, Fleet, REP_OK, SharedHarnessTest

STRANGER = "127.0.0.9"
HANDSHAKE_TIMEOUT = 3.0
OUTSIDER = "127.0.0.10"  # in no SOCKS5 user's `from`
USERS = {"exim": {"password": "correct horse", "tenant": "acme",
                  "from": ["127.0.0.1/32", STRANGER + "/32"]}}
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
# The start of a TLS ClientHello record (type 22, TLS 1.0, 512 bytes announced,
# handshake type 1), and never the rest of it.
PARTIAL_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])


def p99(values):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def raise_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class RssSampler:
    """Samples the VmRSS of PID every 50 ms in a thread; ``peak`` in KiB."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = mxtest.rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, mxtest.rss_kib(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, mxtest.rss_kib(self.pid))
        return self.peak


class Flood:
    """Slowloris connections from SOURCE to TARGET, non-blocking, at most 1,000
    connecting at once: each sends PAYLOAD once connected and then nothing. A
    connection the server closes is closed here too (its descriptor reused); the ones
    it keeps stay open."""

    def __init__(self, target, payload: bytes, source: str = STRANGER):
        self.target, self.payload, self.source = target, payload, source
        self.sel = selectors.DefaultSelector()
        self.opened = self.failed = self.closed_by_server = 0
        self.connecting = 0

    def _open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((self.source, 0))
        s.setblocking(False)
        s.connect_ex(self.target)
        self.sel.register(s, selectors.EVENT_WRITE)
        self.opened += 1
        self.connecting += 1

    def _event(self, s, events):
        if events & selectors.EVENT_WRITE:
            self.connecting -= 1
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                self.failed += 1
                self.sel.unregister(s)
                s.close()
                return
            try:
                s.send(self.payload)
            except OSError:
                pass  # closed by the server already: seen as readable next
            self.sel.modify(s, selectors.EVENT_READ)
            return
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if data == b"":
            self.closed_by_server += 1
            self.sel.unregister(s)
            s.close()

    def run(self, count: int, timeout: float = 120.0) -> "Flood":
        """Opens connections until COUNT in all, and waits until none is connecting."""
        deadline = time.monotonic() + timeout
        while self.opened < count or self.connecting:
            while self.connecting < 1000 and self.opened < count:
                self._open()
            if time.monotonic() > deadline:
                raise AssertionError(f"flood: {self.connecting} still connecting after "
                                     f"{timeout:g} s")
            for key, events in self.sel.select(timeout=0.5):
                self._event(key.fileobj, events)
        return self

    def held(self) -> list:
        """The connections the server has not closed (as far as seen so far)."""
        for key, events in self.sel.select(timeout=0):
            self._event(key.fileobj, events)
        return [key.fileobj for key in self.sel.get_map().values()]

    def close(self):
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


def flood_process(target, payload, source, count, opened, stop, report, release):
    """In a child process (so that the flood does not hold the GIL the tenant's
    measurement needs): a Flood of at least COUNT connections that goes on until STOP
    is set, ``opened`` counting; then reports (opened, failed before connecting, closed
    by the server, still held), waits up to the handshake timeout plus 5 s for the
    server to close the ones it held and reports how many it did not; closes the
    rest once RELEASE is set."""
    flood = Flood(target, payload, source)
    while flood.opened < count or not stop.is_set():
        flood.run(flood.opened + 500)
        opened.value = flood.opened
    # A refused connection is closed at once, but a loaded server may still
    # be accepting the last ones: let it catch up (for well under the
    # handshake timeout, so that the connections it holds are still held).
    settle = time.monotonic() + HANDSHAKE_TIMEOUT / 2
    held = flood.held()
    while len(held) > 32 and time.monotonic() < settle:
        time.sleep(0.05)
        held = flood.held()
    report.put((flood.opened, flood.failed, flood.closed_by_server, len(held)))
    deadline = time.monotonic() + HANDSHAKE_TIMEOUT + 5
    while flood.held() and time.monotonic() < deadline:
        time.sleep(0.25)
    report.put(len(flood.held()))
    release.wait(60)
    flood.close()


class FloodProcess:
    def __init__(self, target, payload: bytes, count: int, source: str):
        ctx = multiprocessing.get_context("fork")
        self.opened = ctx.Value("q", 0)
        self.stop, self.release = ctx.Event(), ctx.Event()
        self.report = ctx.Queue()
        self.proc = ctx.Process(target=flood_process, daemon=True, args=(
            target, payload, source, count, self.opened, self.stop, self.report, self.release))
        self.proc.start()

    def finish(self):
        """Stops opening; returns (opened, failed, closed by the server, held)."""
        self.stop.set()
        return self.report.get(timeout=180)

    def held_after_timeout(self) -> int:
        return self.report.get(timeout=60)

    def close(self):
        self.stop.set()
        self.release.set()
        self.proc.join(30)
        if self.proc.is_alive():
            self.proc.kill()


class PreauthFloodTest(SharedHarnessTest):
    @classmethod
    def setUpClass(cls):
        raise_nofile(20000)
        cls.echo = EchoServer("127.0.0.1")
        cls.peers = [cls.echo]
        cls.fleet = cls.start_harness(lambda: Fleet(
            {"acme": {}}, ports=[cls.echo.port], socks5_users=USERS, log_level="info",
            handshake_timeout=f"{HANDSHAKE_TIMEOUT:g}s", connect_timeout="10s"))

    def sessions(self, count: int):
        """COUNT CONNECTs of the tenant through its client, one after the other, each
        with a line echoed; returns the time each took (seconds)."""
        acme = self.fleet.clients["acme"]
        times = []
        for _ in range(count):
            with acme.connect("127.0.0.1", self.echo.port) as r:
                self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + self.fleet.logs_tail(30))
                r.sock.sendall(b"ping\n")
                self.assertEqual(mxtest.recv_exact(r.sock, 5), b"ping\n")
                times.append(r.elapsed)
        return times

    def flood(self, target, payload: bytes, count: int,
              source: str = STRANGER) -> FloodProcess:
        f = FloodProcess(target, payload, count, source)
        self.addCleanup(f.close)
        return f

    def tunnel_peers(self) -> list[str]:
        """The peer address of each established connection to the tunnel port (only the
        server listens there): the tenant's client, and flood connections still held."""
        port = self.fleet.tunnel_addr[1]
        out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                             capture_output=True, text=True, check=True).stdout
        return [line.split()[-1].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()]

    def fds_but_tenant_tunnels(self, pid: int) -> int:
        """The server's open fds less the tenant client's tunnels: with one session per
        tunnel (integration-single) the client's pool may hold one more or fewer warm
        tunnels after the flood's sessions than before, which is not the server keeping
        a socket."""
        tenant = sum(1 for peer in self.tunnel_peers() if peer != STRANGER)
        return len(mxtest.open_fds(pid)) - tenant

    def wait_fds_back(self, pid: int, before: int):
        deadline = time.monotonic() + 10
        while self.fds_but_tenant_tunnels(pid) > before and time.monotonic() < deadline:
            time.sleep(0.25)
        self.assertNotIn(STRANGER, self.tunnel_peers(), "no flood connection is left")
        self.assertLessEqual(self.fds_but_tenant_tunnels(pid), before,
                             "the server keeps no socket")

    def check_refusal_lines(self, log: str, listener: str, seconds: float,
                            why: str) -> list[str]:
        lines = [l for l in log.splitlines()
                 if f"refused {listener} connection from {STRANGER}:" in l]
        self.assertGreaterEqual(len(lines), 1, log[-3000:])
        self.assertLessEqual(len(lines), math.ceil(seconds / 10) + 1,
                             "one line per 10 s, not one per connection:\n" + "\n".join(lines))
        self.assertRegex(lines[0], why)
        if len(lines) > 1:
            self.assertRegex(lines[-1], r"\(\d+ more like it not logged\)")
        return lines

    # ------------------------------------------------------------------
    def test_10000_slowloris_at_the_tunnel_port(self):
        pid = self.fleet.server.pid
        self.sessions(20)  # warm: the tenant's tunnel is open
        baseline = self.sessions(200)
        before = mxtest.rss_kib(pid)
        fds_before = self.fds_but_tenant_tunnels(pid)
        mark = self.fleet.server.mark()
        sampler = RssSampler(pid)
        started = time.monotonic()
        flood = self.flood(self.fleet.tunnel_addr, PARTIAL_HELLO, 10000)
        during = []
        # The tenant works while the flood goes on: 200 sessions at least, and
        # until the 10,000 have been opened.
        while len(during) < 200 or flood.opened.value < 10000:
            during += self.sessions(10)
            self.assertLess(time.monotonic() - started, 180, "the flood took too long")
        opened, failed, closed, held = flood.finish()
        flood_time = time.monotonic() - started
        peak = sampler.stop()
        base99, flood99 = p99(baseline) * 1000, p99(during) * 1000
        print(f"\n  tunnel port: {opened} connections from {STRANGER} in {flood_time:.1f} s "
              f"({failed} failed to connect, {closed} closed by the server at once), "
              f"{held} held at the end"
              f"\n  server RSS: before {before / 1024:.1f} MB, peak {peak / 1024:.1f} MB "
              f"(+{(peak - before) / 1024:.1f} MB)"
              f"\n  tenant p99: {base99:.1f} ms before, {flood99:.1f} ms during "
              f"({len(during)} sessions)", flush=True)
        self.assertGreaterEqual(opened, 10000)
        self.assertLessEqual(held, 32, "at most max_unauthenticated_per_address kept")
        self.assertLess(peak - before, 100 * 1024, "the flood costs under 100 MB at the peak")
        self.assertLess(flood99, max(3 * base99, 200.0), "the tenant keeps its p99")

        self.assertEqual(flood.held_after_timeout(), 0,
                         "every slowloris connection is closed by handshake_timeout")
        flood.close()
        ended = time.monotonic()
        self.wait_fds_back(pid, fds_before)
        # A minute after the flood (the third figure).
        time.sleep(max(0.0, ended + 60 - time.monotonic()))
        after = mxtest.rss_kib(pid)
        print(f"  server RSS a minute after the flood: {after / 1024:.1f} MB "
              f"(+{(after - before) / 1024:.1f} MB on the figure before)", flush=True)
        # Under ASan the figure includes its quarantine of freed memory: +14 to
        # +17 MB on a quiet machine, up to +22 MB on a loaded one (the release
        # build: +1.4 MB, docs/security.md). What this catches is memory that
        # stays with the connections: 10,000 of them held cost hundreds of MB.
        self.assertLess(after - before, 25 * 1024, "the memory comes back after the flood")
        lines = self.check_refusal_lines(
            self.fleet.server.since(mark), "tunnel", time.monotonic() - started,
            rf"32 connections from {re.escape(STRANGER)} are not yet authenticated "
            r"\(max_unauthenticated_per_address\)")
        print(f"  {len(lines)} refusal lines, the first: {lines[0].strip()}", flush=True)
        self.sessions(5)

    def test_2000_slowloris_at_the_socks5_port(self):
        pid = self.fleet.server.pid
        before = mxtest.rss_kib(pid)
        fds_before = self.fds_but_tenant_tunnels(pid)
        mark = self.fleet.server.mark()
        started = time.monotonic()
        flood = self.flood(self.fleet.server_socks_addr, b"\x05", 2000)
        while flood.opened.value < 2000:
            time.sleep(0.1)
        r = self.fleet.server_socks("127.0.0.1", self.echo.port, "exim", "correct horse")
        with r:
            self.assertEqual(r.reply, REP_OK, "a user logs in during the flood: " + r.describe())
        opened, failed, closed, held = flood.finish()
        peak = mxtest.rss_kib(pid)
        print(f"\n  SOCKS5 port: {opened} connections from {STRANGER}, {closed} closed at "
              f"once, {held} held; server RSS before {before / 1024:.1f} MB, after "
              f"{peak / 1024:.1f} MB", flush=True)
        self.assertLessEqual(held, 32)
        self.assertEqual(flood.held_after_timeout(), 0,
                         "every slowloris connection is closed by handshake_timeout")
        flood.close()
        self.wait_fds_back(pid, fds_before)
        self.check_refusal_lines(
            self.fleet.server.since(mark), "socks5", time.monotonic() - started,
            rf"32 connections from {re.escape(STRANGER)} are not yet authenticated "
            r"\(max_unauthenticated_per_address\)")

    def test_strangers_at_the_socks5_port_are_logged_rate_limited(self):
        mark = self.fleet.server.mark()
        started = time.monotonic()
        flood = self.flood(self.fleet.server_socks_addr, b"\x05", 500, source=OUTSIDER)
        while flood.opened.value < 500:
            time.sleep(0.1)
        opened, _, closed, _ = flood.finish()
        self.assertEqual(flood.held_after_timeout(), 0, "each is closed")
        print(f"\n  SOCKS5 port: {opened} connections from {OUTSIDER}, {closed} closed at once",
              flush=True)
        flood.close()
        log = self.fleet.server.since(mark)
        lines = [l for l in log.splitlines()
                 if f"refused connection from {OUTSIDER}:" in l]
        self.assertTrue(1 <= len(lines) <= math.ceil((time.monotonic() - started) / 10) + 1,
                        "\n".join(lines) or log[-3000:])
        self.assertIn("not in any user's `from`", lines[0])


if __name__ == "__main__":
    unittest.main()
