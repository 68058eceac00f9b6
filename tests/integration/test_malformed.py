"""Garbage on both listening ports: the programs answer or close, log it, never dial,
never crash, and keep serving. One Pair for the file; test_zz_* runs last and
checks that both processes still serve a normal connection (and the Pair's close
fails the file if either died or a sanitizer reported anything)."""

import re
import socket
import ssl
import struct
import time
import unittest

from mxtest import (CMD_BIND, CMD_UDP_ASSOCIATE, EchoServer, Pair, REP_ATYP_NOT_SUPPORTED,
                    REP_CMD_NOT_SUPPORTED, REP_OK, SharedHarnessTest, pattern_bytes, read_reply,
                    recv_exact, socks5_greeting, wait_closed)

HANDSHAKE_TIMEOUT = 2.0
CLOSE_MARGIN = 3.0
#: words a log line explaining a dropped connection is expected to contain
WHY_RE = re.compile(r"(?i)alpn|tls|ssl|handshake|timeout|timed out|closed|error|fail|"
                    r"invalid|malformed|unsupported|bad|unexpected|protocol|version")


class MalformedTest(SharedHarnessTest):
    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer("127.0.0.1")
        cls.peers = [cls.echo]
        cls.pair = cls.start_harness(lambda: Pair(
            ports=[cls.echo.port, 25], handshake_timeout=f"{int(HANDSHAKE_TIMEOUT)}s"))

    def setUp(self):
        super().setUp()
        self.smark, self.cmark = self.pair.marks()

    def tearDown(self):
        self.assertEqual(self.pair.dial_lines(self.smark), [], "garbage made the server dial")

    # helpers ------------------------------------------------------------
    def raw(self, addr):
        s = socket.create_connection(addr, timeout=10)
        self.addCleanup(s.close)
        return s

    def socks_raw(self):
        return self.raw(self.pair.socks_addr)

    def assertClosedBy(self, sock, within, what, after=None):
        how, data, elapsed = wait_closed(sock, within)
        self.assertIn(how, ("eof", "reset"),
                      f"{what}: still open after {within}s\n" + self.pair.logs_tail(20))
        if after is not None:
            self.assertGreaterEqual(elapsed, after, f"{what}: closed too early ({elapsed:.2f}s)")
        return data, elapsed

    def assertLogsWhy(self, proc, mark, what):
        try:
            proc.wait_for(WHY_RE.pattern, timeout=3, since=mark)
        except AssertionError:
            self.fail(f"{what}: {proc.name} logged no reason\n{proc.since(mark)}")

    def assertNotGranted(self, data, what):
        # a SOCKS5 success reply, or a SOCKS4 "request granted", would be wrong
        self.assertFalse(data[:2] == b"\x05\x00" and len(data) > 2, f"{what}: {data!r}")
        self.assertFalse(data[:2] == b"\x00\x5a", f"{what}: {data!r}")

    # SOCKS5 port --------------------------------------------------------
    def test_socks4_request(self):
        s = self.socks_raw()
        s.sendall(b"\x04\x01" + struct.pack("!H", self.echo.port) + socket.inet_aton("127.0.0.1")
                  + b"user\x00")
        data, _ = self.assertClosedBy(s, HANDSHAKE_TIMEOUT + CLOSE_MARGIN, "SOCKS4 request")
        self.assertNotGranted(data, "SOCKS4 request")
        self.assertEqual(self.echo.records, [])
        self.assertLogsWhy(self.pair.client, self.cmark, "SOCKS4 request")

    def test_random_bytes(self):
        junk = b"\xab" + pattern_bytes(511, seed=3)
        s = self.socks_raw()
        s.sendall(junk)
        data, _ = self.assertClosedBy(s, HANDSHAKE_TIMEOUT + CLOSE_MARGIN, "random bytes")
        self.assertNotGranted(data, "random bytes")
        self.assertLogsWhy(self.pair.client, self.cmark, "random bytes")

    def test_http_request_on_socks_port(self):
        s = self.socks_raw()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data, _ = self.assertClosedBy(s, HANDSHAKE_TIMEOUT + CLOSE_MARGIN, "HTTP request")
        self.assertNotGranted(data, "HTTP request")

    def test_truncated_greeting_then_silence(self):
        s = self.socks_raw()
        s.sendall(b"\x05\x02\x00")         # announces 2 methods, sends 1, then nothing
        data, elapsed = self.assertClosedBy(s, HANDSHAKE_TIMEOUT + CLOSE_MARGIN,
                                            "truncated greeting", after=HANDSHAKE_TIMEOUT * 0.5)
        self.assertEqual(data, b"")
        self.assertLogsWhy(self.pair.client, self.cmark, "truncated greeting")

    def test_silent_socks_connection(self):
        s = self.socks_raw()
        self.assertClosedBy(s, HANDSHAKE_TIMEOUT + CLOSE_MARGIN, "silent SOCKS connection",
                            after=HANDSHAKE_TIMEOUT * 0.5)

    def test_truncated_request_then_silence(self):
        s = self.socks_raw()
        self.assertEqual(socks5_greeting(s, [0]), 0)
        s.sendall(b"\x05\x01\x00\x01\x7f\x00")   # IPv4 address cut short
        self.assertClosedBy(s, HANDSHAKE_TIMEOUT + CLOSE_MARGIN, "truncated request",
                            after=HANDSHAKE_TIMEOUT * 0.5)

    def test_zero_methods(self):
        s = self.socks_raw()
        s.sendall(b"\x05\x00")
        data, _ = self.assertClosedBy(s, HANDSHAKE_TIMEOUT + CLOSE_MARGIN, "zero methods")
        self.assertIn(data, (b"", b"\x05\xff"))

    def test_oversized_domain(self):
        s = self.socks_raw()
        self.assertEqual(socks5_greeting(s, [0]), 0)
        name = b"a" * 255                     # longest encodable, not a valid DNS name
        s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", 25))
        s.settimeout(HANDSHAKE_TIMEOUT + 10)
        rep, _ = read_reply(s)
        self.assertNotEqual(rep, REP_OK, "a 255-byte name must not connect")
        self.assertClosedBy(s, CLOSE_MARGIN, "after the error reply")

    def test_bad_label_domain(self):
        s = self.socks_raw()
        self.assertEqual(socks5_greeting(s, [0]), 0)
        name = b"x" * 70 + b".example"        # label over 63 bytes
        s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", 25))
        s.settimeout(HANDSHAKE_TIMEOUT + 10)
        rep, _ = read_reply(s)
        self.assertNotEqual(rep, REP_OK)

    def test_bind_gives_0x07(self):
        with self.pair.connect("127.0.0.1", self.echo.port, cmd=CMD_BIND) as r:
            self.assertEqual(r.reply, REP_CMD_NOT_SUPPORTED, r.describe())
            self.assertClosedBy(r.sock, CLOSE_MARGIN, "after BIND reply")

    def test_udp_associate_gives_0x07(self):
        with self.pair.connect("127.0.0.1", self.echo.port, cmd=CMD_UDP_ASSOCIATE) as r:
            self.assertEqual(r.reply, REP_CMD_NOT_SUPPORTED, r.describe())
            self.assertClosedBy(r.sock, CLOSE_MARGIN, "after UDP ASSOCIATE reply")

    def test_bad_atyp_gives_0x08(self):
        with self.pair.connect("127.0.0.1", self.echo.port, atyp=0x05) as r:
            self.assertEqual(r.reply, REP_ATYP_NOT_SUPPORTED, r.describe())
            self.assertClosedBy(r.sock, CLOSE_MARGIN, "after bad ATYP reply")
        self.assertEqual(self.echo.records, [])

    # tunnel port --------------------------------------------------------
    def tunnel_raw(self):
        return self.raw(self.pair.tunnel_addr)

    def assertServerDropped(self, s, what, after=None):
        self.assertClosedBy(s, HANDSHAKE_TIMEOUT + CLOSE_MARGIN, what, after)
        self.assertLogsWhy(self.pair.server, self.smark, what)
        self.assertNotIn("auth ok", self.pair.server.since(self.smark))

    def test_plain_text_on_tunnel_port(self):
        s = self.tunnel_raw()
        s.sendall(b"EHLO mx.example\r\nMAIL FROM:<a@b>\r\n")
        self.assertServerDropped(s, "plain text")

    def test_random_bytes_on_tunnel_port(self):
        s = self.tunnel_raw()
        s.sendall(b"\x16\x03\x01\x40\x00" + pattern_bytes(4096, seed=11))
        self.assertServerDropped(s, "random TLS-looking bytes")

    def _tls(self, alpn):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if alpn:
            ctx.set_alpn_protocols(alpn)
        raw = socket.create_connection(self.pair.tunnel_addr, timeout=10)
        s = ctx.wrap_socket(raw, do_handshake_on_connect=False)
        self.addCleanup(s.close)
        return s

    def _handshake_or_plain(self, s):
        """Handshake; on failure return a plain dup of the socket to watch for the close."""
        try:
            s.do_handshake()
            return s, True
        except (ssl.SSLError, OSError):          # refused in the handshake: fine
            plain = socket.fromfd(s.fileno(), socket.AF_INET, socket.SOCK_STREAM)
            self.addCleanup(plain.close)
            return plain, False

    def test_tls_without_alpn(self):
        s, done = self._handshake_or_plain(self._tls(None))
        if done:
            self.assertIsNone(s.selected_alpn_protocol())
        self.assertServerDropped(s, "TLS without ALPN")

    def test_tls_wrong_alpn(self):
        s, done = self._handshake_or_plain(self._tls(["h2", "http/1.1"]))
        if done:
            self.assertNotIn(s.selected_alpn_protocol(), ("h2", "http/1.1"))
        self.assertServerDropped(s, "TLS with the wrong ALPN")

    def test_tls_then_no_auth_times_out(self):
        s = self._tls(["mxegress/2"])
        t0 = time.monotonic()
        s.do_handshake()
        self.assertEqual(s.selected_alpn_protocol(), "mxegress/2")
        self.assertEqual(s.version(), "TLSv1.3")
        how, _, elapsed = wait_closed(s, HANDSHAKE_TIMEOUT + CLOSE_MARGIN)
        elapsed = time.monotonic() - t0
        self.assertIn(how, ("eof", "reset"), "no AUTH: the server must close after "
                      "handshake_timeout\n" + self.pair.logs_tail(20))
        self.assertGreaterEqual(elapsed, HANDSHAKE_TIMEOUT * 0.5)
        self.assertLogsWhy(self.pair.server, self.smark, "TLS without AUTH")
        self.assertNotIn("auth ok", self.pair.server.since(self.smark))

    def test_tls12_only_refused(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["mxegress/2"])
        raw = socket.create_connection(self.pair.tunnel_addr, timeout=10)
        s = ctx.wrap_socket(raw, do_handshake_on_connect=False)
        self.addCleanup(s.close)
        with self.assertRaises((ssl.SSLError, OSError), msg="TLS 1.2 must be refused"):
            s.do_handshake()

    def test_repeated_bad_auth_is_refused_each_time_and_logged_once(self):
        """Five tunnels from one address, each with an AUTH of protocol version 1:
        each gets AUTH_RESULT status 3 and is closed; the server logs the first
        and leaves out the rest for 10 s (one line per address and reason)."""
        for i in range(5):
            s = self._tls(["mxegress/2"])
            s.do_handshake()
            s.sendall(b"\x01\x00\x01\x01")  # AUTH, length 1, version 1
            answer = recv_exact(s, 4)
            self.assertEqual(answer[0], 0x02, "AUTH_RESULT")
            self.assertEqual(answer[3], 3, "status 3: unsupported version")
            how, _, _ = wait_closed(s, CLOSE_MARGIN + 2)
            self.assertIn(how, ("eof", "reset"), f"tunnel #{i} closed after the refusal")
        self.pair.server.wait_for(r"auth failed .*protocol version 1 not supported", 5)
        lines = re.findall(r"auth failed peer=127\.0\.0\.1:\d+ reason=.*protocol version 1.*",
                           self.pair.server.since(self.smark))
        self.assertEqual(len(lines), 1, "\n".join(lines))

    def test_silent_tcp_on_tunnel_port(self):
        s = self.tunnel_raw()
        self.assertServerDropped(s, "silent TCP connection", after=HANDSHAKE_TIMEOUT * 0.5)

    # last: still alive and serving ---------------------------------------
    def test_zz_both_still_serve_a_normal_connection(self):
        self.pair.check()
        with self.pair.connect("127.0.0.1", self.echo.port) as r:
            self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + self.pair.logs_tail())
            r.sock.sendall(b"still here")
            self.assertEqual(recv_exact(r.sock, 10), b"still here")
        self.pair.check()
        # this one did dial: don't let tearDown's no-dial check see it
        self.smark = self.pair.server.mark()


if __name__ == "__main__":
    unittest.main()
