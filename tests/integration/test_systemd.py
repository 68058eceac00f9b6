"""systemd integration: what both programs tell the service manager (sd_notify,
Type=notify), and the units themselves.

Each program is started with NOTIFY_SOCKET pointing at a datagram AF_UNIX socket
the test binds, as systemd would, and the test reads what arrives:
READY=1 only once the listeners are bound (a connection made right after it is
served), STATUS= lines with live counts (at most about one a second), RELOADING=1
then READY=1 around a good SIGHUP reload, READY=1 with "reload refused: why" on a
bad one (the server stays up), STOPPING=1 on SIGTERM, and WATCHDOG=1 pings at half
of WATCHDOG_USEC. Every message must come from the program's main PID (systemd's
NotifyAccess=main); SO_PASSCRED gives the sender's PID.

The units: `systemd-analyze verify` (with the ExecStart paths rewritten to the
built binaries, which must exist for it) and `systemd-analyze security
--offline=yes`, whose overall exposure must be 2.0 ("OK") or lower. Their
ExecReload lines are run as `systemctl reload` runs them, so a broken file fails
the reload before any SIGHUP. (The sandbox itself is not exercised here: that
needs systemd as PID 1.)
"""

import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from mxtest import (Blackhole, EchoServer, Pair, Proc, REP_OK, RefusedPort, client_bin,
                    fmt_hostport, recv_exact, server_bin)

UNIT_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "..", "..", "systemd"))
INSTALLED_BIN = {"server": "/usr/local/sbin/mxegress-server",
                 "client": "/usr/local/bin/mxegress-client"}
INSTALLED_CONFIG = {"server": "/etc/mxegress/server.toml",
                    "client": "/etc/mxegress/client.toml"}
START_TIMEOUT = 60.0   # ASan builds on a busy machine


