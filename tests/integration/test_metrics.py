"""[metrics]: /metrics, /healthz and /readyz on both programs.

A Pair with a [metrics] listener on each side. The scrapes are checked by
promtool (the Prometheus project's own linter) and for exact values: N
sessions of tenant "acme" raise its counters by exactly N and its byte
counters by exactly what was sent; a limit's refusal is counted under the
limit's name. The client's /readyz follows its only server: 503 once it is
killed, 200 again once it is back. Other paths get 404, other methods 405;
a slow request, an oversized one and a probe that connects and leaves are
closed without hurting the scrapes around them, and leave nothing in the log
above debug.
"""

import re
import signal
import socket
import subprocess
import time
import unittest

import mxtest
from mxtest import (REP_GENERAL, REP_NOT_ALLOWED, REP_OK, EchoServer, Pair, Proc,
                    SharedHarnessTest, echo_session)

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def http(addr, request: bytes, timeout: float = 10.0):
    """Send REQUEST to ADDR, read to EOF. Returns (status, headers, body)."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(request)
        data = mxtest.recv_until_eof(s)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body.decode()


def get(addr, path: str, method: str = "GET"):
    return http(addr, f"{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())


def parse_metrics(text: str) -> dict:
    """{(name, ((label, value), ...)): float} of every sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = tuple(sorted(LABEL_RE.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def promtool_check(test: unittest.TestCase, text: str) -> None:
    """`promtool check metrics` must accept TEXT without a remark."""
    cp = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                        text=True, timeout=60)
    test.assertEqual((cp.returncode, cp.stdout + cp.stderr), (0, ""), text[:2000])


def wait_until(what: str, predicate, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def metrics_table(port: int) -> str:
    return f'[metrics]\nlisten = "127.0.0.1:{port}"\n'



class MetricsTest(SharedHarnessTest):
    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer("127.0.0.1")
        cls.peers = [cls.echo]
        cls.server_metrics = ("127.0.0.1", mxtest.free_port())
        cls.client_metrics = ("127.0.0.1", mxtest.free_port())
        cls.pair = cls.start_harness(lambda: Pair(
            ports=[cls.echo.port], tenant_settings={"max_connections": 3},
            server_extra=metrics_table(cls.server_metrics[1]),
            client_extra=metrics_table(cls.client_metrics[1])))

    def scrape(self, addr) -> tuple[str, dict]:
        status, headers, body = get(addr, "/metrics")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(headers["connection"], "close")
        return body, parse_metrics(body)

    def server_ended(self, samples) -> float:
        return sum(v for (name, labels), v in samples.items()
                   if name == "mxegress_server_sessions_ended_total"
                   and ("tenant", "acme") in labels)

    def test_promtool_accepts_both_programs_metrics(self):
        r, _ = echo_session(self.pair, self.echo, b"x" * 100)  # some histogram buckets in use
        self.assertEqual(r.reply, REP_OK, r.describe())
        for addr in (self.server_metrics, self.client_metrics):
            text, _ = self.scrape(addr)
            self.assertIn("# TYPE ", text)
            promtool_check(self, text)

    def test_sessions_and_bytes_are_counted_exactly(self):
        _, server0 = self.scrape(self.server_metrics)
        _, client0 = self.scrape(self.client_metrics)
        sizes = [1, 1000, 65536 + 7, 300000, 5]
        for i, n in enumerate(sizes):
            r, _ = echo_session(self.pair, self.echo, mxtest.pattern_bytes(n, seed=i))
            self.assertEqual(r.reply, REP_OK, r.describe())
        ended0 = self.server_ended(server0)
        server1 = wait_until(
            "the server to count every session's end",
            lambda: (lambda s: s if self.server_ended(s) >= ended0 + len(sizes) else None)(
                self.scrape(self.server_metrics)[1]))
        d = lambda name, **labels: value(server1, name, **labels) - value(server0, name, **labels)
        self.assertEqual(d("mxegress_server_sessions_started_total", tenant="acme"), len(sizes))
        self.assertEqual(self.server_ended(server1) - ended0, len(sizes))
        self.assertEqual(d("mxegress_server_sessions_ended_total", tenant="acme",
                           result="closed"), len(sizes))
        self.assertEqual(d("mxegress_server_relayed_bytes_total", tenant="acme",
                           direction="to_destination"), sum(sizes))
        self.assertEqual(d("mxegress_server_relayed_bytes_total", tenant="acme",
                           direction="from_destination"), sum(sizes))
        self.assertEqual(d("mxegress_server_connect_duration_seconds_count", tenant="acme"),
                         len(sizes))
        self.assertEqual(d("mxegress_server_connect_duration_seconds_bucket", tenant="acme",
                           le="+Inf"), len(sizes))
        self.assertEqual(value(server1, "mxegress_server_sessions_active", tenant="acme"), 0)

        started0 = value(client0, "mxegress_client_sessions_started_total", mode="socks5")
        client1 = wait_until(
            "the client to count every session's end",
            lambda: (lambda s: s if value(s, "mxegress_client_sessions_active", mode="socks5") == 0
                     and value(s, "mxegress_client_sessions_started_total", mode="socks5")
                     >= started0 + len(sizes) else None)(self.scrape(self.client_metrics)[1]))
        c = lambda name, **labels: value(client1, name, **labels) - value(client0, name, **labels)
        self.assertEqual(c("mxegress_client_sessions_started_total", mode="socks5"), len(sizes))
        self.assertEqual(c("mxegress_client_sessions_ended_total", mode="socks5",
                           result="closed"), len(sizes))
        self.assertEqual(c("mxegress_client_pool_requests_total", result="hit")
                         + c("mxegress_client_pool_requests_total", result="miss"), len(sizes))
        self.assertEqual(value(client1, "mxegress_client_sessions_active", mode="socks5"), 0)

    def test_a_limit_refusal_is_counted_under_its_name(self):
        _, server0 = self.scrape(self.server_metrics)
        _, client0 = self.scrape(self.client_metrics)
        held = [self.pair.open(self.echo.host, self.echo.port) for _ in range(3)]
        try:
            r = self.pair.connect(self.echo.host, self.echo.port)
            r.close()
            self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
            server1 = self.scrape(self.server_metrics)[1]
            self.assertEqual(
                value(server1, "mxegress_server_limit_refusals_total", tenant="acme",
                      limit="max_connections")
                - value(server0, "mxegress_server_limit_refusals_total", tenant="acme",
                        limit="max_connections"), 1)
            self.assertEqual(
                value(server1, "mxegress_server_sessions_ended_total", tenant="acme",
                      result="not_allowed")
                - value(server0, "mxegress_server_sessions_ended_total", tenant="acme",
                        result="not_allowed"), 1)
            self.assertEqual(value(server1, "mxegress_server_sessions_active", tenant="acme"), 3)
            client1 = self.scrape(self.client_metrics)[1]
            self.assertEqual(
                value(client1, "mxegress_client_sessions_ended_total", mode="socks5",
                      result="not_allowed")
                - value(client0, "mxegress_client_sessions_ended_total", mode="socks5",
                        result="not_allowed"), 1)
        finally:
            for sock in held:
                sock.close()
            # The next test counts from zero sessions in flight.
            wait_until("the held sessions to end", lambda: value(
                self.scrape(self.server_metrics)[1], "mxegress_server_sessions_active",
                tenant="acme") == 0)
            wait_until("the client's sessions to end", lambda: value(
                self.scrape(self.client_metrics)[1], "mxegress_client_sessions_active",
                mode="socks5") == 0)

    def test_health_readiness_and_other_paths(self):
        for addr in (self.server_metrics, self.client_metrics):
            status, _, body = get(addr, "/healthz")
            self.assertEqual((status, body), (200, "ok\n"))
            self.assertEqual(get(addr, "/nothing")[0], 404)
            self.assertEqual(get(addr, "/")[0], 404)
            status, headers, _ = get(addr, "/metrics", "POST")
            self.assertEqual(status, 405)
            self.assertEqual(headers["allow"], "GET, HEAD")
            status, _, body = get(addr, "/metrics", "HEAD")
            self.assertEqual((status, body), (200, ""))
        self.assertEqual(get(self.server_metrics, "/readyz")[:3:2], (200, "ready\n"))
        wait_until("the client to be ready", lambda: get(self.client_metrics, "/readyz")[0] == 200)

    def test_slow_oversized_and_probes_do_not_hurt_scrapes(self):
        mark = self.pair.server.mark(), self.pair.client.mark()
        for addr in (self.server_metrics, self.client_metrics):
            slow = []
            for _ in range(3):  # a head that never ends
                s = socket.create_connection(addr, timeout=10)
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: sl")
                slow.append(s)
            for _ in range(3):  # probes that connect and leave
                socket.create_connection(addr, timeout=10).close()
            started = time.monotonic()
            self.scrape(addr)
            self.assertLess(time.monotonic() - started, 5, "a scrape beside slow clients")
            status, headers, body = http(addr, b"GET /metrics HTTP/1.1\r\nX: "
                                         + b"a" * 20000 + b"\r\n\r\n")
            self.assertEqual(status, 431, body)
            self.assertEqual(headers["connection"], "close")
            status, _, _ = http(addr, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")
            self.assertEqual(status, 400)
            self.scrape(addr)
            for s in slow:
                s.close()
        for proc, since in zip((self.pair.server, self.pair.client), mark):
            noisy = [line for line in proc.since(since).splitlines()
                     if " metrics: " in line and " debug " not in line]
            self.assertEqual(noisy, [], "metrics connections log at debug only")


class ClientReadinessTest(unittest.TestCase):
    def test_readyz_follows_the_only_server(self):
        metrics = ("127.0.0.1", mxtest.free_port())
        with Pair(client_settings={"retry_interval": "1s"},
                  client_extra=metrics_table(metrics[1])) as pair:
            server_label = mxtest.fmt_hostport(*pair.tunnel_addr)
            up = lambda: parse_metrics(get(metrics, "/metrics")[2]).get(
                ("mxegress_client_server_up", (("server", server_label),)))
            wait_until("ready", lambda: get(metrics, "/readyz")[0] == 200)
            self.assertEqual(up(), 1)

            killed = pair.server
            killed.stopping = True  # killed on purpose: not a death on its own
            killed.popen.send_signal(signal.SIGKILL)
            killed.popen.wait(10)
            self.assertEqual(killed.stop(), [])  # closes its log
            status, _, body = wait_until(
                "not ready once the server is gone",
                lambda: (lambda r: r if r[0] == 503 else None)(get(metrics, "/readyz")))
            self.assertRegex(body, r"^not ready: no server is up with an authenticated tunnel: "
                             + re.escape(server_label) + r" (down|up, no tunnel open)")
            self.assertNotIn("\n", body.rstrip("\n"))
            wait_until("the server marked down", lambda: up() == 0)

            pair.server = Proc("mxegress-server", [mxtest.server_bin(), "-c", pair.server_config],
                               pair.path("server-again.log"), pair.dir, pair.server_env)
            pair.server.wait_for(r"listening on " + re.escape(server_label), 30)
            wait_until("ready again", lambda: get(metrics, "/readyz")[0] == 200)
            self.assertEqual(up(), 1)
            # A session reaches the server again: nothing listens on 25, and the
            # server says so (0x05), where no tunnel would be 0x01.
            r = pair.connect("127.0.0.1", 25)
            r.close()
            self.assertNotEqual(r.reply, REP_GENERAL, r.describe())


if __name__ == "__main__":
    unittest.main()
