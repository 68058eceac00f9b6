"""mxtest: harness for tests that run the real mxegress binaries on loopback.

Standard library only; run with /usr/bin/python3. The integration (tests/integration)
and MTA (tests/mta) tiers import it. ctest runs each test file inside
``tests/run_isolated``: a fresh network namespace with only ``lo`` (127.0.0.0/8 and
::1), as root, so nothing can reach a real network and firewall rules vanish with
the test.

Environment
    MX_CLIENT_BIN, MX_SERVER_BIN   paths of mxegress-client / mxegress-server
                                   (relative paths are taken from the cwd at import)
    MX_KEEP_TMP=1                  keep each Pair's temp dir (configs, keys, logs)
    MX_SHOW_LOGS=1                 always print both logs' tails when a Pair closes

Main pieces
    Pair            context manager: keys, configs, both processes, logs, clean stop
    Fleet           one server with several tenants (own sources, limits, trail,
                    server-side SOCKS5 users) and one client per key; reload()
    socks5_connect  SOCKS5 client (greeting, RFC 1929, CONNECT/BIND/UDP, any atyp)
    EchoServer, SinkServer, SourceServer, HalfClosePeer, WhoAmIServer, SmtpServer
                    threaded loopback peers that record what they saw
    add_local_address, local_port_range, sysctl
                    extra addresses on lo / a small ephemeral port range / any
                    per-namespace sysctl (namespace only, restored on exit)
    RefusedPort     a port on which connect() is refused
    Blackhole       a port on which SYNs vanish (connect() times out)
    wait_all_closed, Streamer
                    wait for many sockets to be closed at once / keep one busy
    open_fds, fd_summary, rss_kib
                    a program's open descriptors and memory (/proc), for leak tests
    run_client / run_server / keygen / pubkey / hash_password / server_init
                    one-shot CLI helpers

Typical use::

    with EchoServer() as echo, Pair(ports=[echo.port]) as pair:
        r = pair.connect("127.0.0.1", echo.port)
        assert r.reply == REP_OK
        r.sock.sendall(b"hi"); ...
        r.close()
    # leaving the block stops both programs and fails if either one died on its
    # own or a sanitizer reported anything.
"""

from __future__ import annotations

import ctypes
import datetime
import hashlib
import ipaddress
import json
import os
import queue
import random
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

__all__ = [
    # binaries / CLI
    "client_bin", "server_bin", "run_client", "run_server", "keygen", "pubkey",
    "hash_password", "server_init",
    # processes
    "Proc", "Pair", "HarnessError", "SANITIZER_RE", "LOOPBACK_ALLOW",
    # SOCKS5
    "socks5_connect", "SocksResult", "SocksProtocolError", "encode_address",
    "socks5_greeting", "socks5_userpass", "socks5_request", "read_reply",
    "CMD_CONNECT", "CMD_BIND", "CMD_UDP_ASSOCIATE", "ATYP_IPV4", "ATYP_DOMAIN", "ATYP_IPV6",
    "METHOD_NO_AUTH", "METHOD_USERPASS", "METHOD_NONE_ACCEPTABLE",
    "REP_OK", "REP_GENERAL", "REP_NOT_ALLOWED", "REP_NET_UNREACHABLE",
    "REP_HOST_UNREACHABLE", "REP_REFUSED", "REP_TTL_EXPIRED",
    "REP_CMD_NOT_SUPPORTED", "REP_ATYP_NOT_SUPPORTED", "REPLY_NAMES",
    # sockets and peers
    "recv_exact", "recv_until_eof", "wait_closed", "wait_all_closed", "Streamer",
    "open_fds", "fd_summary", "rss_kib", "pattern_bytes", "sha256",
    "free_port", "listen_port", "isolated", "LoopbackServer", "EchoServer", "SinkServer",
    "SourceServer", "HalfClosePeer", "PeerRecord", "RefusedPort", "Blackhole",
    "WhoAmIServer", "read_whoami", "SmtpServer", "fmt_hostport",
    # several tenants, reloads, addresses
    "Fleet", "FleetClient", "RELOAD_OK_RE", "RELOAD_REFUSED_RE", "add_local_address",
    "is_local_address", "local_port_range", "sysctl", "close_at_cleanup",
]

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

CMD_CONNECT, CMD_BIND, CMD_UDP_ASSOCIATE = 0x01, 0x02, 0x03
ATYP_IPV4, ATYP_DOMAIN, ATYP_IPV6 = 0x01, 0x03, 0x04
METHOD_NO_AUTH, METHOD_USERPASS, METHOD_NONE_ACCEPTABLE = 0x00, 0x02, 0xFF

REP_OK = 0x00
REP_GENERAL = 0x01
REP_NOT_ALLOWED = 0x02
REP_NET_UNREACHABLE = 0x03
REP_HOST_UNREACHABLE = 0x04
REP_REFUSED = 0x05
REP_TTL_EXPIRED = 0x06          # what the pair answers for a connect timeout
REP_CMD_NOT_SUPPORTED = 0x07
REP_ATYP_NOT_SUPPORTED = 0x08
REPLY_NAMES = {
    0x00: "succeeded", 0x01: "general failure", 0x02: "not allowed by ruleset",
    0x03: "network unreachable", 0x04: "host unreachable", 0x05: "connection refused",
    0x06: "TTL expired / timeout", 0x07: "command not supported",
    0x08: "address type not supported", None: "closed before a reply",
}

#: ``allow`` CIDRs that exempt loopback from the server's built-in deny-list.
LOOPBACK_ALLOW = ("127.0.0.0/8", "::1/128")

#: Anything matching this in a process log fails the Pair on close.
SANITIZER_RE = re.compile(
    r"ERROR: AddressSanitizer|AddressSanitizer:|ERROR: LeakSanitizer|"
    r"UndefinedBehaviorSanitizer|runtime error:|ThreadSanitizer|MemorySanitizer")


class HarnessError(AssertionError):
    """A failure detected by the harness (process died, not ready, sanitizer report...).

    It subclasses AssertionError so unittest reports it as a test failure."""


# --------------------------------------------------------------------------
# Binaries and one-shot CLI calls
# --------------------------------------------------------------------------


def tunnel_mode_settings() -> dict:
    """Extra keys for every client [[server]] table: the tunnel mode under test.

    ctest runs each integration file twice: as is (the multiplexed mode, the
    default) and with MX_TEST_SESSIONS_PER_TUNNEL=1 (one session per tunnel, the
    version 1 mode), so every relay behaviour is checked in both."""
    value = os.environ.get("MX_TEST_SESSIONS_PER_TUNNEL")
    return {"sessions_per_tunnel": int(value)} if value else {}


def server_thread_settings() -> dict:
    """Extra keys for every server's [server] table: its event-loop threads.

    With MX_TEST_SERVER_THREADS=N every server the harness starts (Pair, Fleet,
    netns.ServerNode) gets ``threads = N`` unless the test sets ``threads`` itself;
    unset, the server's default (0, one loop per core) applies. scripts/test-tsan
    sets it to 2 so ThreadSanitizer always sees several loops, whatever the core
    count."""
    value = os.environ.get("MX_TEST_SERVER_THREADS")
    return {"threads": int(value)} if value else {}


def _bin_from_env(var: str) -> str | None:
    value = os.environ.get(var)
    return os.path.abspath(value) if value else None


_CLIENT_BIN = _bin_from_env("MX_CLIENT_BIN")
_SERVER_BIN = _bin_from_env("MX_SERVER_BIN")


def _require_bin(path: str | None, var: str) -> str:
    if not path:
        raise HarnessError(f"{var} is not set (path of the binary under test)")
    if not os.access(path, os.X_OK):
        raise HarnessError(f"{var}={path} is not an executable file")
    return path


def client_bin() -> str:
    """Absolute path of mxegress-client (from MX_CLIENT_BIN); raises if missing."""
    return _require_bin(_CLIENT_BIN, "MX_CLIENT_BIN")


def server_bin() -> str:
    """Absolute path of mxegress-server (from MX_SERVER_BIN); raises if missing."""
    return _require_bin(_SERVER_BIN, "MX_SERVER_BIN")


def _child_env() -> dict:
    env = dict(os.environ)
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def _run(argv: Sequence[str], *, input: str | None = None, timeout: float = 60,
         cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), input=input, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=_child_env())


