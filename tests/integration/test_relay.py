"""Relay through the real pair: bulk both ways, many sessions, half-close, IPv6, names.

One Pair serves the whole file (started in setUpClass, checked in tearDownClass);
each test uses its own loopback peer, all on ports the policy allows.
"""

import hashlib
import socket
import threading
import time
import unittest

from mxtest import (EchoServer, HalfClosePeer, Pair, REP_OK, SharedHarnessTest, SourceServer,
                    pattern_bytes, recv_exact, recv_until_eof, sha256)

BULK = 64 * 1024 * 1024      # each way, at the same time
CONCURRENT = 200


class RelayTest(SharedHarnessTest):
    @classmethod
    def setUpClass(cls):
        cls.source = SourceServer(BULK, "127.0.0.1", timeout=120)
        cls.echo = EchoServer("127.0.0.1")
        cls.echo6 = EchoServer("::1")
        cls.hc_reply = HalfClosePeer("reply_after_eof", "127.0.0.1")
        cls.hc_shut = HalfClosePeer("shut_first", "127.0.0.1")
        cls.peers = [cls.source, cls.echo, cls.echo6, cls.hc_reply, cls.hc_shut]
        ports = sorted({p.port for p in cls.peers})
        cls.pair = cls.start_harness(lambda: Pair(ports=ports, idle_timeout="60s"))

    def open(self, host, port, **kw):
        sock = self.pair.open(host, port, **kw)
        self.addCleanup(sock.close)
        return sock

    # ------------------------------------------------------------------
    def test_bulk_64MiB_each_way_concurrently(self):
        """64 MiB up and 64 MiB down at once, SHA-256 checked at both ends."""
        up = pattern_bytes(BULK, seed=99)
        up_sha = sha256(up)
        sock = self.open("127.0.0.1", self.source.port, timeout=120)
        send_err = []

        def sender():
            try:
                mv = memoryview(up)
                for off in range(0, BULK, 1 << 20):
                    sock.sendall(mv[off:off + (1 << 20)])
                sock.shutdown(socket.SHUT_WR)
            except Exception as e:
                send_err.append(e)

        t0 = time.monotonic()
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        h = hashlib.sha256()
        got = 0
        buf = memoryview(bytearray(1 << 18))
        while True:
            n = sock.recv_into(buf)
            if n == 0:
                break
            h.update(buf[:n])
            got += n
        t.join(120)
        self.assertFalse(t.is_alive(), "sender stuck")
        self.assertEqual(send_err, [])
        rec = self.source.wait_finished(timeout=60)
        elapsed = time.monotonic() - t0
        # down: what the far end sent is what we received
        self.assertEqual(got, BULK, "bytes received by the SOCKS client")
        self.assertEqual(h.hexdigest(), self.source.payload_sha256, "down hash")
        # up: what we sent is what the far end received, then EOF
        self.assertEqual(rec.error, "")
        self.assertEqual(rec.received_len, BULK, "bytes received by the far end")
        self.assertEqual(rec.received_sha256, up_sha, "up hash")
        self.assertTrue(rec.eof)
        self.assertEqual(rec.sent_len, BULK)
        print(f"\n  bulk: 2 x {BULK >> 20} MiB in {elapsed:.2f}s", end=" ")

    def test_200_concurrent_echo_sessions(self):
        """200 sessions open at once, each echoing its own payload."""
        start = len(self.echo.records)
        barrier = threading.Barrier(CONCURRENT, timeout=90)
        errors = []
        results = [None] * CONCURRENT

        def session(i):
            payload = pattern_bytes(4096 + i * 37, seed=1000 + i)
            try:
                r = self.pair.connect("127.0.0.1", self.echo.port, timeout=90)
                with r:
                    if r.reply != REP_OK:
                        errors.append(f"#{i}: {r.describe()}")
                        barrier.abort()
                        return
                    barrier.wait()          # all 200 tunnels open at the same time
                    r.sock.sendall(payload)
                    back = recv_exact(r.sock, len(payload))
                    r.sock.shutdown(socket.SHUT_WR)
                    rest = recv_until_eof(r.sock)
                    results[i] = (back == payload and rest == b"")
            except threading.BrokenBarrierError:
                pass
            except Exception as e:
                errors.append(f"#{i}: {type(e).__name__}: {e}")
                barrier.abort()

        threads = [threading.Thread(target=session, args=(i,), daemon=True)
                   for i in range(CONCURRENT)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors[:5], [], f"{len(errors)} sessions failed\n"
                         + self.pair.logs_tail(30))
        self.assertEqual(results.count(True), CONCURRENT, "payloads echoed intact")
        self.assertGreaterEqual(len(self.echo.records) - start, CONCURRENT)

    def test_half_close_client_shuts_write_far_end_still_sends(self):
        payload = b"request body\n" * 1000
        sock = self.open("127.0.0.1", self.hc_reply.port)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(15)
        reply = recv_until_eof(sock)
        rec = self.hc_reply.wait_finished(timeout=15)
        self.assertTrue(rec.eof, "far end observed EOF")
        self.assertEqual(rec.received, payload)
        self.assertEqual(reply, b"got:" + sha256(payload).encode(),
                         "far end's data after our FIN reached us")

    def test_half_close_far_end_shuts_write_client_still_sends(self):
        sock = self.open("127.0.0.1", self.hc_shut.port)
        sock.settimeout(15)
        greeting = recv_until_eof(sock)       # EOF from the far end
        self.assertEqual(greeting, self.hc_shut.greeting)
        payload = pattern_bytes(300_000, seed=5)
        sock.sendall(payload)                 # our direction still flows
        sock.shutdown(socket.SHUT_WR)
        rec = self.hc_shut.wait_finished(timeout=15)
        self.assertEqual(rec.error, "")
        self.assertTrue(rec.eof, "far end observed our EOF")
        self.assertEqual(rec.received_len, len(payload))
        self.assertEqual(rec.received_sha256, sha256(payload))

    def test_ipv6_target(self):
        r = self.pair.connect("::1", self.echo6.port)
        with r:
            self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + self.pair.logs_tail())
            self.assertEqual(r.bound[0], "::1", "BND.ADDR is the source the server used")
            self.assertNotEqual(r.bound[1], 0)
            r.sock.sendall(b"over ipv6")
            self.assertEqual(recv_exact(r.sock, 9), b"over ipv6")
        rec = self.echo6.wait_finished(timeout=10)
        self.assertEqual(rec.peer[0], "::1")
        # the far end saw the connection come from the BND address:port
        self.assertEqual(rec.peer[1], r.bound[1])

    def test_ipv4_bound_address(self):
        r = self.pair.connect("127.0.0.1", self.echo.port)
        with r:
            self.assertEqual(r.reply, REP_OK, r.describe())
            r.sock.sendall(b"x")
            recv_exact(r.sock, 1)
            self.assertTrue(self.echo.accepted(1))
            peers = [rec.peer for rec in self.echo.records]
            self.assertIn(tuple(r.bound), peers, "BND = the far end's view of the source")

    def test_domain_target(self):
        mark = self.pair.server.mark()
        r = self.pair.connect("localhost", self.echo.port)
        with r:
            self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + self.pair.logs_tail())
            r.sock.sendall(b"by name")
            self.assertEqual(recv_exact(r.sock, 7), b"by name")
        self.pair.server.wait_for(r"dial target=localhost:%d address=127\.0\.0\.1:%d\b"
                                  % (self.echo.port, self.echo.port), timeout=5, since=mark)


if __name__ == "__main__":
    unittest.main()
