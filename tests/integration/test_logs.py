"""Logs an operator can filter (issue 19, part 3).

- log_format = "json": every line of both programs is one JSON object with
  time, level, component and message, and a session's and an auth failure's
  lines carry their fields (tenant, peer, target, reason, user, ...).
- JOURNAL_STREAM naming stderr's device and inode (as systemd sets it when
  stderr is the journal): every line starts with its sd-daemon(3) priority,
  <7> debug, <6> info, <4> warn, <3> error; a JOURNAL_STREAM naming another
  file changes nothing.
- A TCP probe that connects to the tunnel port or a SOCKS5 port and leaves
  without a byte (at once, or after the handshake timeout) logs nothing at
  warn or error."""

import json
import os
import re
import socket
import ssl
import time
import unittest

from mxtest import EchoServer, Pair, REP_OK, recv_exact, wait_closed

TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
LEVELS = {"debug", "info", "warn", "error"}
PRIORITY = {"debug": "7", "info": "6", "warn": "4", "error": "3"}
TEXT_LINE_RE = re.compile(r"^(<(\d)>)?\S+ (debug|info |warn |error) [\w-]+: ")


def bad_auth(pair: Pair) -> None:
    """A TLS tunnel whose AUTH has protocol version 1: the server refuses it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["mxegress/2"])
    raw = socket.create_connection(pair.tunnel_addr, timeout=10)
    with ctx.wrap_socket(raw) as s:
        s.sendall(b"\x01\x00\x01\x01")  # AUTH, length 1, version 1
        answer = recv_exact(s, 4)
        assert answer[0] == 0x02 and answer[3] == 3, answer
        wait_closed(s, 5)


def echo_session(pair: Pair, port: int, **kw) -> None:
    with pair.connect("127.0.0.1", port, **kw) as r:
        assert r.reply == REP_OK, r.describe() + "\n" + pair.logs_tail()
        r.sock.sendall(b"hello logs")
        assert recv_exact(r.sock, 10) == b"hello logs"


def json_lines(test: unittest.TestCase, text: str, what: str) -> list:
    """Every line of TEXT parsed as JSON, each checked for the four members."""
    lines = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError as e:
            test.fail(f"{what}: not a JSON line ({e}): {line!r}")
        test.assertIsInstance(obj, dict, line)
        test.assertRegex(obj.get("time", ""), TIME_RE, line)
        test.assertIn(obj.get("level"), LEVELS, line)
        test.assertIsInstance(obj.get("component"), str, line)
        test.assertIsInstance(obj.get("message"), str, line)
        lines.append(obj)
    test.assertTrue(lines, f"{what}: no lines")
    return lines


class JsonLogTest(unittest.TestCase):
    def test_every_line_is_json_with_the_fields_of_sessions_and_auth_failures(self):
        with EchoServer("127.0.0.1") as echo, Pair(
                ports=[echo.port], users={"gw": "right password"},
                server_settings={"log_format": "json"},
                client_settings={"log_format": "json"}) as pair:
            echo_session(pair, echo.port, username="gw", password="right password")
            with pair.connect("127.0.0.1", echo.port, username="gw",
                              password="wrong password") as r:
                self.assertEqual(r.auth_status, 1, r.describe())
            bad_auth(pair)
            pair.server.wait_for(r'"bytes_up":10\b', 10)
            pair.server.wait_for(r'"message":"auth failed"', 10)
            pair.client.wait_for(r'"bytes_up":10\b', 10)
            pair.client.wait_for(r'"user":"gw"', 20)

            server = json_lines(self, pair.server.text(), "server")
            client = json_lines(self, pair.client.text(), "client")

            sessions = [l for l in server if "bytes_up" in l]
            self.assertEqual(len(sessions), 1, sessions)
            s = sessions[0]
            self.assertEqual(s["level"], "info")
            self.assertEqual(s["tenant"], "acme")
            self.assertEqual(s["via"], "tunnel")
            self.assertEqual(s["target"], f"127.0.0.1:{echo.port}")
            self.assertEqual(s["key"], pair.client_pubkey)
            self.assertRegex(s["peer"], r"^127\.0\.0\.1:\d+$")
            self.assertEqual(s["reply"], 0)
            self.assertEqual((s["bytes_up"], s["bytes_down"]), (10, 10))
            self.assertIsInstance(s["duration_ms"], int)
            self.assertIsInstance(s["end"], str)
            self.assertRegex(s["connected"], rf"^127\.0\.0\.1:{echo.port}$")

            dials = [l for l in server if l["message"] == "dial"]
            self.assertEqual(len(dials), 1, dials)
            self.assertEqual(dials[0]["tenant"], "acme")
            self.assertEqual(dials[0]["target"], f"127.0.0.1:{echo.port}")

            failures = [l for l in server if l["message"] == "auth failed"]
            self.assertEqual(len(failures), 1, failures)
            self.assertEqual(failures[0]["level"], "warn")
            self.assertEqual(failures[0]["component"], "tunnel")
            self.assertRegex(failures[0]["peer"], r"^127\.0\.0\.1:\d+$")
            self.assertIn("protocol version 1", failures[0]["reason"])

            sessions = [l for l in client if "bytes_up" in l]
            self.assertEqual(len(sessions), 1, sessions)
            c = sessions[0]
            self.assertEqual(c["target"], f"127.0.0.1:{echo.port}")
            self.assertRegex(c["peer"], r"^127\.0\.0\.1:\d+$")
            self.assertEqual((c["bytes_up"], c["bytes_down"]), (10, 10))

            logins = [l for l in client if l.get("user") == "gw" and l["level"] == "warn"]
            self.assertEqual(len(logins), 1, logins)
            self.assertIn("login failed", logins[0]["message"])
            self.assertRegex(logins[0]["peer"], r"^127\.0\.0\.1:\d+$")


class JournalStreamTest(unittest.TestCase):
    def test_priority_prefixes_only_when_stderr_is_the_named_file(self):
        with EchoServer("127.0.0.1") as echo, Pair(ports=[echo.port], start=False) as pair:
            # Proc appends to these files: make them now to learn their inodes.
            for name in ("server.log", "client.log"):
                open(pair.path(name), "ab").close()
            st = os.stat(pair.path("server.log"))
            pair.server_env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
            # The client's names another file: as if stderr were redirected.
            other = os.stat(pair.path("server.toml"))
            pair.client_env["JOURNAL_STREAM"] = f"{other.st_dev}:{other.st_ino}"
            pair.start()
            echo_session(pair, echo.port)
            bad_auth(pair)
            pair.server.wait_for(r"auth failed", 10)
            pair.server.wait_for(r"bytes_up=10\b", 10)
            pair.client.wait_for(r"bytes_up=10\b", 10)

            seen = set()
            for line in pair.server.text().splitlines():
                m = TEXT_LINE_RE.match(line)
                self.assertTrue(m, f"server line without a level: {line!r}")
                self.assertIsNotNone(m.group(1), f"server line without <N>: {line!r}")
                self.assertEqual(m.group(2), PRIORITY[m.group(3).strip()], line)
                seen.add(m.group(3).strip())
            self.assertTrue({"debug", "info", "warn"} <= seen, seen)
            for line in pair.client.text().splitlines():
                m = TEXT_LINE_RE.match(line)
                self.assertTrue(m, f"client line without a level: {line!r}")
                self.assertIsNone(m.group(1), f"client line with a prefix: {line!r}")


class ProbeTest(unittest.TestCase):
    HANDSHAKE_TIMEOUT = 2.0

    def test_tcp_probes_that_send_nothing_log_nothing_at_warn(self):
        with Pair(handshake_timeout=f"{int(self.HANDSHAKE_TIMEOUT)}s") as pair:
            smark, cmark = pair.marks()
            # Connect and leave at once, as a TCP health check does.
            for addr in (pair.tunnel_addr, pair.socks_addr):
                for _ in range(3):
                    socket.create_connection(addr, timeout=5).close()
            # Connect and say nothing until the handshake timeout closes it.
            silent = [socket.create_connection(addr, timeout=5)
                      for addr in (pair.tunnel_addr, pair.socks_addr)]
            for s in silent:
                how, data, _ = wait_closed(s, self.HANDSHAKE_TIMEOUT + 5)
                self.assertIn(how, ("eof", "reset"))
                s.close()
            # The debug lines say what happened, so the operator can still see it.
            pair.server.wait_for(r"debug tunnel: tunnel failed peer=", 5, since=smark)
            pair.server.wait_for(r"debug tunnel: closed silent connection peer=", 5, since=smark)
            pair.client.wait_for(r"debug socks5: peer=\S+ closed during the SOCKS5 handshake",
                                 5, since=cmark)
            pair.client.wait_for(r"debug socks5: peer=\S+ no complete SOCKS5 request", 5,
                                 since=cmark)
            time.sleep(0.3)
            for proc, mark in ((pair.server, smark), (pair.client, cmark)):
                loud = [l for l in proc.since(mark).splitlines()
                        if re.match(r"^\S+ (warn |error) ", l)]
                self.assertEqual(loud, [], f"{proc.name} warned about a probe")


if __name__ == "__main__":
    unittest.main()