def run_client(*args: str, input: str | None = None, timeout: float = 60,
               cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run ``mxegress-client ARGS`` to completion; returns CompletedProcess (text).

    The caller checks returncode/stdout/stderr; nothing is raised on failure."""
    return _run([client_bin(), *args], input=input, timeout=timeout, cwd=cwd)


def run_server(*args: str, input: str | None = None, timeout: float = 60,
               cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run ``mxegress-server ARGS`` to completion; returns CompletedProcess (text)."""
    return _run([server_bin(), *args], input=input, timeout=timeout, cwd=cwd)


def _check(cp: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if cp.returncode != 0:
        raise HarnessError(f"{what} exited {cp.returncode}\nstdout:\n{cp.stdout}\n"
                           f"stderr:\n{cp.stderr}")
    if SANITIZER_RE.search(cp.stderr):
        raise HarnessError(f"{what}: sanitizer report:\n{cp.stderr}")
    return cp


_PIN_RE = re.compile(r'pin\s*=\s*"(sha256/[A-Za-z0-9+/=_-]+)"')


def server_init(directory: str) -> str:
    """``mxegress-server init DIR``: writes DIR/server.key + DIR/server.crt; returns the pin
    string (``sha256/...``) parsed from its ``pin = "..."`` output line."""
    cp = _check(run_server("init", directory), f"mxegress-server init {directory}")
    m = _PIN_RE.search(cp.stdout) or _PIN_RE.search(cp.stderr)
    if not m:
        raise HarnessError(f"no pin = \"sha256/...\" line in init output:\n{cp.stdout}")
    return m.group(1)


def _single_line(text: str, what: str) -> str:
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    if len(lines) != 1:
        raise HarnessError(f"{what}: expected one line on stdout, got {text!r}")
    return lines[0]


def keygen(path: str) -> str:
    """``mxegress-client keygen FILE``; returns the base64 public key it printed."""
    cp = _check(run_client("keygen", path), f"mxegress-client keygen {path}")
    return _single_line(cp.stdout, "keygen")


def pubkey(path: str) -> str:
    """``mxegress-client pubkey FILE``; returns the base64 public key."""
    cp = _check(run_client("pubkey", path), f"mxegress-client pubkey {path}")
    return _single_line(cp.stdout, "pubkey")


_HASH_CACHE: dict = {}


def hash_password(password: str, program: str = "client") -> str:
    """``mxegress-{program} hash-password`` with PASSWORD on stdin; returns ``$argon2id$...``.

    Results are cached per (program, password) for the process: argon2id is slow
    under ASan and each hash verifies against any later equal password anyway."""
    key = (program, password)
    if key not in _HASH_CACHE:
        runner = run_client if program == "client" else run_server
        cp = _check(runner("hash-password", input=password + "\n"),
                    f"mxegress-{program} hash-password")
        _HASH_CACHE[key] = _single_line(cp.stdout, "hash-password")
    return _HASH_CACHE[key]


# --------------------------------------------------------------------------
# TOML writing
# --------------------------------------------------------------------------

def toml_value(v) -> str:
    """Render a Python value as TOML: str, bool, int, float, date, list/tuple of those."""
    if isinstance(v, datetime.date):
        return v.isoformat()    # a TOML local date (2026-12-01)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid TOML basic strings
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot render {v!r} as TOML")


def _toml_table(name: str, values: Mapping, array: bool = False) -> str:
    head = f"[[{name}]]" if array else f"[{name}]"
    body = "".join(f"{k} = {toml_value(v)}\n" for k, v in values.items() if v is not None)
    return f"{head}\n{body}"


# --------------------------------------------------------------------------
# Addresses, ports, isolation
# --------------------------------------------------------------------------

def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def fmt_hostport(host: str, port: int) -> str:
    """``127.0.0.1:25`` / ``[::1]:25``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on HOST a moment ago (bind to 0, read it, close)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


_LISTEN_PORTS_TAKEN: set = set()


def listen_port(host: str = "127.0.0.1") -> int:
    """A free port for a program under test to listen on, below the ephemeral range
    (10000-32767) and never handed out twice by this process.

    ``free_port()`` returns an ephemeral port: when several programs start at once,
    one's outbound connection may take the port another is about to listen on."""
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(10000, 32768)
        if port in _LISTEN_PORTS_TAKEN:
            continue
        with socket.socket(_family(host), socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _LISTEN_PORTS_TAKEN.add(port)
        return port
    raise HarnessError("no free listening port below 32768")


def isolated() -> bool:
    """True when this process's network namespace has only ``lo`` (tests/run_isolated)."""
    try:
        return [name for _, name in socket.if_nameindex()] == ["lo"]
    except OSError:
        return False


def is_local_address(ip: str) -> bool:
    """True if IP can be bound here (it is one of this host's addresses)."""
    with socket.socket(_family(ip), socket.SOCK_STREAM) as s:
        try:
            s.bind((ip, 0))
            return True
        except OSError:
            return False


def add_local_address(ip: str) -> None:
    """Make IP an address of this host, for tenants' ``source`` lists.

    All of 127.0.0.0/8 is local already; anything else (``::2``, ``::3``...) is added
    to ``lo`` (``nodad``, so it is usable at once). Only inside an isolated namespace:
    outside one this raises HarnessError rather than touch the real host.

    Adding an IPv6 address also puts ``DUAL_STACK_V4`` (127.0.0.254/32) on ``lo``:
    glibc's getaddrinfo(AI_ADDRCONFIG), which both programs use, ignores only
    127.0.0.1 and ::1 when it decides which families "are configured", so a
    namespace with ``::2`` but no IPv4 besides 127.0.0.1 would make every IPv4
    answer vanish (even for the literal "127.0.0.1": EAI_ADDRFAMILY). The extra
    address makes the namespace look like a dual-stack host."""
    if ":" in ip and not is_local_address(ip) and isolated():
        _ip_addr_add(DUAL_STACK_V4)
    if is_local_address(ip):
        return
    if not isolated():
        raise HarnessError(f"{ip} is not local and this is not an isolated namespace "
                           f"(run under tests/run_isolated)")
    _ip_addr_add(ip)
    if not is_local_address(ip):
        raise HarnessError(f"added {ip} to lo but it cannot be bound")


#: See add_local_address().
DUAL_STACK_V4 = "127.0.0.254"


def _ip_addr_add(ip: str) -> None:
    if ":" in ip:
        argv = ["ip", "-6", "addr", "add", f"{ip}/128", "dev", "lo", "nodad"]
    else:
        argv = ["ip", "addr", "add", f"{ip}/32", "dev", "lo"]
    cp = subprocess.run(argv, capture_output=True, text=True)
    if cp.returncode != 0 and not re.search(r"exists|already assigned", cp.stderr):
        raise HarnessError(f"{' '.join(argv)}: {cp.stderr.strip()}")


class local_port_range:
    """Context manager: set ``net.ipv4.ip_local_port_range`` (the ephemeral ports of
    IPv4 and IPv6) to LOW..HIGH inside the isolated namespace, restore it on exit.
    HarnessError outside a namespace (it would change the host)."""

    PATH = "/proc/sys/net/ipv4/ip_local_port_range"

    def __init__(self, low: int, high: int):
        if not isolated():
            raise HarnessError("local_port_range needs an isolated namespace")
        self.value = f"{low} {high}"

    def __enter__(self):
        with open(self.PATH) as f:
            self.saved = " ".join(f.read().split())
        with open(self.PATH, "w") as f:
            f.write(self.value)
        return self

    def __exit__(self, *exc) -> None:
        with open(self.PATH, "w") as f:
            f.write(self.saved)


class sysctl:
    """Context manager: write VALUE to ``/proc/sys/KEY`` (``net/ipv4/tcp_wmem``) inside
    the isolated namespace (only per-namespace keys make sense), restore it on exit.
    HarnessError outside a namespace (it would change the host)."""

    def __init__(self, key: str, value: str):
        if not isolated():
            raise HarnessError(f"sysctl {key} needs an isolated namespace")
        self.path = "/proc/sys/" + key.replace(".", "/")
        self.value = value

    def __enter__(self):
        with open(self.path) as f:
            self.saved = " ".join(f.read().split())
        with open(self.path, "w") as f:
            f.write(self.value)
        return self

    def __exit__(self, *exc) -> None:
        with open(self.path, "w") as f:
            f.write(self.saved)


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------

_libc = None


def _pdeathsig():  # runs in the child between fork and exec
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the test
    except Exception:
        pass


def read_log(path: str, mark: int = 0, missing_ok: bool = False) -> str:
    """The log at PATH from byte offset MARK on ('' for a missing log if MISSING_OK)."""
    try:
        with open(path, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        if missing_ok:
            return ""
        raise


class Proc:
    """One long-running program with stdout+stderr in a log file.

    ``Proc(name, argv, log_path, cwd)`` starts it at once. Use ``text()`` /
    ``mark()`` / ``since(mark)`` to read the log, ``wait_for(regex)`` to wait for a
    line, ``stop()`` to end it. ``died_on_its_own`` is set if it exited before
    ``stop()`` was called."""

    def __init__(self, name: str, argv: Sequence[str], log_path: str, cwd: str,
                 env: Mapping[str, str] | None = None):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._logf = open(log_path, "ab", buffering=0)
        self.popen = subprocess.Popen(self.argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                      stdout=self._logf, stderr=subprocess.STDOUT,
                                      env={**_child_env(), **(env or {})},
                                      preexec_fn=_pdeathsig)
        self.pid = self.popen.pid
        self.stopping = False
        self.died_on_its_own = False
        self.stop_signal_exit: int | None = None

    # log access --------------------------------------------------------
    def text(self) -> str:
        """The whole log so far."""
        return read_log(self.log_path)

    def mark(self) -> int:
        """Current log length; pass it to ``since()`` to see only newer lines."""
        return os.path.getsize(self.log_path)

    def since(self, mark: int) -> str:
        """Log text written after ``mark``."""
        return read_log(self.log_path, mark)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_for(self, pattern: str, timeout: float = 10.0, since: int = 0) -> re.Match:
        """Wait until regex PATTERN appears in the log after offset SINCE.

        Returns the match. Raises HarnessError (with the log tail) on timeout or
        if the process exits first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.since(since))
            if m:
                return m
            if not self.alive():
                time.sleep(0.05)
                m = rx.search(self.since(since))
                if m:
                    return m
                raise HarnessError(
                    f"{self.name} exited ({self.popen.returncode}) before logging "
                    f"/{pattern}/\n--- {self.name} log ---\n{self.tail()}")
            if time.monotonic() > deadline:
                raise HarnessError(f"{self.name}: no /{pattern}/ within {timeout}s\n"
                                   f"--- {self.name} log ---\n{self.tail()}")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> list[str]:
        """SIGTERM, wait TIMEOUT, then SIGKILL. Returns a list of problems (empty if fine):
        died before stop() was called, did not exit on SIGTERM, exited with a status
        other than 0 (or -SIGTERM) after it (a crash or a sanitizer exit in shutdown)."""
        problems = []
        if self.popen.poll() is not None and not self.stopping:
            self.died_on_its_own = True
            problems.append(f"{self.name} died on its own (exit status "
                            f"{self.popen.returncode})")
        self.stopping = True
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                problems.append(f"{self.name} did not exit within {timeout}s of SIGTERM; "
                                f"killed")
                self.popen.kill()
                self.popen.wait()
            self.stop_signal_exit = self.popen.returncode
            if self.popen.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
                problems.append(f"{self.name} exited with status {self.popen.returncode} "
                                f"on SIGTERM (expected 0)")
        self._logf.close()
        return problems


# --------------------------------------------------------------------------
# The pair
# --------------------------------------------------------------------------

def _shut_down(procs: Sequence[Proc | None], directory: str, stop_timeout: float,
               in_error: bool, logs_tail) -> None:
    """Stop PROCS in order, look for sanitizer reports in their logs, print the logs'
    tails (LOGS_TAIL()) on failure or with MX_SHOW_LOGS, remove DIRECTORY unless
    something failed or MX_KEEP_TMP is set, and raise HarnessError on problems
    unless IN_ERROR (then they are only printed). Shared by Pair and Fleet."""
    procs = [p for p in procs if p is not None]
    problems = []
    for p in procs:
        problems += p.stop(stop_timeout)
    for p in procs:
        text = p.text()
        m = SANITIZER_RE.search(text)
        if m:
            start = text.rfind("\n", 0, max(0, m.start() - 2000)) + 1
            problems.append(f"{p.name}: sanitizer report:\n{text[start:m.start() + 6000]}")
    failed = bool(problems) or in_error
    if failed or os.environ.get("MX_SHOW_LOGS"):
        sys.stderr.write(f"\n[mxtest] pair dir {directory}\n{logs_tail()}\n")
    keep = failed or os.environ.get("MX_KEEP_TMP")
    if not keep:
        shutil.rmtree(directory, ignore_errors=True)
    if problems:
        msg = "\n".join(problems)
        if in_error:
            sys.stderr.write(f"[mxtest] also: {msg}\n")
        else:
            raise HarnessError(msg + "\n" + logs_tail())


class _Harness:
    """What Pair and Fleet share: checks, logs and tear-down over their programs.

    A subclass sets ``server``, ``dir``, ``stop_timeout`` and ``_closed`` and defines
    ``procs()`` (the started programs, the server first) and ``_stop_order()``."""

    def procs(self) -> list[Proc]:
        raise NotImplementedError

    def _stop_order(self) -> list[Proc | None]:
        raise NotImplementedError

    def dial_lines(self, since: int = 0) -> list[str]:
        """Server log lines after SINCE that record an outbound dial (``dial target=``)."""
        return [l for l in self.server.since(since).splitlines() if "dial target=" in l]

    def check(self) -> None:
        """Raise HarnessError now if a process died or a sanitizer reported something."""
        problems = []
        for p in self.procs():
            if not p.alive():
                problems.append(f"{p.name} exited with status {p.popen.returncode}")
            if SANITIZER_RE.search(p.text()):
                problems.append(f"{p.name}: sanitizer report in its log")
        if problems:
            raise HarnessError("; ".join(problems) + "\n" + self.logs_tail(200))

    def logs_tail(self, lines: int = 60) -> str:
        """Every program's last LINES log lines, labelled (the server's first)."""
        return "\n".join(f"--- {p.name} log ({p.log_path}) ---\n{p.tail(lines)}"
                         for p in self.procs())

    # tear-down -----------------------------------------------------------
    def close(self, in_error: bool = False) -> None:
        """Stop the programs (clients first, then the server); raise HarnessError on
        problems unless IN_ERROR (then only print them). Removes the temp dir unless
        MX_KEEP_TMP=1 or something failed."""
        if self._closed:
            return
        self._closed = True
        _shut_down(self._stop_order(), self.dir, self.stop_timeout, in_error,
                   self.logs_tail)

    def _cleanup_after_error(self) -> None:
        try:
            self.close(in_error=True)
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(in_error=exc_type is not None)


class Pair(_Harness):
    """mxegress-server + mxegress-client on loopback, in a fresh temp dir.

    Keyword arguments (all optional):
      ports              policy.ports (destination ports the server may dial), default [25]
      allow, deny        policy.allow / policy.deny CIDR lists; allow defaults to
                         LOOPBACK_ALLOW so tests can reach loopback peers
      users              {name: password} -> [[socks5.user]] with hash-password hashes
      user_hashes        {name: "$argon2id$..."} used verbatim
      connect_timeout, handshake_timeout, idle_timeout   duration strings ("2s")
      drain_timeout      both programs' drain on SIGTERM, default "1s" (a test that
                         leaves a session open must not make the stop time out)
      client_handshake_timeout, client_idle_timeout      override for the client only
      log_level          both programs, default "debug"
      server_settings, client_settings, socks5_settings, policy_settings
                         extra {key: value} put in [server] / [client] / [socks5] / [policy]
      server_extra, client_extra   raw TOML appended to the end of each file
      tenant_name        default "acme"
      tenant_settings    extra {key: value} put in the [[tenant]] table (source, limits...);
                         source is "any" unless given (None leaves the key out)
      wrong_pin          client pins a different server identity (verification must fail)
      unknown_key        server's tenant lists a different client key than the client's
      tunnel_host, socks_host      listen addresses (default 127.0.0.1)
      server_env, client_env       extra environment variables for each program
      start              False: only create keys and configs (for --check tests etc.)
      ready_timeout, stop_timeout  seconds

    Attributes: dir, server_config, client_config, pin, client_pubkey, tenant_keys,
    tunnel_port, socks_port, socks_addr (host, port), server / client (Proc once started).

    On ``close()`` / leaving the ``with`` block both programs get SIGTERM (SIGKILL
    after stop_timeout) and HarnessError is raised if either died on its own, did
    not stop, or its log matches SANITIZER_RE. If an exception is already in
    flight the problems are printed instead, with both logs' tails.
    """

    def __init__(self, *, ports: Iterable[int] = (25,), allow: Iterable[str] = LOOPBACK_ALLOW,
                 deny: Iterable[str] = (), users: Mapping[str, str] | None = None,
                 user_hashes: Mapping[str, str] | None = None,
                 connect_timeout: str = "2s", handshake_timeout: str = "2s",
                 idle_timeout: str = "60s", drain_timeout: str = "1s",
                 client_handshake_timeout: str | None = None,
                 client_idle_timeout: str | None = None, log_level: str = "debug",
                 server_settings: Mapping | None = None, client_settings: Mapping | None = None,
                 socks5_settings: Mapping | None = None, policy_settings: Mapping | None = None,
                 server_extra: str = "", client_extra: str = "", tenant_name: str = "acme",
                 tenant_settings: Mapping | None = None,
                 wrong_pin: bool = False, unknown_key: bool = False,
                 tunnel_host: str = "127.0.0.1", socks_host: str = "127.0.0.1",
                 server_env: Mapping[str, str] | None = None,
                 client_env: Mapping[str, str] | None = None,
                 start: bool = True, ready_timeout: float = 30.0, stop_timeout: float = 10.0):
        self.ready_timeout = ready_timeout
        self.server_env = dict(server_env or {})
        self.client_env = dict(client_env or {})
        self.stop_timeout = stop_timeout
        self.server: Proc | None = None
        self.client: Proc | None = None
        self._closed = False
        self.dir = tempfile.mkdtemp(prefix="mxtest-")
        os.chmod(self.dir, 0o755)
        try:
            self._prepare(locals())
            if start:
                self.start()
        except BaseException:
            self._cleanup_after_error()
            raise

    # set-up ------------------------------------------------------------
    def path(self, name: str) -> str:
        """Path of NAME inside the pair's temp dir."""
        return os.path.join(self.dir, name)

    def _prepare(self, a: dict) -> None:
        self.pin = server_init(self.dir)
        self.client_key = self.path("client.key")
        self.client_pubkey = keygen(self.client_key)
        client_pin = self.pin
        if a["wrong_pin"]:
            other = self.path("other-server")
            os.mkdir(other)
            client_pin = server_init(other)
            assert client_pin != self.pin
        self.client_pin = client_pin
        self.tenant_keys = [self.client_pubkey]
        if a["unknown_key"]:
            self.tenant_keys = [keygen(self.path("other-client.key"))]
        self.tunnel_host, self.socks_host = a["tunnel_host"], a["socks_host"]
        self.tunnel_port = free_port(self.tunnel_host)
        self.socks_port = free_port(self.socks_host)
        while self.socks_port == self.tunnel_port:
            self.socks_port = free_port(self.socks_host)
        self.tunnel_addr = (self.tunnel_host, self.tunnel_port)
        self.socks_addr = (self.socks_host, self.socks_port)

        server = {"listen": [fmt_hostport(*self.tunnel_addr)], "cert": "server.crt",
                  "key": "server.key", "connect_timeout": a["connect_timeout"],
                  "handshake_timeout": a["handshake_timeout"],
                  "idle_timeout": a["idle_timeout"], "drain_timeout": a["drain_timeout"],
                  "log_level": a["log_level"], **server_thread_settings()}
        server.update(a["server_settings"] or {})
        policy = {"ports": list(a["ports"]), "allow": list(a["allow"]), "deny": list(a["deny"])}
        policy.update(a["policy_settings"] or {})
        self.server_toml = (_toml_table("server", server) + "\n" + _toml_table("policy", policy)
                            + "\n" + _toml_table("tenant", {"name": a["tenant_name"],
                                                            "keys": self.tenant_keys,
                                                            "source": "any",
                                                            **(a["tenant_settings"] or {})},
                                                  True)
                            + ("\n" + a["server_extra"] if a["server_extra"] else ""))

        client = {"key": "client.key",
                  "handshake_timeout": a["client_handshake_timeout"] or a["handshake_timeout"],
                  "idle_timeout": a["client_idle_timeout"] or a["idle_timeout"],
                  "drain_timeout": a["drain_timeout"], "log_level": a["log_level"]}
        client.update(a["client_settings"] or {})
        socks5 = {"listen": [fmt_hostport(*self.socks_addr)]}
        socks5.update(a["socks5_settings"] or {})
        hashes = dict(a["user_hashes"] or {})
        for name, password in (a["users"] or {}).items():
            hashes[name] = hash_password(password)
        self.client_toml = (_toml_table("client", client) + "\n"
                            + _toml_table("server", {"address": fmt_hostport(*self.tunnel_addr),
                                                     "pin": client_pin,
                                                     **tunnel_mode_settings()}, True)
                            + "\n" + _toml_table("socks5", socks5)
                            + "".join("\n" + _toml_table("socks5.user",
                                                         {"name": n, "password_hash": h}, True)
                                      for n, h in hashes.items())
                            + ("\n" + a["client_extra"] if a["client_extra"] else ""))
        self.server_config = self.path("server.toml")
        self.client_config = self.path("client.toml")
        with open(self.server_config, "w") as f:
            f.write(self.server_toml)
        with open(self.client_config, "w") as f:
            f.write(self.client_toml)

    def start(self) -> "Pair":
        """Start the server, wait for its tunnel listener, then the client and its SOCKS5
        listener (each must log ``listening on IP:PORT`` within ready_timeout)."""
        self.server = Proc("mxegress-server", [server_bin(), "-c", self.server_config],
                           self.path("server.log"), self.dir, self.server_env)
        self.server.wait_for(r"listening on " + re.escape(fmt_hostport(*self.tunnel_addr)),
                             self.ready_timeout)
        self.client = Proc("mxegress-client", [client_bin(), "-c", self.client_config],
                           self.path("client.log"), self.dir, self.client_env)
        self.client.wait_for(r"listening on " + re.escape(fmt_hostport(*self.socks_addr)),
                             self.ready_timeout)
        return self

    # use ---------------------------------------------------------------
    def connect(self, host: str, port: int, **kw) -> "SocksResult":
        """``socks5_connect(self.socks_addr, host, port, **kw)``."""
        return socks5_connect(self.socks_addr, host, port, **kw)

    def open(self, host: str, port: int, **kw) -> socket.socket:
        """SOCKS5 CONNECT that must succeed; returns the connected socket.

        Raises HarnessError with both logs' tails if the reply is not 0x00."""
        r = self.connect(host, port, **kw)
        if r.reply != REP_OK:
            r.close()
            raise HarnessError(f"CONNECT {fmt_hostport(host, port)}: {r.describe()}\n"
                               + self.logs_tail())
        return r.sock

    def marks(self) -> tuple[int, int]:
        """(server_mark, client_mark) for ``server.since()`` / ``client.since()``."""
        return self.server.mark(), self.client.mark()

    def server_log(self, since: int = 0) -> str:
        return self.server.since(since)

    def client_log(self, since: int = 0) -> str:
        return self.client.since(since)

    def alive(self) -> bool:
        return bool(self.server and self.client and self.server.alive() and self.client.alive())

    def procs(self) -> list[Proc]:
        return [p for p in (self.server, self.client) if p is not None]

    def _stop_order(self) -> list[Proc | None]:
        return [self.client, self.server]


# --------------------------------------------------------------------------
# Several tenants: one server, several clients
# --------------------------------------------------------------------------

#: What ``Fleet.reload()`` waits for after SIGHUP: the server's last line of a reload.
RELOAD_OK_RE = r"reloaded: \d+ tenants"
RELOAD_REFUSED_RE = r"reload refused"


class FleetClient:
    """One mxegress-client of a Fleet: its own key (so its own tenant) and SOCKS5 port.

    Attributes: name, tenant (the tenant its key was put in at start, or None),
    key_path, pubkey, config_path, socks_addr, proc (Proc once started)."""

    def __init__(self, fleet: "Fleet", name: str, tenant: str | None):
        self.fleet = fleet
        self.name = name
        self.tenant = tenant
        self.key_path = fleet.path(f"client-{name}.key")
        self.pubkey = keygen(self.key_path)
        self.config_path = fleet.path(f"client-{name}.toml")
        self.socks_addr = ("127.0.0.1", listen_port())
        self.proc: Proc | None = None

    def write_config(self, settings: Mapping, extra: str) -> None:
        client = {"key": os.path.basename(self.key_path), **settings}
        text = (_toml_table("client", client) + "\n"
                + _toml_table("server", {"address": fmt_hostport(*self.fleet.tunnel_addr),
                                         "pin": self.fleet.pin, **tunnel_mode_settings()}, True)
                + "\n" + _toml_table("socks5", {"listen": [fmt_hostport(*self.socks_addr)]})
                + ("\n" + extra if extra else ""))
        with open(self.config_path, "w") as f:
            f.write(text)

    def start(self) -> None:
        self.proc = Proc(f"mxegress-client[{self.name}]", [client_bin(), "-c", self.config_path],
                         self.fleet.path(f"client-{self.name}.log"), self.fleet.dir)

    def wait_ready(self, timeout: float) -> None:
        self.proc.wait_for(r"listening on " + re.escape(fmt_hostport(*self.socks_addr)), timeout)

    def connect(self, host: str, port: int, **kw) -> "SocksResult":
        """``socks5_connect(self.socks_addr, host, port, **kw)``."""
        return socks5_connect(self.socks_addr, host, port, **kw)

    def open(self, host: str, port: int, **kw) -> socket.socket:
        """SOCKS5 CONNECT that must succeed; returns the socket (HarnessError otherwise)."""
        r = self.connect(host, port, **kw)
        if r.reply != REP_OK:
            r.close()
            raise HarnessError(f"client {self.name}: CONNECT {fmt_hostport(host, port)}: "
                               f"{r.describe()}\n" + self.fleet.logs_tail())
        return r.sock


class Fleet(_Harness):
    """One mxegress-server with several tenants, and one mxegress-client per key.

    Where ``Pair`` has one tenant and one client, a Fleet has as many as a test
    needs, an optional SOCKS5 listener on the server, the abuse trail, and reloads::

        with Fleet({"acme": {"source": ["127.0.0.2"]},
                    "beta": {"source": ["127.0.0.3"], "max_connections": 1}},
                   ports=[mx.port]) as fleet:
            fleet.clients["acme"].open("127.0.0.1", mx.port)      # leaves from 127.0.0.2
            fleet.reload(tenants={**fleet.tenants, "beta": {..., "enabled": False}})

    Arguments:
      tenants      {name: {key: value}}: one [[tenant]] each, in order; the values are
                   written verbatim (source, ports, max_connections, tunnel_from, ...);
                   source is "any" unless given (None leaves the key out); "warmup"
                   is a list of {key: value}, each a [[tenant.warmup]] of the tenant.
                   Without "keys", a tenant's keys are the public keys of the clients
                   mapped to it (or one spare key of its own, the same on every
                   rewrite, if none is).
      clients      {client name: tenant name or None}; default one client per tenant,
                   named like it. None: a client whose key is in no tenant (yet).
      socks5_users {name: {"password": ..., "tenant": ..., "from": [...]}} (or
                   "password_hash" verbatim): turns on the server's own [socks5]
                   listener at ``server_socks_addr``, hashed with the server's
                   hash-password.
      trail        True (default): [trail] file = "trail.jsonl" (``trail_path``);
                   False: no [trail]. trail_stdout: also ``stdout = true``.
      ports, allow, deny, connect_timeout, handshake_timeout, idle_timeout,
      drain_timeout, log_level, server_settings, policy_settings, server_extra,
      client_settings, client_extra, start, ready_timeout, stop_timeout: as for Pair.
      client_retry_interval  the clients' [client] retry_interval (default "500ms",
                   so a client whose key was refused tries again soon after a reload)

    Attributes: dir, pin, tunnel_addr, server_socks_addr (or None), server_config,
    trail_path, tenants / socks5_users (the specs last written), clients
    ({name: FleetClient}), server (Proc).

    Reloads: ``write_server_config(tenants=..., socks5_users=..., ...)`` rewrites
    server.toml from specs, ``write_raw_server_config(text)`` writes anything,
    ``reload(...)`` does either, sends SIGHUP and waits for the server to log that
    the reload was applied (or refused, with ``expect="refused"``).

    Closing stops the clients, then the server, with the same checks as Pair
    (died on its own, did not stop, sanitizer report)."""

    def __init__(self, tenants: Mapping[str, Mapping], *,
                 clients: Mapping[str, str | None] | None = None,
                 socks5_users: Mapping[str, Mapping] | None = None,
                 trail: bool = True, trail_stdout: bool = False,
                 ports: Iterable[int] = (25,), allow: Iterable[str] = LOOPBACK_ALLOW,
                 deny: Iterable[str] = (), connect_timeout: str = "2s",
                 handshake_timeout: str = "2s", idle_timeout: str = "60s",
                 drain_timeout: str = "1s", log_level: str = "debug",
                 server_settings: Mapping | None = None, policy_settings: Mapping | None = None,
                 server_extra: str = "", client_settings: Mapping | None = None,
                 client_extra: str = "", client_retry_interval: str = "500ms",
                 start: bool = True, ready_timeout: float = 30.0, stop_timeout: float = 10.0):
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.server: Proc | None = None
        self.clients: dict[str, FleetClient] = {}
        self._closed = False
        self._spare = 0
        self._tenant_spares: dict[str, str] = {}
        self.dir = tempfile.mkdtemp(prefix="mxtest-fleet-")
        os.chmod(self.dir, 0o755)
        try:
            self.pin = server_init(self.dir)
            self.tunnel_addr = ("127.0.0.1", listen_port())
            self.server_socks_addr = None
            if socks5_users:
                self.server_socks_addr = ("127.0.0.1", listen_port())
            self.server_config = self.path("server.toml")
            self.trail_path = self.path("trail.jsonl")
            self._server_table = {"listen": [fmt_hostport(*self.tunnel_addr)],
                                  "cert": "server.crt", "key": "server.key",
                                  "connect_timeout": connect_timeout,
                                  "handshake_timeout": handshake_timeout,
                                  "idle_timeout": idle_timeout, "drain_timeout": drain_timeout,
                                  "log_level": log_level, **server_thread_settings(),
                                  **(server_settings or {})}
            self.policy = {"ports": list(ports), "allow": list(allow), "deny": list(deny),
                           **(policy_settings or {})}
            self.trail = trail
            self.trail_stdout = trail_stdout
            self.server_extra = server_extra
            mapping = dict(clients) if clients is not None else {t: t for t in tenants}
            for name, tenant in mapping.items():
                self.clients[name] = FleetClient(self, name, tenant)
            client_table = {"handshake_timeout": handshake_timeout,
                            "idle_timeout": idle_timeout, "log_level": log_level,
                            "retry_interval": client_retry_interval,
                            "drain_timeout": drain_timeout,
                            **(client_settings or {})}
            for c in self.clients.values():
                c.write_config(client_table, client_extra)
            self.write_server_config(tenants=tenants, socks5_users=socks5_users or {})
            if start:
                self.start()
        except BaseException:
            self._cleanup_after_error()
            raise

    # configuration -------------------------------------------------------
    def path(self, name: str) -> str:
        """Path of NAME inside the fleet's temp dir."""
        return os.path.join(self.dir, name)

    def spare_key(self) -> str:
        """A fresh public key that belongs to no client (for a tenant that needs a key)."""
        self._spare += 1
        return keygen(self.path(f"spare-{self._spare}.key"))

    def keys_of(self, tenant: str) -> list[str]:
        """Public keys of the clients mapped to TENANT at start."""
        return [c.pubkey for c in self.clients.values() if c.tenant == tenant]

    def render_server_config(self, tenants: Mapping[str, Mapping],
                             socks5_users: Mapping[str, Mapping],
                             policy: Mapping | None = None, extra: str | None = None) -> str:
        """The server.toml text for these specs (see the class docstring)."""
        out = [_toml_table("server", self._server_table),
               _toml_table("policy", self.policy if policy is None else policy)]
        for name, settings in tenants.items():
            # A tenant needs `source`; "any" (the kernel picks) unless the spec names
            # addresses, or says None to leave the key out.
            table = {"name": name, "source": "any", **settings}
            if "keys" not in table:
                if not self.keys_of(name) and name not in self._tenant_spares:
                    self._tenant_spares[name] = self.spare_key()
                table["keys"] = self.keys_of(name) or [self._tenant_spares[name]]
            # "warmup": a list of tables, each a [[tenant.warmup]] of this tenant
            warmups = table.pop("warmup", None) or []
            out.append(_toml_table("tenant", table, True))
            out.extend(_toml_table("tenant.warmup", w, True) for w in warmups)
        if self.trail:
            out.append(_toml_table("trail", {"file": os.path.basename(self.trail_path),
                                             "stdout": self.trail_stdout}))
        if socks5_users:
            if self.server_socks_addr is None:
                raise HarnessError("socks5_users given on reload but the Fleet was started "
                                   "without any: the server has no SOCKS5 listener")
            out.append(_toml_table("socks5", {"listen": [fmt_hostport(*self.server_socks_addr)]}))
            for name, u in socks5_users.items():
                h = u.get("password_hash") or hash_password(u["password"], "server")
                out.append(_toml_table("socks5.user", {"name": name, "password_hash": h,
                                                       "tenant": u["tenant"],
                                                       "from": list(u["from"])}, True))
        extra = self.server_extra if extra is None else extra
        if extra:
            out.append(extra)
        return "\n".join(out)

    def write_server_config(self, *, tenants: Mapping[str, Mapping] | None = None,
                            socks5_users: Mapping[str, Mapping] | None = None,
                            policy: Mapping | None = None, extra: str | None = None) -> str:
        """Rewrite server.toml from specs; what is not given stays as last written.
        Returns the text."""
        if tenants is not None:
            self.tenants = {k: dict(v) for k, v in tenants.items()}
        if socks5_users is not None:
            self.socks5_users = {k: dict(v) for k, v in socks5_users.items()}
        if policy is not None:
            self.policy = dict(policy)
        text = self.render_server_config(self.tenants, self.socks5_users, extra=extra)
        self.write_raw_server_config(text)
        return text

    def write_raw_server_config(self, text: str) -> None:
        """Write TEXT as server.toml (for broken configurations); specs are untouched."""
        with open(self.server_config, "w") as f:
            f.write(text)
        self.server_toml = text

    def reload(self, *, raw: str | None = None, expect: str = "ok", timeout: float = 15.0,
               **specs) -> str:
        """Write a new server.toml (RAW text, or from SPECS as for write_server_config;
        neither: the file as it is), send SIGHUP and wait until the server logs
        ``reloaded: N tenants`` (EXPECT="ok") or ``reload refused`` (EXPECT="refused").
        Returns the server log written since the signal. HarnessError if the other
        outcome is logged instead or nothing within TIMEOUT."""
        assert expect in ("ok", "refused")
        if raw is not None:
            self.write_raw_server_config(raw)
        elif specs:
            self.write_server_config(**specs)
        mark = self.server.mark()
        self.server.popen.send_signal(signal.SIGHUP)
        m = self.server.wait_for(f"({RELOAD_OK_RE})|({RELOAD_REFUSED_RE})", timeout, since=mark)
        got = "ok" if m.group(1) else "refused"
        text = self.server.since(mark)
        if got != expect:
            raise HarnessError(f"reload: expected {expect}, the server says {m.group(0)!r}\n"
                               f"--- server log since SIGHUP ---\n{text}")
        return text

    # processes -------------------------------------------------------------
    def start(self) -> "Fleet":
        """Start the server (wait for its listeners), then every client at once (wait
        for each one's SOCKS5 listener)."""
        self.server = Proc("mxegress-server", [server_bin(), "-c", self.server_config],
                           self.path("server.log"), self.dir)
        self.server.wait_for(r"listening on " + re.escape(fmt_hostport(*self.tunnel_addr)),
                             self.ready_timeout)
        if self.server_socks_addr:
            self.server.wait_for(r"listening on " + re.escape(fmt_hostport(
                *self.server_socks_addr)), self.ready_timeout)
        for c in self.clients.values():
            c.start()
        for c in self.clients.values():
            c.wait_ready(self.ready_timeout)
        return self

    def procs(self) -> list[Proc]:
        return [p for p in [self.server] + [c.proc for c in self.clients.values()] if p]

    def _stop_order(self) -> list[Proc | None]:
        return [c.proc for c in self.clients.values()] + [self.server]

    def server_socks(self, host: str, port: int, user: str, password: str,
                     **kw) -> "SocksResult":
        """SOCKS5 CONNECT through the server's own listener, as USER."""
        return socks5_connect(self.server_socks_addr, host, port, username=user,
                              password=password, **kw)

    # trail -------------------------------------------------------------------
    def trail_records(self) -> list[dict]:
        """Every JSON line of the trail file so far, parsed (a bad line raises)."""
        try:
            with open(self.trail_path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(l) for l in lines if l.strip()]

    def trail_mark(self) -> int:
        """Number of trail lines so far; pass it to ``wait_trail``."""
        return len(self.trail_records())

    def wait_trail(self, since: int, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """Wait until at least COUNT lines were added after SINCE (a trail_mark());
        returns the new records."""
        deadline = time.monotonic() + timeout
        while True:
            new = self.trail_records()[since:]
            if len(new) >= count:
                return new
            if time.monotonic() > deadline:
                raise HarnessError(f"trail: {len(new)} new line(s) within {timeout}s, "
                                   f"expected {count}\n" + self.logs_tail(30))
            time.sleep(0.02)

    def wait_trail_match(self, since: int = 0, timeout: float = 10.0, pred=None,
                         **fields) -> dict:
        """Wait for the first trail record after SINCE whose FIELDS have these values
        (``target="localhost:25", via="socks5"``) and for which PRED(record) is true;
        returns it. Lines of other, late-ending connections are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            for rec in self.trail_records()[since:]:
                if all(rec.get(k) == v for k, v in fields.items()) and (pred is None
                                                                         or pred(rec)):
                    return rec
            if time.monotonic() > deadline:
                raise HarnessError(f"trail: no line with {fields} within {timeout}s; new "
                                   f"lines: {self.trail_records()[since:]}")
            time.sleep(0.02)


def close_at_cleanup(testcase, closable) -> None:
    """Register on TESTCASE (a unittest.TestCase) a cleanup that closes CLOSABLE (a
    Pair or Fleet started inside the test): as a failure of its own if the test
    passed, or quietly printing the logs' tails and keeping the temp dir if the test
    already failed (``close(in_error=True)``)."""

    testcase.addCleanup(lambda: closable.close(in_error=test_failed_so_far(testcase)))


def test_failed_so_far(testcase) -> bool:
    """True if TESTCASE (a running unittest.TestCase) has already recorded an error or
    failure. Works inside cleanups: there ``_outcome.success`` reads True again,
    because unittest runs each cleanup in a fresh testPartExecutor, so the result's
    error and failure lists are consulted instead."""
    outcome = getattr(testcase, "_outcome", None)
    result = getattr(outcome, "result", None)
    if result is None:
        return False
    return any(t is testcase for t, _ in list(result.errors) + list(result.failures))


def close_all(closables) -> None:
    """close() each of CLOSABLES, in order."""
    for c in closables:
        c.close()


class SharedHarnessTest(unittest.TestCase):
    """Base for a TestCase whose tests share loopback peers and one harness (a Pair or
    Fleet), both made in setUpClass and closed in tearDownClass.

    setUpClass makes the peers, lists them in ``cls.peers``, then makes the harness
    with ``cls.fleet = cls.start_harness(lambda: Fleet(...))`` (which closes the peers
    if that raises). tearDownClass closes the harness, then the peers; setUp checks
    the harness (HarnessError if a program died or a sanitizer reported)."""

    peers: Sequence = ()
    harness = None

    @classmethod
    def start_harness(cls, make):
        try:
            cls.harness = make()
        except BaseException:
            close_all(cls.peers)
            raise
        return cls.harness

    @classmethod
    def tearDownClass(cls):
        try:
            cls.harness.close()
        finally:
            close_all(cls.peers)

    def setUp(self):
        self.harness.check()


class ScratchDirTest(unittest.TestCase):
    """Base for a TestCase with a class-wide scratch dir ``cls.tmp`` (mode 755) that is
    removed at class clean-up, but kept (and named on stdout) when the set-up or any
    test failed, or MX_KEEP_TMP is set.

    setUpClass calls ``cls.make_tmp(prefix, label)`` first and sets ``cls.failed =
    False`` once the set-up is complete."""

    failed = True
    tmp_label = "?"

    @classmethod
    def make_tmp(cls, prefix: str, label: str) -> str:
        cls.failed = True  # until set-up completes: keep what a failed start left
        cls.tmp = tempfile.mkdtemp(prefix=prefix)
        os.chmod(cls.tmp, 0o755)
        cls.tmp_label = label
        cls.addClassCleanup(cls._remove_tmp)
        return cls.tmp

    @classmethod
    def _remove_tmp(cls):
        if cls.failed or os.environ.get("MX_KEEP_TMP"):
            print(f"\n[{cls.tmp_label}] kept {cls.tmp}")
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def run(self, result=None):
        result = super().run(result)
        if result is not None and not result.wasSuccessful():
            type(self).failed = True
        return result


# --------------------------------------------------------------------------
# Socket helpers
# --------------------------------------------------------------------------

def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Read exactly N bytes; raises EOFError if the peer closes first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_until_eof(sock: socket.socket, limit: int = 1 << 30) -> bytes:
    """Read until EOF (or LIMIT bytes); uses the socket's own timeout."""
    buf = bytearray()
    while len(buf) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def wait_closed(sock: socket.socket, timeout: float) -> tuple[str, bytes, float]:
    """Wait up to TIMEOUT for the peer to close SOCK, collecting whatever it sends.

    Returns (how, data, elapsed) with how in "eof" (FIN, or a TLS alert / close on
    an SSLSocket), "reset" (RST) or "timeout". Restores the socket's timeout."""
    start = time.monotonic()
    deadline = start + timeout
    data = bytearray()
    prev = sock.gettimeout()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", bytes(data), time.monotonic() - start
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            except ssl.SSLWantReadError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return "reset", bytes(data), time.monotonic() - start
            except ssl.SSLError:
                return "eof", bytes(data), time.monotonic() - start
            if not chunk:
                return "eof", bytes(data), time.monotonic() - start
            data += chunk
    finally:
        try:
            sock.settimeout(prev)
        except OSError:
            pass


def wait_all_closed(socks: Sequence[socket.socket], timeout: float,
                    start: float | None = None) -> list[tuple[str, float]]:
    """Wait up to TIMEOUT for the peer to close every socket of SOCKS at once (select,
    not one after the other), discarding what they send.

    Returns one (how, elapsed) per socket, in order: how is "eof" (FIN), "reset" (RST,
    or another error on recv) or "timeout"; elapsed counts from START (a
    ``time.monotonic()``, default now) to when the close was seen (TIMEOUT for
    "timeout"). The sockets are left open (the caller closes them); their blocking
    mode is restored."""
    start = time.monotonic() if start is None else start
    deadline = time.monotonic() + timeout
    result: list = [None] * len(socks)
    saved = [s.gettimeout() for s in socks]
    for s in socks:
        s.setblocking(False)
    try:
        while True:
            pending = [i for i, r in enumerate(result) if r is None]
            if not pending:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                for i in pending:
                    result[i] = ("timeout", time.monotonic() - start)
                return result
            readable, _, _ = select.select([socks[i] for i in pending], [], [], min(left, 0.2))
            for s in readable:
                i = next(i for i in pending if socks[i] is s)
                try:
                    while True:
                        chunk = s.recv(1 << 16)
                        if not chunk:
                            result[i] = ("eof", time.monotonic() - start)
                            break
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    result[i] = ("reset", time.monotonic() - start)
    finally:
        for s, t in zip(socks, saved):
            try:
                s.settimeout(t)
            except OSError:
                pass


class Streamer:
    """A busy session: a thread that keeps writing CHUNK-sized pieces to SOCK and reads
    (and drops) whatever comes back, without ever blocking on either, until the peer
    closes the socket (EOF or an error) or ``stop()``.

    Attributes: ``sent`` / ``received`` (bytes so far), ``how`` ("eof", "reset" or
    None while it runs or after stop()), ``ended_at`` (``time.monotonic()`` of the
    close, or None), ``error`` (the exception text for "reset"). ``wait(timeout)``
    waits for the close and returns whether it came."""

    def __init__(self, sock: socket.socket, chunk: int = 16384, send: bool = True,
                 pause: float = 0.0):
        self.sock = sock
        self.chunk = pattern_bytes(chunk, 5)
        self.send_data = send
        self.pause = pause
        self.sent = 0
        self.received = 0
        self.how: str | None = None
        self.error = ""
        self.ended_at: float | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        sock.setblocking(False)
        self._thread = threading.Thread(target=self._run, daemon=True, name="Streamer")
        self._thread.start()

    def _run(self) -> None:
        s = self.sock
        try:
            while not self._stop.is_set():
                want_w = [s] if self.send_data else []
                r, w, _ = select.select([s], want_w, [], 0.05)
                if r:
                    try:
                        data = s.recv(1 << 16)
                    except (BlockingIOError, InterruptedError):
                        data = None
                    if data == b"":
                        self._end("eof")
                        return
                    if data:
                        self.received += len(data)
                if w:
                    try:
                        self.sent += s.send(self.chunk)
                    except (BlockingIOError, InterruptedError):
                        pass
                    if self.pause:
                        time.sleep(self.pause)
        except OSError as e:
            self.error = f"{type(e).__name__}: {e}"
            self._end("reset")
        finally:
            self._done.set()

    def _end(self, how: str) -> None:
        self.how = how
        self.ended_at = time.monotonic()

    def wait(self, timeout: float) -> bool:
        """Wait until the peer closed the socket (True) or TIMEOUT passed (False)."""
        return self._done.wait(timeout) and self.how is not None

    def stop(self) -> None:
        """End the thread (the socket stays open; the caller closes it)."""
        self._stop.set()
        self._thread.join(5)


def open_fds(pid: int) -> list[str]:
    """What each open file descriptor of process PID points at (``/proc/PID/fd``:
    ``socket:[123]``, ``anon_inode:[eventpoll]``, a path...), sorted."""
    out = []
    base = f"/proc/{pid}/fd"
    for name in os.listdir(base):
        try:
            out.append(os.readlink(os.path.join(base, name)))
        except OSError:
            pass  # closed between listdir and readlink
    return sorted(out)


def fd_summary(fds: Sequence[str]) -> dict:
    """Counts by kind for ``open_fds()`` output: ``{"socket": 7, "anon_inode:[eventfd]": 3,
    "/path": 1, ...}`` (sockets are counted together, not by inode)."""
    counts: dict = {}
    for f in fds:
        kind = "socket" if f.startswith("socket:") else f
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def rss_kib(pid: int) -> int:
    """Resident set size of process PID in KiB (``VmRSS`` of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise HarnessError(f"no VmRSS in /proc/{pid}/status")


def pattern_bytes(n: int, seed: int = 1) -> bytes:
    """N deterministic pseudo-random bytes (different for each seed)."""
    return random.Random(seed).randbytes(n)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------
# SOCKS5 client
# --------------------------------------------------------------------------

class SocksProtocolError(Exception):
    """The SOCKS5 server answered with bytes that are not valid SOCKS5."""


def encode_address(host: str | bytes, atyp: int | None = None) -> bytes:
    """ATYP + address bytes for HOST (IPv4 / IPv6 literal / domain name; bytes:
    a domain name sent as it is, UTF-8 or not).

    ATYP forces the type byte (e.g. a bad one for negative tests); with a forced
    unknown type the address is sent as 4 raw IPv4 bytes if HOST parses as one."""
    ip = None
    if isinstance(host, str):
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            pass
    if ip is not None and atyp != ATYP_DOMAIN:
        kind = ATYP_IPV4 if ip.version == 4 else ATYP_IPV6
        return bytes([kind if atyp is None else atyp]) + ip.packed
    raw = host if isinstance(host, bytes) else host.encode("utf-8")
    if len(raw) > 255:
        raise ValueError("domain longer than 255 bytes cannot be encoded")
    return bytes([ATYP_DOMAIN if atyp is None else atyp, len(raw)]) + raw


def socks5_greeting(sock: socket.socket, methods: Sequence[int]) -> int | None:
    """Send the method greeting; return the chosen method (0xFF = none acceptable),
    or None if the server closed without answering."""
    sock.sendall(bytes([5, len(methods), *methods]))
    try:
        resp = recv_exact(sock, 2)
    except (EOFError, ConnectionResetError):
        return None
    if resp[0] != 5:
        raise SocksProtocolError(f"greeting reply version {resp[0]:#x}: {resp!r}")
    return resp[1]


def socks5_userpass(sock: socket.socket, username: str, password: str) -> int | None:
    """RFC 1929 sub-negotiation; returns STATUS (0 = success) or None on close."""
    u, p = username.encode(), password.encode()
    sock.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
    try:
        resp = recv_exact(sock, 2)
    except (EOFError, ConnectionResetError):
        return None
    if resp[0] != 1:
        raise SocksProtocolError(f"RFC 1929 reply version {resp[0]:#x}: {resp!r}")
    return resp[1]


def socks5_request(sock: socket.socket, cmd: int, host: str, port: int,
                   atyp: int | None = None) -> None:
    """Send a request (VER CMD RSV ATYP ADDR PORT)."""
    sock.sendall(bytes([5, cmd, 0]) + encode_address(host, atyp) + struct.pack("!H", port))


def read_reply(sock: socket.socket) -> tuple[int | None, tuple[str, int] | None]:
    """Read a request reply; returns (REP, (bnd_host, bnd_port)) or (None, None) if the
    server closed first. A reply whose BND part is cut short returns (REP, None)."""
    try:
        head = recv_exact(sock, 4)
    except (EOFError, ConnectionResetError):
        return None, None
    if head[0] != 5:
        raise SocksProtocolError(f"reply version {head[0]:#x}: {head!r}")
    rep, atyp = head[1], head[3]
    try:
        if atyp == ATYP_IPV4:
            host = str(ipaddress.IPv4Address(recv_exact(sock, 4)))
        elif atyp == ATYP_IPV6:
            host = str(ipaddress.IPv6Address(recv_exact(sock, 16)))
        elif atyp == ATYP_DOMAIN:
            host = recv_exact(sock, recv_exact(sock, 1)[0]).decode("ascii", "replace")
        else:
            raise SocksProtocolError(f"reply ATYP {atyp:#x}")
        port = struct.unpack("!H", recv_exact(sock, 2))[0]
    except (EOFError, ConnectionResetError):
        return rep, None
    return rep, (host, port)


@dataclass
class SocksResult:
    """Outcome of socks5_connect.

    method       method the server chose (None: closed before choosing; 0xFF: none)
    auth_status  RFC 1929 status (None if not used or closed before answering)
    reply        REP of the request reply (None if no reply was received)
    bound        (BND.ADDR, BND.PORT) of the reply, or None
    sock         the socket, left open (the relay stream after a 0x00 reply)
    elapsed      seconds from connect() to the end of the exchange
    """
    method: int | None = None
    auth_status: int | None = None
    reply: int | None = None
    bound: tuple | None = None
    sock: socket.socket | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.reply == REP_OK

    def describe(self) -> str:
        return (f"method={self.method} auth_status={self.auth_status} reply={self.reply} "
                f"({REPLY_NAMES.get(self.reply, '?')}) bound={self.bound} "
                f"after {self.elapsed:.2f}s")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()

    def __enter__(self) -> "SocksResult":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def socks5_connect(proxy: tuple[str, int], host: str, port: int, *,
                   username: str | None = None, password: str | None = None,
                   methods: Sequence[int] | None = None, cmd: int = CMD_CONNECT,
                   atyp: int | None = None, timeout: float = 15.0) -> SocksResult:
    """Open a TCP connection to PROXY and run a SOCKS5 exchange for HOST:PORT.

    HOST may be an IPv4 literal, an IPv6 literal (with or without brackets) or a
    domain name; ATYP forces the address type byte. Methods offered default to
    [0x02] with a username, else [0x00]. Returns a SocksResult; protocol outcomes
    (method 0xFF, auth failure, error reply, close) are in it, not raised. The
    socket is returned open (the caller closes it; SocksResult is a context
    manager). After a failure step the remaining steps are skipped.
    """
    start = time.monotonic()
    sock = socket.create_connection(proxy, timeout=timeout)
    sock.settimeout(timeout)
    res = SocksResult(sock=sock)
    try:
        if methods is None:
            methods = [METHOD_USERPASS] if username is not None else [METHOD_NO_AUTH]
        res.method = socks5_greeting(sock, methods)
        if res.method is None or res.method == METHOD_NONE_ACCEPTABLE:
            return res
        if res.method == METHOD_USERPASS:
            res.auth_status = socks5_userpass(sock, username or "", password or "")
            if res.auth_status != 0:
                return res
        elif res.method != METHOD_NO_AUTH:
            raise SocksProtocolError(f"server chose method {res.method:#x}")
        socks5_request(sock, cmd, host, port, atyp)
        res.reply, res.bound = read_reply(sock)
        return res
    except BaseException:
        sock.close()
        raise
    finally:
        res.elapsed = time.monotonic() - start


# --------------------------------------------------------------------------
# Loopback peers
# --------------------------------------------------------------------------

@dataclass
class PeerRecord:
    """What a loopback peer saw on one accepted connection.

    received / received_sha256: bytes read (kept only when the server keeps data,
    the digest always); eof: read side ended by a FIN; error: exception text;
    sent / sent_sha256: what it wrote; peer: remote (host, port); ended_at: the
    ``time.monotonic()`` at which the handler returned (the connection ended)."""
    peer: tuple = ()
    received: bytes = b""
    received_len: int = 0
    received_sha256: str = ""
    eof: bool = False
    sent_len: int = 0
    sent_sha256: str = ""
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    extra: dict = field(default_factory=dict)   # peer-specific (SmtpServer: the envelope)
    ended_at: float = 0.0   # time.monotonic() when the handler returned (0: still running)


class LoopbackServer:
    """Base class: a TCP listener on HOST:PORT (PORT 0 = any) with a thread per
    connection calling ``self.handle(conn, record)``.

    Attributes: host, port, address, records (list of PeerRecord in accept order),
    finished (queue.Queue of PeerRecord, put when a handler returns).
    ``accepted(n, timeout)`` waits until N connections were accepted. Use as a
    context manager or call close()."""

    keep_data = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0, backlog: int = 1024,
                 timeout: float = 60.0):
        self.host = host
        self.timeout = timeout
        self.listener = socket.socket(_family(host), socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(backlog)
        self.port = self.listener.getsockname()[1]
        self.address = (host, self.port)
        self.records: list[PeerRecord] = []
        self.finished: queue.Queue = queue.Queue()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._closing = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"{type(self).__name__}:{self.port}")
        self._thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, peer = self.listener.accept()
            except OSError:
                return
            conn.settimeout(self.timeout)
            rec = PeerRecord(peer=peer)
            with self._cond:
                if self._closing:
                    conn.close()
                    return
                self._conns.append(conn)
                self.records.append(rec)
                self._cond.notify_all()
            threading.Thread(target=self._run_handler, args=(conn, rec), daemon=True).start()

    def _run_handler(self, conn: socket.socket, rec: PeerRecord) -> None:
        try:
            self.handle(conn, rec)
        except Exception as e:  # recorded, the test decides
            rec.error = f"{type(e).__name__}: {e}"
        finally:
            rec.ended_at = time.monotonic()
            try:
                conn.close()
            except OSError:
                pass
            rec.done.set()
            self.finished.put(rec)

    def handle(self, conn: socket.socket, rec: PeerRecord) -> None:
        raise NotImplementedError

    # helpers for handlers
    def _read_to_eof(self, conn: socket.socket, rec: PeerRecord) -> None:
        h = hashlib.sha256()
        buf = bytearray() if self.keep_data else None
        mv = memoryview(bytearray(1 << 18))
        while True:
            n = conn.recv_into(mv)
            if n == 0:
                rec.eof = True
                break
            h.update(mv[:n])
            rec.received_len += n
            if buf is not None:
                buf += mv[:n]
        rec.received_sha256 = h.hexdigest()
        if buf is not None:
            rec.received = bytes(buf)

    @staticmethod
    def _send(conn: socket.socket, rec: PeerRecord, data: bytes) -> None:
        conn.sendall(data)
        rec.sent_len += len(data)

    def accepted(self, n: int = 1, timeout: float = 10.0) -> bool:
        """Wait until at least N connections were accepted; returns whether they were."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.records) >= n, timeout)

    def wait_finished(self, timeout: float = 30.0) -> PeerRecord:
        """Next PeerRecord whose handler returned (raises queue.Empty on timeout)."""
        return self.finished.get(timeout=timeout)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            conns = list(self._conns)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
        self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EchoServer(LoopbackServer):
    """Echoes every byte; after the client's EOF it shuts its write side and closes."""

    keep_data = False

    def handle(self, conn, rec):
        h = hashlib.sha256()
        while True:
            data = conn.recv(65536)
            if not data:
                rec.eof = True
                break
            h.update(data)
            rec.received_len += len(data)
            self._send(conn, rec, data)
        rec.received_sha256 = h.hexdigest()
        conn.shutdown(socket.SHUT_WR)


class SinkServer(LoopbackServer):
    """Reads to EOF, recording length and SHA-256 (data kept if keep_data=True)."""

    def __init__(self, *args, keep_data: bool = False, **kw):
        self.keep_data = keep_data
        super().__init__(*args, **kw)

    def handle(self, conn, rec):
        self._read_to_eof(conn, rec)


class SourceServer(LoopbackServer):
    """On each connection sends NBYTES of pattern_bytes(nbytes, seed) and then shuts its
    write side, while reading (and hashing) whatever arrives until EOF, at the same
    time. ``payload`` / ``payload_sha256`` are what it sends."""

    keep_data = False

    def __init__(self, nbytes: int, *args, seed: int = 7, **kw):
        self.payload = pattern_bytes(nbytes, seed)
        self.payload_sha256 = sha256(self.payload)
        super().__init__(*args, **kw)

    def handle(self, conn, rec):
        err = []

        def sender():
            try:
                mv = memoryview(self.payload)
                for off in range(0, len(mv), 1 << 20):
                    self._send(conn, rec, mv[off:off + (1 << 20)])
                rec.sent_sha256 = self.payload_sha256
                conn.shutdown(socket.SHUT_WR)
            except Exception as e:
                err.append(f"send: {type(e).__name__}: {e}")

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        self._read_to_eof(conn, rec)
        t.join(self.timeout)
        if err:
            rec.error = err[0]


class HalfClosePeer(LoopbackServer):
    """A peer for half-close tests, in one of two modes.

    mode="reply_after_eof": reads until the client's EOF (rec.eof), then sends
        ``reply_prefix + sha256(received)`` and closes. The client can shut its
        write side and still read the answer.
    mode="shut_first": sends ``greeting`` and shuts its write side at once, then
        reads until the client's EOF (rec.eof) and closes. The client sees EOF and
        can still send.
    """

    def __init__(self, mode: str, *args, greeting: bytes = b"far end closes its write side\n",
                 reply_prefix: bytes = b"got:", **kw):
        assert mode in ("reply_after_eof", "shut_first")
        self.mode = mode
        self.greeting = greeting
        self.reply_prefix = reply_prefix
        super().__init__(*args, **kw)

    def handle(self, conn, rec):
        if self.mode == "reply_after_eof":
            self._read_to_eof(conn, rec)
            reply = self.reply_prefix + rec.received_sha256.encode()
            self._send(conn, rec, reply)
            rec.sent_sha256 = sha256(reply)
            conn.shutdown(socket.SHUT_WR)
        else:
            self._send(conn, rec, self.greeting)
            rec.sent_sha256 = sha256(self.greeting)
            conn.shutdown(socket.SHUT_WR)
            self._read_to_eof(conn, rec)


class WhoAmIServer(EchoServer):
    """A test MX that says who it sees: on each connection it first sends
    ``peer=IP:PORT\n`` (the address it accepted from, IPv6 in brackets), then echoes
    every byte until EOF. Read that line with ``read_whoami(sock)``; the same address
    is in ``records[i].peer``."""

    def handle(self, conn, rec):
        self._send(conn, rec, f"peer={fmt_hostport(rec.peer[0], rec.peer[1])}\n".encode())
        super().handle(conn, rec)


def echo_session(via, echo, payload: bytes, timeout: float = 15.0, addr=None):
    """One SOCKS5 session through VIA's [socks5] listener (a Pair, a FleetClient, a
    netns ClientNode: anything with ``socks_addr``), or the one at ADDR, to the
    EchoServer ECHO: CONNECT, send PAYLOAD, read it back, half-close, read EOF.
    Returns (the SocksResult, its socket closed; the SOCKS5 socket's local port)."""
    r = socks5_connect(addr or via.socks_addr, "127.0.0.1", echo.port, timeout=timeout)
    port = r.sock.getsockname()[1] if r.sock else 0
    try:
        if r.reply == REP_OK:
            r.sock.sendall(payload)
            got = recv_exact(r.sock, len(payload))
            if got != payload:
                raise AssertionError(f"echo returned {got!r}, sent {payload!r}")
            r.sock.shutdown(socket.SHUT_WR)
            rest = recv_until_eof(r.sock)
            if rest:
                raise AssertionError(f"unexpected bytes after the echo: {rest!r}")
    finally:
        r.close()
    return r, port


def read_whoami(sock: socket.socket) -> tuple[str, int]:
    """Read the ``peer=IP:PORT`` line of a WhoAmIServer; returns (ip, port)."""
    line = bytearray()
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            raise EOFError(f"EOF in the peer= line after {bytes(line)!r}")
        line += b
    text = line.decode().strip()
    m = re.fullmatch(r"peer=\[?([0-9A-Fa-f.:]+?)\]?:(\d+)", text)
    if not m:
        raise SocksProtocolError(f"not a peer= line: {text!r}")
    return m.group(1), int(m.group(2))


class SmtpServer(LoopbackServer):
    """A minimal SMTP receiver (enough for curl's smtp://): 220 greeting naming the
    peer it sees, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT. Per connection
    ``rec.extra`` gets ``helo``, ``mail_from``, ``rcpt_to`` (list), ``data`` (bytes,
    dot-unstuffed) and ``quit`` (True after QUIT); ``rec.peer`` is who connected."""

    keep_data = False

    def handle(self, conn, rec):
        f = conn.makefile("rb")
        ex = rec.extra
        ex.update(helo=None, mail_from=None, rcpt_to=[], data=None, quit=False)

        def say(line: str) -> None:
            self._send(conn, rec, line.encode() + b"\r\n")

        say(f"220 mx.test ESMTP peer={fmt_hostport(rec.peer[0], rec.peer[1])}")
        while True:
            raw = f.readline(4096)
            if not raw:
                rec.eof = True
                return
            rec.received_len += len(raw)
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                ex["helo"] = line[5:].strip()
                say("250 mx.test" if verb == "HELO" else "250-mx.test\r\n250 8BITMIME")
            elif verb == "MAIL":
                ex["mail_from"] = line.split(":", 1)[1].strip() if ":" in line else ""
                say("250 ok")
            elif verb == "RCPT":
                ex["rcpt_to"].append(line.split(":", 1)[1].strip() if ":" in line else "")
                say("250 ok")
            elif verb == "DATA":
                say("354 go ahead")
                body = bytearray()
                while True:
                    l = f.readline(1 << 20)
                    if not l:
                        return
                    rec.received_len += len(l)
                    if l in (b".\r\n", b".\n"):
                        break
                    body += l[1:] if l.startswith(b"..") else l
                ex["data"] = bytes(body)
                say("250 queued")
            elif verb in ("RSET", "NOOP"):
                say("250 ok")
            elif verb == "QUIT":
                ex["quit"] = True
                say("221 bye")
                return
            else:
                say("502 not implemented")


# --------------------------------------------------------------------------
# Targets that fail in a known way
# --------------------------------------------------------------------------

class RefusedPort:
    """A port on HOST where connect() gets ECONNREFUSED: a socket is bound to it (so
    nobody else takes it) but never listens. ``.port``; close() releases it."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self._sock = socket.socket(_family(host), socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self.port = self._sock.getsockname()[1]
        self.address = (host, self.port)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Blackhole:
    """A HOST:PORT whose SYNs are silently dropped, so connect() times out.

    Inside an isolated namespace (see ``isolated()``) it adds an nftables table
    dropping outgoing TCP to HOST:PORT (falling back to iptables/ip6tables); the
    rule is removed on close and disappears with the namespace anyway. Outside a
    namespace, or when neither tool works, it fills the accept queue of a
    listen(0) socket that never accepts (Linux then drops further SYNs).
    ``.method`` says which ("nft", "iptables", "backlog"). Check ``probe()``
    before relying on it."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None):
        self.host = host
        self._socks: list[socket.socket] = []
        self._undo: list[list[str]] = []
        self.method = None
        if isolated():
            self.port = port or free_port(host)
            if self._try_nft() or self._try_iptables():
                self.address = (host, self.port)
                return
        self._backlog(port)
        self.address = (host, self.port)

    def _try_nft(self) -> bool:
        if not shutil.which("nft"):
            return False
        table = f"mxtest_bh_{self.port}"
        ipkw = "ip6" if ":" in self.host else "ip"
        cmds = [["nft", "add", "table", "inet", table],
                ["nft", "add", "chain", "inet", table, "out",
                 "{ type filter hook output priority 0 ; }"],
                ["nft", "add", "rule", "inet", table, "out", ipkw, "daddr", self.host,
                 "tcp", "dport", str(self.port), "drop"]]
        for c in cmds:
            if subprocess.run(c, capture_output=True).returncode != 0:
                subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
                return False
        self._undo.append(["nft", "delete", "table", "inet", table])
        self.method = "nft"
        return True

    def _try_iptables(self) -> bool:
        tool = "ip6tables" if ":" in self.host else "iptables"
        if not shutil.which(tool):
            return False
        rule = ["OUTPUT", "-p", "tcp", "-d", self.host, "--dport", str(self.port), "-j", "DROP"]
        if subprocess.run([tool, "-A", *rule], capture_output=True).returncode != 0:
            return False
        self._undo.append([tool, "-D", *rule])
        self.method = "iptables"
        return True

    def _backlog(self, port: int | None) -> None:
        ls = socket.socket(_family(self.host), socket.SOCK_STREAM)
        ls.bind((self.host, port or 0))
        ls.listen(0)
        self.port = ls.getsockname()[1]
        self._socks.append(ls)
        # Fill the accept queue; keep trying until a connect no longer completes.
        for _ in range(8):
            c = socket.socket(_family(self.host), socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect((self.host, self.port))
            except BlockingIOError:
                pass
            self._socks.append(c)
            time.sleep(0.05)
            _, w, _ = select.select([], [c], [], 0.2)
            if not w:
                break
        self.method = "backlog"

    def probe(self, timeout: float = 1.0) -> bool:
        """True if a direct connect() to the target times out (the blackhole works)."""
        s = socket.socket(_family(self.host), socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.address)
            return False
        except (socket.timeout, TimeoutError):
            return True
        except OSError:
            return False
        finally:
            s.close()

    def close(self) -> None:
        for c in self._undo:
            subprocess.run(c, capture_output=True)
        self._undo.clear()
        for s in self._socks:
            s.close()
        self._socks.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
