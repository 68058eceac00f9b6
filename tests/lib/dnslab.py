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
                Optionally also exact records: ``hosts`` (A/AAAA with their PTR),
                ``addresses`` (A/AAAA without PTR), ``ptr``, ``txt`` and ``mx``, and
                ``local`` zones where any other name is NXDOMAIN.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Mapping, Sequence

__all__ = ["SilentDns", "Dnsmasq", "query_name", "dns_query", "udp_drop_counters"]


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


def udp_drop_counters() -> str:
    """The UDP counters of this network namespace that say whether datagrams were
    dropped (a full receive buffer, say), for failure messages."""
    try:
        with open("/proc/net/snmp") as f:
            rows = [line.split() for line in f if line.startswith("Udp:")]
    except OSError as e:
        return f"/proc/net/snmp: {e}"
    if len(rows) < 2:
        return "no Udp counters"
    counters = dict(zip(rows[0][1:], rows[1][1:]))
    return ", ".join(f"Udp {k} {counters[k]}" for k in ("InDatagrams", "InErrors", "RcvbufErrors")
                     if k in counters)


class SilentDns:
    """Reads every query sent to (HOST, port) and answers none. ``names`` maps each
    name asked to (first time, last time, count) in time.monotonic()."""

    # The reader is a process of its own: a thread of the test's process reads one
    # datagram per GIL turn (each recv gives the GIL away, and taking it back waits a
    # switch interval behind the threads that drive hundreds of sockets), so a burst
    # of 500 queries overflowed the socket buffer on a loaded CI machine (Udp
    # RcvbufErrors). It writes "TIME NAME" lines, TIME in CLOCK_MONOTONIC, which
    # time.monotonic() of this process reads too.
    _READER = (
        "import os, socket, sys, time\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from dnslab import query_name\n"
        "sock = socket.socket(fileno=int(sys.argv[1]))\n"
        "out = sys.stdout\n"
        "while True:\n"
        "    sock.setblocking(True)\n"
        "    batch = [sock.recv(4096)]\n"
        "    now = time.monotonic()\n"
        "    sock.setblocking(False)\n"
        "    while True:\n"
        "        try:\n"
        "            batch.append(sock.recv(4096))\n"
        "        except BlockingIOError:\n"
        "            break\n"
        "    for packet in batch:\n"
        "        q = query_name(packet)\n"
        "        if q is not None:\n"
        "            out.write(f'{now} {q[0]}\\n')\n"
        "    out.flush()\n")

    def __init__(self, host: str = "127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # A burst still fits while the reader waits for a CPU: SO_RCVBUF is capped by
        # net.core.rmem_max (about 200 KiB), SO_RCVBUFFORCE is not (where it is allowed).
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 4 << 20)
        except PermissionError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.sock.bind((host, 0))
        self.address = self.sock.getsockname()
        self.names: dict[str, list] = {}
        self._lock = threading.Lock()
        here = os.path.dirname(os.path.abspath(__file__))
        self._reader = subprocess.Popen(
            [sys.executable, "-c", self._READER, str(self.sock.fileno()), here],
            pass_fds=[self.sock.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            text=True)
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        for line in self._reader.stdout:
            at, _, name = line.rstrip("\n").partition(" ")
            when = float(at)
            with self._lock:
                seen = self.names.setdefault(name, [when, when, 0])
                seen[1] = when
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
                                     f"asked within {timeout}s, expected {count}; "
                                     f"{udp_drop_counters()}; receive buffer {self.rcvbuf} bytes")
            time.sleep(0.05)

    def close(self) -> None:
        self._reader.kill()
        self._reader.wait()
        self._thread.join(2)
        self._reader.stdout.close()
        self.sock.close()

    def __enter__(self) -> "SilentDns":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Dnsmasq:
    """dnsmasq on LISTEN port 53: for each zone Z of ANSWERS, every name under Z has the
    A record ANSWERS[Z] (and no AAAA: an empty answer); for each zone of FORWARD, every
    query goes to the (ip, port) given. Nothing else is answered (no upstream, no
    /etc/hosts). Its log is WORKDIR/dnsmasq.log.

    Exact records, each optional:
      HOSTS      name -> IPs: A/AAAA records, and the PTR of each IP back to the name
      ADDRESSES  name -> IP: an A or AAAA record without a PTR (dnsmasq's --address,
                 which also answers every name under it)
      PTR        IP -> name: a PTR record alone (no A record of the name)
      TXT        name -> texts: one TXT record per text (no double quote, no comma)
      MX         domain -> exchanges: host names (preference 10, 20, ... in that
                 order) or (preference, host) pairs
      LOCAL      zones (such as "2.0.192.in-addr.arpa") where every other name is
                 NXDOMAIN, instead of no answer at all
    LOG_QUERIES: the log also has every query ("query[MX] example.org from ...")."""

    def __init__(self, workdir: str, *, listen: str = "127.0.0.53",
                 answers: Mapping[str, str] = (), forward: Mapping[str, tuple] = (),
                 forward_max: int = 10000, hosts: Mapping[str, Sequence[str]] = (),
                 addresses: Mapping[str, str] = (), ptr: Mapping[str, str] = (),
                 txt: Mapping[str, Sequence[str]] = (),
                 mx: Mapping[str, Sequence[str | tuple[int, str]]] = (),
                 local: Sequence[str] = (), log_queries: bool = False):
        self.listen = listen
        self.log_path = os.path.join(workdir, "dnsmasq.log")
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--no-poll", "--bind-interfaces", f"--listen-address={listen}",
                "--port=53", "--user=root", "--group=root", "--pid-file=",
                f"--log-facility={self.log_path}", f"--dns-forward-max={forward_max}"]
        if log_queries:
            argv.append("--log-queries")
        for zone, ip in dict(answers).items():
            argv += [f"--address=/{zone}/{ip}", f"--local=/{zone}/"]
        for zone, (ip, port) in dict(forward).items():
            argv.append(f"--server=/{zone}/{ip}#{port}")
        for name, ips in dict(hosts).items():
            argv.append(f"--host-record={name},{','.join(ips)}")
        for name, ip in dict(addresses).items():
            argv.append(f"--address=/{name}/{ip}")
        for ip, name in dict(ptr).items():
            argv.append(f"--ptr-record={ipaddress.ip_address(ip).reverse_pointer},{name}")
        for name, texts in dict(txt).items():
            for text in texts:
                # On the command line dnsmasq keeps quotes as they are and splits
                # at commas: one string per record, without either.
                if '"' in text or "," in text:
                    raise ValueError(f"TXT text with a double quote or a comma: {text!r}")
                argv.append(f"--txt-record={name},{text}")
        for name, exchanges in dict(mx).items():
            for rank, exchange in enumerate(exchanges, 1):
                preference, host = (exchange if isinstance(exchange, tuple)
                                    else (rank * 10, exchange))
                argv.append(f"--mx-host={name},{host},{preference}")
        for zone in local:
            argv.append(f"--local=/{zone}/")
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        probe = next(iter(dict(answers)), None)
        if probe is None and local:
            probe = local[0]  # "probe.<zone>" gets NXDOMAIN: an answer all the same
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
