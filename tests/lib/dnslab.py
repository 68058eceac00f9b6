"""dnslab: a real DNS server for tests, and an upstream that never answers.

Standard library only; run inside tests/run_isolated (the server listens on port 53
of a loopback address of the test's own network namespace).

    SilentDns   a UDP "DNS server" that reads every query and answers none: the dead
                servers of a zone. It records the names asked and when.
    Dnsmasq     dnsmasq (Debian's dnsmasq-base, the binary only) as the DNS server the
                program under test asks: A records for every name under the zones of
                ``answers`` (AAAA gets an empty answer), and the zones of ``forward``
                forwarded to other servers (a SilentDns). ``dns-forward-max`` is raised
                so that dnsmasq itself is not what limits the lookups in flight.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import subprocess
import threading
import time
from typing import Mapping

__all__ = ["SilentDns", "Dnsmasq", "query_name", "dns_query"]


def query_name(packet: bytes) -> tuple[str, int] | None:
    """(QNAME, QTYPE) of a DNS query packet, or None if it is not one."""
    at, labels = 12, []
    while at < len(packet) and packet[at] != 0:
        n = packet[at]
        if n & 0xC0 or at + 1 + n > len(packet):
            return None
        labels.append(packet[at + 1:at + 1 + n].decode("ascii", "replace"))
        at += 1 + n
    if at + 5 > len(packet):
        return None
    return ".".join(labels).lower(), struct.unpack("!H", packet[at + 1:at + 3])[0]


def dns_query(server: tuple[str, int], name: str, qtype: int = 1,
              timeout: float = 1.0) -> tuple[int, int] | None:
    """Ask SERVER for NAME (QTYPE, default A) over UDP: (RCODE, ANCOUNT), or None when
    no answer came within TIMEOUT."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", 0x4d58, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH",
                                                                                     qtype, 1)
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, server)
        try:
            data = s.recv(4096)
        except socket.timeout:
            return None
    return data[3] & 0x0F, struct.unpack("!H", data[6:8])[0]


class SilentDns:
    """Reads every query sent to (HOST, port) and answers none. ``names`` maps each
    name asked to (first time, last time, count) in time.monotonic()."""

    def __init__(self, host: str = "127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((host, 0))
        self.address = self.sock.getsockname()
        self.names: dict[str, list] = {}
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if not ready:
                continue
            try:
                packet = self.sock.recv(4096)
            except OSError:
                return
            q = query_name(packet)
            if q is None:
                continue
            now = time.monotonic()
            with self._lock:
                seen = self.names.setdefault(q[0], [now, now, 0])
                seen[1] = now
                seen[2] += 1

    def seen(self, prefix: str = "", suffix: str = "") -> dict[str, list]:
        """The names asked so far that start with PREFIX and end with SUFFIX."""
        with self._lock:
            return {n: list(v) for n, v in self.names.items()
                    if n.startswith(prefix) and n.endswith(suffix)}

    def wait_names(self, count: int, timeout: float, prefix: str = "",
                   suffix: str = "") -> dict[str, list]:
        """Wait until COUNT distinct names like that were asked; returns them (AssertionError
        with how many there were otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.seen(prefix, suffix)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"silent DNS server: {len(got)} names {prefix}*{suffix} "
                                     f"asked within {timeout}s, expected {count}")
            time.sleep(0.05)

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()

    def __enter__(self) -> "SilentDns":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Dnsmasq:
    """dnsmasq on LISTEN port 53: for each zone Z of ANSWERS, every name under Z has the
    A record ANSWERS[Z] (and no AAAA: an empty answer); for each zone of FORWARD, every
    query goes to the (ip, port) given. Nothing else is answered (no upstream, no
    /etc/hosts). Its log (no queries) is WORKDIR/dnsmasq.log."""

    def __init__(self, workdir: str, *, listen: str = "127.0.0.53",
                 answers: Mapping[str, str] = (), forward: Mapping[str, tuple] = (),
                 forward_max: int = 10000):
        self.listen = listen
        self.log_path = os.path.join(workdir, "dnsmasq.log")
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--no-poll", "--bind-interfaces", f"--listen-address={listen}",
                "--port=53", "--user=root", "--group=root", "--pid-file=",
                f"--log-facility={self.log_path}", f"--dns-forward-max={forward_max}"]
        for zone, ip in dict(answers).items():
            argv += [f"--address=/{zone}/{ip}", f"--local=/{zone}/"]
        for zone, (ip, port) in dict(forward).items():
            argv.append(f"--server=/{zone}/{ip}#{port}")
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        probe = next(iter(dict(answers)), None)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"dnsmasq exited {self.proc.returncode}: "
                                     f"{self.proc.stderr.read().decode(errors='replace')}")
            if probe is None or dns_query((listen, 53), f"probe.{probe}", timeout=0.2):
                break
            if time.monotonic() > deadline:
                self.close()
                raise AssertionError(f"dnsmasq does not answer on {listen}:53")

    @property
    def address(self) -> tuple[str, int]:
        return (self.listen, 53)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()

    def __enter__(self) -> "Dnsmasq":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
