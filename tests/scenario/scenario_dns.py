"""The scenario's DNS server: dnsmasq with MX, A, AAAA, PTR and TXT (SPF) records.

Standard library only. dnsmasq (Debian's dnsmasq-base) runs in the internet
namespace and answers only from the records given here (no upstream, no
/etc/hosts); every other name under the zones it is authoritative for gets
NXDOMAIN. The gateways in the cloud ask it for their MX lookups through the
namespace's resolv.conf (see topology.py).

    dns = ScenarioDns(workdir, listen="10.30.2.53", zones=["test", "30.10.in-addr.arpa"],
                      records=records)      # a Records
    dns.start(netns)                        # in the namespace's network
    dns.query("alpha.test", "MX")           # (rcode, answer count) from the live server
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field

QTYPES = {"A": 1, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}


@dataclass
class Records:
    """What the server answers: mx (domain, host, preference), hosts (name, [ips]:
    A and AAAA records, and PTR records for each address), ptr (ip, name) without a
    forward record, txt (name, text)."""
    mx: list = field(default_factory=list)
    hosts: list = field(default_factory=list)
    ptr: list = field(default_factory=list)
    txt: list = field(default_factory=list)

    def options(self) -> list[str]:
        out = [f"--mx-host={domain},{host},{pref}" for domain, host, pref in self.mx]
        out += [f"--host-record={name},{','.join(ips)}" for name, ips in self.hosts]
        out += [f"--ptr-record={reverse_name(ip)},{name}" for ip, name in self.ptr]
        # On the command line dnsmasq keeps quotes as they are (they would be part
        # of the text: no SPF record) and splits at commas: neither is allowed.
        for name, text in self.txt:
            if '"' in text or "," in text:
                raise ValueError(f"TXT text with a double quote or a comma: {text!r}")
            out.append(f"--txt-record={name},{text}")
        return out


def reverse_name(ip: str) -> str:
    """10.30.2.3 -> 3.2.30.10.in-addr.arpa (IPv4 only)."""
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def _encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def query(server: tuple[str, int], name: str, qtype: str, timeout: float = 1.0):
    """Ask SERVER for NAME/QTYPE over UDP: (rcode, answer count), or None if no answer."""
    packet = (struct.pack("!HHHHHH", 0x5c35, 0x0100, 1, 0, 0, 0) + _encode_name(name)
              + struct.pack("!HH", QTYPES[qtype], 1))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, server)
        try:
            data = s.recv(4096)
        except socket.timeout:
            return None
    return data[3] & 0x0F, struct.unpack("!H", data[6:8])[0]


class ScenarioDns:
    """dnsmasq on LISTEN:53 answering RECORDS, authoritative (``--local``) for ZONES.
    Its log (queries too, ``--log-queries``) is WORKDIR/dnsmasq.log."""

    def __init__(self, workdir: str, listen: str, zones, records: Records):
        self.listen = listen
        self.log_path = os.path.join(workdir, "dnsmasq.log")
        self.argv = (["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                      "--no-resolv", "--no-hosts", "--no-poll", "--bind-interfaces",
                      f"--listen-address={listen}", "--port=53", "--user=root",
                      "--group=root", "--pid-file=", "--log-queries",
                      f"--log-facility={self.log_path}", "--local-ttl=1"]
                     + [f"--local=/{z}/" for z in zones] + records.options())
        self.proc: subprocess.Popen | None = None

    def start(self, netns=None, probe: str = "") -> "ScenarioDns":
        """Start it (inside NETNS.entered() if given) and wait until it answers PROBE
        (a name/MX query) or, without one, until it answers at all."""
        if netns is not None:
            with netns.entered():
                self._spawn()
        else:
            self._spawn()
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"dnsmasq exited {self.proc.returncode}: "
                                     f"{self.proc.stderr.read().decode(errors='replace')}"
                                     f"\n{' '.join(self.argv)}")
            got = self._probe(netns, probe or "probe.test")
            if got is not None and (not probe or got[1] > 0):
                return self
            if time.monotonic() > deadline:
                self.close()
                raise AssertionError(f"dnsmasq does not answer on {self.listen}:53 ({got})")
            time.sleep(0.1)

    def _spawn(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _probe(self, netns, name):
        if netns is None:
            return query((self.listen, 53), name, "MX", 0.3)
        with netns.entered():
            return query((self.listen, 53), name, "MX", 0.3)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        self.proc = None