class NotifySocket:
    """A datagram AF_UNIX socket like systemd's notify socket; a thread collects
    (monotonic time, sender pid, {key: value}, raw text) for every message."""

    def __init__(self, directory: str, name: str):
        self.path = os.path.join(directory, name)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, int | None, dict, str]] = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        ucred = struct.calcsize("iII")
        while not self.closed:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(ucred))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", cdata[:ucred])[0]
            text = data.decode("utf-8", "replace")
            fields = dict(line.split("=", 1) for line in text.split("\n") if "=" in line)
            with self.cond:
                self.messages.append((time.monotonic(), pid, fields, text))
                self.cond.notify_all()

    def count(self) -> int:
        with self.cond:
            return len(self.messages)

    def wait(self, pred, since: int = 0, timeout: float = 10.0, what: str = "a message"):
        """The first message at index >= SINCE whose fields satisfy PRED; returns
        (index, fields). AssertionError with everything received on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.messages)):
                    if pred(self.messages[i][2]):
                        return i, self.messages[i][2]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout}s; got:\n"
                                         + "\n".join(repr(m[3]) for m in self.messages))
                self.cond.wait(left)

    def wait_status(self, regex: str, since: int = 0, timeout: float = 10.0):
        rx = re.compile(regex)
        return self.wait(lambda f: "STATUS" in f and rx.search(f["STATUS"]), since, timeout,
                         f"STATUS matching /{regex}/")

    def texts(self) -> list[str]:
        with self.cond:
            return [m[3] for m in self.messages]

    def close(self):
        self.closed = True
        self.thread.join(2)
        self.sock.close()


def start_program(pair: Pair, which: str, notify: NotifySocket, env: dict | None = None) -> Proc:
    """Start the pair's server or client with NOTIFY_SOCKET, without waiting for its log
    (READY=1 is what the test waits for)."""
    binary, config = ((server_bin(), pair.server_config) if which == "server"
                      else (client_bin(), pair.client_config))
    proc = Proc(f"mxegress-{which}", [binary, "-c", config], pair.path(f"{which}.log"),
                pair.dir, {"NOTIFY_SOCKET": notify.path, **(env or {})})
    setattr(pair, which, proc)
    return proc


def is_ready(fields: dict) -> bool:
    return fields.get("READY") == "1"


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mxsystemd-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)

    def notify_socket(self, name: str) -> NotifySocket:
        n = NotifySocket(self.tmp, name)
        self.addCleanup(n.close)
        return n

    def pair(self, **kw) -> Pair:
        kw.setdefault("ports", [self.echo.port])
        pair = Pair(start=False, **kw)
        self.addCleanup(pair.close)
        return pair

    def assert_from(self, notify: NotifySocket, proc: Proc):
        pids = {m[1] for m in notify.messages}
        self.assertEqual(pids, {proc.pid}, "every message from the main PID")

    def echo_through(self, pair: Pair):
        r = pair.connect(self.echo.host, self.echo.port)
        self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + pair.logs_tail(30))
        r.sock.sendall(b"ping")
        self.assertEqual(recv_exact(r.sock, 4), b"ping")
        return r

    # ------------------------------------------------------------------
    def test_lifecycle_ready_status_reload_stop(self):
        server_notify = self.notify_socket("server.notify")
        client_notify = self.notify_socket("client.notify")
        pair = self.pair(server_settings={"threads": 2})

        server = start_program(pair, "server", server_notify)
        server_notify.wait(is_ready, timeout=START_TIMEOUT, what="server READY=1")
        # Right after READY=1 the tunnel listener takes connections.
        socket.create_connection(pair.tunnel_addr, timeout=5).close()
        server_notify.wait_status(r"^\d+ tunnels, 0 sessions$")

        client = start_program(pair, "client", client_notify)
        _, ready = client_notify.wait(is_ready, timeout=START_TIMEOUT, what="client READY=1")
        self.assertRegex(ready.get("STATUS", ""), r"^1/1 servers up, \d+ tunnels, 0 sessions$")
        # Right after READY=1 a gateway's CONNECT is served.
        r = self.echo_through(pair)

        # Live counts while a session is open; then back to none.
        server_notify.wait_status(r"^[1-9]\d* tunnels, 1 sessions$")
        client_notify.wait_status(r"^1/1 servers up, [1-9]\d* tunnels, 1 sessions$")
        mark_s, mark_c = server_notify.count(), client_notify.count()
        r.close()
        server_notify.wait_status(r"tunnels, 0 sessions$", since=mark_s)
        client_notify.wait_status(r"tunnels, 0 sessions$", since=mark_c)

        # A good reload (SIGHUP): RELOADING=1, then READY=1.
        mark = server_notify.count()
        server.popen.send_signal(signal.SIGHUP)
        i, reloading = server_notify.wait(lambda f: f.get("RELOADING") == "1", since=mark,
                                          what="RELOADING=1")
        self.assertRegex(reloading.get("MONOTONIC_USEC", ""), r"^\d+$")
        _, done = server_notify.wait(is_ready, since=i + 1, what="READY=1 after the reload")
        self.assertNotIn("refused", done.get("STATUS", ""))
        server.wait_for(r"reloaded: 1 tenants", 10)

        # A bad reload: READY=1 again (the old configuration serves), and the
        # status says why until a good reload.
        with open(pair.server_config, "a") as f:
            f.write("\n[server]\nno_such_key = 1\n")
        mark = server_notify.count()
        server.popen.send_signal(signal.SIGHUP)
        i, _ = server_notify.wait(lambda f: f.get("RELOADING") == "1", since=mark,
                                  what="RELOADING=1")
        _, refused = server_notify.wait(is_ready, since=i + 1, what="READY=1 after refusal")
        self.assertRegex(refused.get("STATUS", ""),
                         r"^reload refused: .*server\.toml.*; \d+ tunnels, 0 sessions$")
        self.assertTrue(server.alive())
        with self.echo_through(pair):
            server_notify.wait_status(r"^reload refused: .*; [1-9]\d* tunnels, 1 sessions$",
                                      since=i + 1)
        with open(pair.server_config, "w") as f:
            f.write(pair.server_toml)
        mark = server_notify.count()
        server.popen.send_signal(signal.SIGHUP)
        _, fixed = server_notify.wait(is_ready, since=mark, what="READY=1 after a fix")
        self.assertNotIn("refused", fixed.get("STATUS", ""))

        # STATUS alone at most about once a second.
        for notify in (server_notify, client_notify):
            times = [m[0] for m in notify.messages if set(m[2]) == {"STATUS"}]
            gaps = [b - a for a, b in zip(times, times[1:])]
            self.assertTrue(all(g > 0.8 for g in gaps), f"STATUS gaps {gaps}")

        # SIGTERM: STOPPING=1 while draining.
        mark = client_notify.count()
        self.assertEqual(client.stop(30), [])
        _, stopping = client_notify.wait(lambda f: f.get("STOPPING") == "1", since=mark,
                                         what="client STOPPING=1")
        self.assertTrue(stopping.get("STATUS", "").startswith("stopping; "))
        mark = server_notify.count()
        self.assertEqual(server.stop(30), [])
        server_notify.wait(lambda f: f.get("STOPPING") == "1", since=mark,
                           what="server STOPPING=1")

        for notify, proc in ((server_notify, server), (client_notify, client)):
            self.assert_from(notify, proc)
            texts = notify.texts()
            self.assertFalse(any("WATCHDOG" in t for t in texts),
                             "no pings without WATCHDOG_USEC")
            self.assertEqual(sum(1 for t in texts if t.startswith("STOPPING=1")), 1)

    def test_watchdog_pings_at_half_the_interval(self):
        server_notify = self.notify_socket("server.notify")
        client_notify = self.notify_socket("client.notify")
        pair = self.pair(server_settings={"threads": 2})
        env = {"WATCHDOG_USEC": "2000000"}  # WatchdogSec=2s: a ping every second
        server = start_program(pair, "server", server_notify, env)
        server_notify.wait(is_ready, timeout=START_TIMEOUT, what="server READY=1")
        client = start_program(pair, "client", client_notify, env)
        client_notify.wait(is_ready, timeout=START_TIMEOUT, what="client READY=1")
        time.sleep(5.5)
        for notify, proc in ((server_notify, server), (client_notify, client)):
            times = [m[0] for m in notify.messages if m[2].get("WATCHDOG") == "1"]
            self.assertGreaterEqual(len(times), 4, f"{proc.name}: pings {times}")
            gaps = [b - a for a, b in zip(times, times[1:])]
            self.assertTrue(0.8 <= statistics.median(gaps) <= 1.3,
                            f"{proc.name}: ping gaps {gaps}")
            self.assertLess(max(gaps), 2.0, f"{proc.name}: a gap reached WatchdogSec")
            self.assert_from(notify, proc)

    def test_watchdog_of_another_process_is_not_ours(self):
        server_notify = self.notify_socket("server.notify")
        pair = self.pair()
        start_program(pair, "server", server_notify,
                      {"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        server_notify.wait(is_ready, timeout=START_TIMEOUT, what="server READY=1")
        time.sleep(1.0)
        self.assertFalse(any("WATCHDOG" in t for t in server_notify.texts()))

    def test_client_ready_after_the_first_failure(self):
        """A refused server: READY=1 as soon as the first tunnel failed, 0/1 up."""
        notify = self.notify_socket("client.notify")
        with RefusedPort() as refused:
            pair = self.pair(client_settings={"retry_interval": "60s"})
            with open(pair.client_config, "w") as f:
                f.write(pair.client_toml.replace(fmt_hostport(*pair.tunnel_addr),
                                                 fmt_hostport(refused.host, refused.port)))
            started = time.monotonic()
            client = start_program(pair, "client", notify)
            notify.wait(is_ready, timeout=START_TIMEOUT, what="client READY=1")
            self.assertLess(time.monotonic() - started, 30, "not the 60s retry_interval")
            notify.wait_status(r"^0/1 servers up, 0 tunnels, 0 sessions$")
            self.assert_from(notify, client)

    def test_client_ready_after_retry_interval_when_the_server_is_silent(self):
        """A server whose SYNs vanish: READY=1 once retry_interval passed, not after
        the (longer) handshake timeout."""
        notify = self.notify_socket("client.notify")
        with Blackhole() as hole:
            if not hole.probe():
                self.skipTest("no blackholed port here")
            pair = self.pair(client_settings={"retry_interval": "3s"},
                             client_handshake_timeout="60s")
            with open(pair.client_config, "w") as f:
                f.write(pair.client_toml.replace(fmt_hostport(*pair.tunnel_addr),
                                                 fmt_hostport(*hole.address)))
            client = start_program(pair, "client", notify)
            client.wait_for(r"listening on", START_TIMEOUT)
            started = time.monotonic()
            _, ready = notify.wait(is_ready, timeout=30, what="client READY=1")
            waited = time.monotonic() - started
            self.assertGreater(waited, 1.5, "READY=1 before anything answered")
            self.assertLess(waited, 20, "READY=1 waited for the handshake timeout")
            self.assertRegex(ready.get("STATUS", ""), r"^1/1 servers up, 0 tunnels")


class UnitFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.analyze = shutil.which("systemd-analyze")
        if cls.analyze is None:
            raise unittest.SkipTest("systemd-analyze is not installed")

    def unit_text(self, which: str) -> str:
        with open(os.path.join(UNIT_DIR, f"mxegress-{which}.service")) as f:
            return f.read()

    def built_unit(self, which: str, config: str = "") -> str:
        """The unit with its program's path replaced by the built binary (and its
        config by CONFIG), written to a temp dir; returns its path."""
        binary = server_bin() if which == "server" else client_bin()
        text = self.unit_text(which).replace(INSTALLED_BIN[which], binary)
        if config:
            text = text.replace(INSTALLED_CONFIG[which], config)
        directory = tempfile.mkdtemp(prefix="mxunit-")
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, f"mxegress-{which}.service")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_units_are_type_notify(self):
        for which in ("server", "client"):
            text = self.unit_text(which)
            self.assertRegex(text, r"(?m)^Type=notify$", which)
            self.assertRegex(text, r"(?m)^WatchdogSec=\S+$", which)

    def test_verify(self):
        for which in ("server", "client"):
            path = self.built_unit(which)
            # Documentation=man:… pages must exist: the build's (MX_MANPATH).
            env = dict(os.environ, MANPATH=os.environ.get("MX_MANPATH", ""))
            cp = subprocess.run([self.analyze, "verify", path], capture_output=True, text=True,
                                timeout=60, env=env)
            self.assertEqual(cp.returncode, 0, f"{which}:\n{cp.stdout}{cp.stderr}")
            self.assertNotIn(os.path.basename(path), cp.stderr + cp.stdout,
                             f"{which}: verify warned:\n{cp.stderr}")

    def test_security_exposure_at_most_2(self):
        for which in ("server", "client"):
            path = self.built_unit(which)
            cp = subprocess.run([self.analyze, "security", "--offline=yes", path],
                                capture_output=True, text=True, timeout=60)
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", cp.stdout)
            self.assertIsNotNone(m, f"{which}:\n{cp.stdout}{cp.stderr}")
            score = float(m.group(1))
            print(f"\n[systemd] mxegress-{which}.service exposure {score} {m.group(2)}")
            self.assertLessEqual(score, 2.0, f"{which}:\n{cp.stdout}")

    def test_exec_reload_checks_the_file_before_sighup(self):
        """`systemctl reload` runs the ExecReload lines in order and stops at the first
        that fails: a broken file fails the reload and the program gets no SIGHUP.
        Both units, the client's too (it reloads since issue 20)."""
        for which in ("server", "client"):
            with self.subTest(which):
                self.exec_reload(which)

    def exec_reload(self, which: str):
        notify_dir = tempfile.mkdtemp(prefix="mxsystemd-")
        self.addCleanup(shutil.rmtree, notify_dir, True)
        notify = NotifySocket(notify_dir, f"{which}.notify")
        self.addCleanup(notify.close)
        with EchoServer() as echo:
            pair = Pair(start=False, ports=[echo.port])
            self.addCleanup(pair.close)
            config = pair.server_config if which == "server" else pair.client_config
            with open(self.built_unit(which, config)) as f:
                reload_lines = re.findall(r"(?m)^ExecReload=(.+)$", f.read())
            self.assertEqual(len(reload_lines), 2, reload_lines)
            self.assertIn("--check", reload_lines[0])
            # The running program holds the listen addresses: the reload's check must
            # leave them out, or every reload would fail with "address already in use".
            self.assertIn("--for-reload", reload_lines[0])
            if which == "client":
                server_notify = NotifySocket(notify_dir, "server.notify")
                self.addCleanup(server_notify.close)
                start_program(pair, "server", server_notify)
                server_notify.wait(is_ready, timeout=START_TIMEOUT, what="server READY=1")
            proc = start_program(pair, which, notify)
            notify.wait(is_ready, timeout=START_TIMEOUT, what=f"{which} READY=1")

            def systemctl_reload() -> bool:
                for line in reload_lines:
                    argv = line.replace("$MAINPID", str(proc.pid)).split()
                    if subprocess.run(argv, capture_output=True, timeout=60).returncode != 0:
                        return False
                return True

            mark = notify.count()
            self.assertTrue(systemctl_reload())
            notify.wait(lambda f: f.get("RELOADING") == "1", since=mark, what="RELOADING=1")
            _, ready = notify.wait(is_ready, since=mark, what="READY=1")
            self.assertNotIn("refused", ready.get("STATUS", ""))

            section = "server" if which == "server" else "client"
            with open(config, "a") as f:
                f.write(f"\n[{section}]\nno_such_key = 1\n")
            mark, log_mark = notify.count(), proc.mark()
            self.assertFalse(systemctl_reload(), "the reload fails on a broken file")
            time.sleep(1.5)
            self.assertNotIn("reloading", proc.since(log_mark), "no SIGHUP was sent")
            self.assertFalse(any("RELOADING" in t for t in notify.texts()[mark:]))
            self.assertTrue(proc.alive())

            # The same file sent by hand (SIGHUP without the check): refused by the
            # program itself, READY=1 again, and the status says why.
            mark = notify.count()
            proc.popen.send_signal(signal.SIGHUP)
            i, _ = notify.wait(lambda f: f.get("RELOADING") == "1", since=mark,
                               what="RELOADING=1")
            _, refused = notify.wait(is_ready, since=i + 1, what="READY=1 after refusal")
            self.assertRegex(refused.get("STATUS", ""), r"^reload refused: .*%s\.toml" % which)
            self.assertTrue(proc.alive())


if __name__ == "__main__":
    unittest.main()
