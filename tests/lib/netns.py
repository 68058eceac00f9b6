"""netns: free-form mxegress deployments, network namespaces, a sending Postfix.

Standard library only; run with /usr/bin/python3 as root, inside tests/run_isolated.
Used by tests/integration/test_{transparent_postfix,forward,pool,failover}.py, which
need what ``mxtest.Pair`` does not give: several servers for one client, a client
with ``[transparent]`` / ``[[forward]]`` front ends or pool settings, programs in
other network namespaces, a real Postfix as the sending gateway.

Main pieces
    Deployment      a temp dir holding any number of servers and clients; closing it
                    stops them all and fails like Pair does (died on its own, did not
                    stop, sanitizer report), keeping the dir and printing the logs
    Deployment.server(...) -> ServerNode    one mxegress-server (own identity, config,
                    log); start(), kill(sig), restart(), log helpers
    Deployment.client(...) -> ClientNode    one mxegress-client with any [[server]]
                    list and front ends (socks5 / transparent / forwards)
    Netns           a named network namespace (``ip netns add``): ip(), exec(),
                    entered() (this thread joins it: sockets and child processes
                    made inside the block live there), delete()
    link            a veth pair between two namespaces, with addresses
    SenderPostfix   a private Postfix used as the SENDING gateway (no smtpd; mail is
                    submitted with ``sendmail -C DIR``), relayhost = IP literals
    count_lines, tunnels_established, client_ports_of_tunnels
                    log and socket counting helpers (``ss`` for live tunnels)
    ResetFlows      nftables answers further packets of given tunnels with a RST:
                    pooled tunnels that died unnoticed (lost NAT mapping)
    DropFlows       nftables drops every packet to or from a port: a path that
                    silently stopped carrying anything
    kill_flows      ``ss -K``: abort the established connections of a port now
    sweep_stale_namespaces
                    removes ``mxt<pid>-*`` namespaces of test processes that are gone

Programs started inside ``Netns.entered()`` run in that namespace: Python's
subprocess forks from the calling thread, and setns(2) changed that thread's network
namespace only. Long-running programs are started that way rather than under ``ip
netns exec``, so their pid is the program's own (signals, pdeathsig) and nothing is
remounted; one-shot commands (nft, sysctl, ss) use ``Netns.exec``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterable, Mapping, Sequence

import mta
import mxtest
from mxtest import (close_at_cleanup, test_failed_so_far, HarnessError, Proc, SANITIZER_RE, client_bin, fmt_hostport, free_port,
                    keygen, server_bin, server_init, socks5_connect, toml_value)

__all__ = [
    "Deployment", "ServerNode", "ClientNode", "Netns", "link", "SenderPostfix",
    "count_lines", "tunnels_established", "client_ports_of_tunnels", "ResetFlows",
    "DropFlows", "kill_flows",
    "toml_table", "sweep_stale_namespaces", "close_at_cleanup", "test_failed_so_far",
    "two_servers_one_client",
]


# --------------------------------------------------------------------------
# TOML and log helpers
# --------------------------------------------------------------------------

def toml_table(name: str, values: Mapping, array: bool = False) -> str:
    """``[name]`` (or ``[[name]]``) with KEY = VALUE lines; None values are left out."""
    head = f"[[{name}]]" if array else f"[{name}]"
    body = "".join(f"{k} = {toml_value(v)}\n" for k, v in values.items() if v is not None)
    return f"{head}\n{body}"


def count_lines(text: str, pattern: str) -> int:
    """Number of lines of TEXT matching regex PATTERN."""
    rx = re.compile(pattern)
    return sum(1 for l in text.splitlines() if rx.search(l))


def _ss_established(filter_: str, netns: "Netns | None") -> list[str]:
    """``ss -Htn state established FILTER`` in NETNS (default: this namespace): its
    output lines (HarnessError if ss fails)."""
    argv = ["ss", "-Htn", "state", "established", filter_]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns.name] + argv
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if cp.returncode != 0:
        raise HarnessError(f"{' '.join(argv)}: {cp.stderr.strip()}")
    return cp.stdout.splitlines()


def tunnels_established(port: int, netns: "Netns | None" = None) -> int:
    """Established TCP connections whose local port is PORT (a server's tunnel port:
    one per live tunnel), counted with ``ss`` in NETNS (default: this namespace)."""
    return len([l for l in _ss_established(f"( sport = :{port} )", netns) if l.strip()])


def client_ports_of_tunnels(port: int, netns: "Netns | None" = None) -> list[int]:
    """Local ports of the established connections TO port PORT (the client ends of the
    tunnels to a server listening on PORT in this namespace)."""
    ports = []
    for line in _ss_established(f"( dport = :{port} )", netns):
        fields = line.split()
        if len(fields) >= 4:  # Recv-Q Send-Q Local:Port Peer:Port
            ports.append(int(fields[2].rsplit(":", 1)[1]))
    return ports


class DropFlows:
    """A path that silently drops packets: an nftables rule in the input hook drops
    every TCP packet to or from PORT (both directions of every flow of a listener on
    PORT, established ones and new ones alike). Senders get no error and no RST:
    their segments vanish, as on a dead link or a NAT that forgot the flow. Only this
    namespace's packets (with ``netns``, that namespace's). The rule (a table of its
    own) goes on close(), and with the namespace anyway."""

    def __init__(self, port: int, netns: "Netns | None" = None):
        self.table = f"mxtest_drop_{port}"
        self.netns = netns
        ruleset = (f"table inet {self.table} {{\n"
                   f"  chain in {{ type filter hook input priority 0; policy accept;\n"
                   f"    tcp dport {port} drop\n"
                   f"    tcp sport {port} drop\n"
                   f"  }}\n}}\n")
        cp = subprocess.run(self._argv("nft", "-f", "-"), input=ruleset, capture_output=True,
                            text=True)
        if cp.returncode != 0:
            raise HarnessError(f"nft: {cp.stderr.strip()}\n{ruleset}")

    def _argv(self, *argv: str) -> list[str]:
        if self.netns is None:
            return list(argv)
        return ["ip", "netns", "exec", self.netns.name, *argv]

    def close(self) -> None:
        subprocess.run(self._argv("nft", "delete", "table", "inet", self.table),
                       capture_output=True)

    def __enter__(self) -> "DropFlows":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def kill_flows(port: int, side: str = "client", netns: "Netns | None" = None) -> int:
    """Abort every established TCP connection of the listener on PORT with ``ss -K``
    (the kernel's SOCK_DESTROY): SIDE "client" destroys the connecting ends (dport =
    PORT), "server" the accepted ends (sport = PORT). The destroyed socket's owner
    gets ECONNABORTED, its peer a RST. Returns how many were destroyed. HarnessError
    if ss fails (a kernel without CONFIG_INET_DIAG_DESTROY lists them but destroys
    nothing: check ``tunnels_established`` afterwards)."""
    filter_ = f"( dport = :{port} )" if side == "client" else f"( sport = :{port} )"
    argv = ["ss", "-K", "-Htn", "state", "established", filter_]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns.name] + argv
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if cp.returncode != 0:
        raise HarnessError(f"{' '.join(argv)}: {cp.stderr.strip()}")
    return len([l for l in cp.stdout.splitlines() if l.strip()])


class ResetFlows:
    """Make established TCP flows dead the way a lost NAT mapping or a restarted peer
    does: an nftables rule answers every further packet the client sends on them with
    a TCP RST (``reject with tcp reset`` in the output hook), so the next write fails
    with ECONNRESET. New connections (other source ports) are not affected. The rule
    (a table of its own) goes on close(), and with the namespace anyway."""

    def __init__(self, dport: int, sports: Sequence[int]):
        if not sports:
            raise HarnessError("ResetFlows: no flows given")
        self.table = f"mxtest_reset_{dport}_{sports[0]}"
        ports = ", ".join(str(p) for p in sports)
        ruleset = (f"table inet {self.table} {{\n"
                   f"  chain out {{ type filter hook output priority 0; policy accept;\n"
                   f"    tcp dport {dport} tcp sport {{ {ports} }} reject with tcp reset\n"
                   f"  }}\n}}\n")
        cp = subprocess.run(["nft", "-f", "-"], input=ruleset, capture_output=True, text=True)
        if cp.returncode != 0:
            raise HarnessError(f"nft: {cp.stderr.strip()}\n{ruleset}")

    def close(self) -> None:
        subprocess.run(["nft", "delete", "table", "inet", self.table], capture_output=True)

    def __enter__(self) -> "ResetFlows":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _wait(predicate, timeout: float, what: str, context=lambda: "", interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"{what} not within {timeout}s\n{context()}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# Network namespaces
# --------------------------------------------------------------------------

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


_NAME_PREFIX = "mxt"


def sweep_stale_namespaces() -> None:
    """Delete namespaces named ``mxt<PID>-...`` whose PID no longer runs (left by a
    test process that was killed before its clean-up). Only names this module makes."""
    cp = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    for line in cp.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(_NAME_PREFIX + r"(\d+)-[a-z0-9]+", name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        if not os.path.exists(f"/proc/{m.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


class Netns:
    """A named network namespace ``mxt<pid>-ROLE`` (``ip netns add``), lo up.

    ``entered()`` makes the calling thread join it for the block: sockets created and
    programs started inside live in the namespace. ``delete()`` removes the name
    (processes still inside keep it alive: stop them first)."""

    def __init__(self, role: str):
        if os.geteuid() != 0:
            raise HarnessError("network namespaces need root")
        self.role = role
        self.name = f"{_NAME_PREFIX}{os.getpid()}-{role}"
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        self._run(["ip", "netns", "add", self.name])
        self.deleted = False
        self.ip("link", "set", "lo", "up")

    @staticmethod
    def _run(argv: Sequence[str], check: bool = True, input: str | None = None,
             timeout: float = 30) -> subprocess.CompletedProcess:
        cp = subprocess.run(list(argv), capture_output=True, text=True, input=input,
                            timeout=timeout)
        if check and cp.returncode != 0:
            raise HarnessError(f"{' '.join(argv)} exited {cp.returncode}: "
                               f"{cp.stderr.strip()} {cp.stdout.strip()}")
        return cp

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``ip -n NAME ARGS``."""
        return self._run(["ip", "-n", self.name, *args], check)

    def exec(self, *argv: str, check: bool = True, input: str | None = None,
             timeout: float = 30) -> subprocess.CompletedProcess:
        """``ip netns exec NAME ARGV`` to completion (text)."""
        return self._run(["ip", "netns", "exec", self.name, *argv], check, input, timeout)

    def sysctl(self, key: str, value: str) -> None:
        self.exec("sysctl", "-qw", f"{key}={value}")

    def nft(self, ruleset: str) -> None:
        """Load RULESET (nft -f syntax) in the namespace."""
        self.exec("nft", "-f", "-", input=ruleset)

    @contextlib.contextmanager
    def entered(self):
        """The calling thread is in this namespace for the block (setns(2))."""
        with open("/proc/thread-self/ns/net") as here, open(f"/run/netns/{self.name}") as there:
            _setns(there.fileno())
            try:
                yield self
            finally:
                _setns(here.fileno())

    def connect(self, host: str, port: int, timeout: float = 5.0) -> socket.socket:
        """A TCP connection made from inside the namespace (raises on failure)."""
        with self.entered():
            return socket.create_connection((host, port), timeout=timeout)

    def delete(self) -> None:
        if not self.deleted:
            self.deleted = True
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True)

    def __repr__(self) -> str:
        return f"Netns({self.name})"


_link_counter = 0


def link(a: Netns, a_addrs: Iterable[str], b: Netns, b_addrs: Iterable[str]) -> tuple[str, str]:
    """A veth pair with one end in A and the other in B (made directly in them, so
    nothing appears in this namespace), each end up with its CIDR addresses
    (``"10.9.1.1/24"``). Returns the two interface names."""
    global _link_counter
    _link_counter += 1
    ia, ib = f"v{_link_counter}{a.role[:5]}", f"v{_link_counter}{b.role[:5]}"
    Netns._run(["ip", "link", "add", ia, "netns", a.name, "type", "veth",
                "peer", "name", ib, "netns", b.name])
    for ns, ifname, addrs in ((a, ia, a_addrs), (b, ib, b_addrs)):
        for cidr in addrs:
            ns.ip("addr", "add", cidr, "dev", ifname)
        ns.ip("link", "set", ifname, "up")
    return ia, ib


@contextlib.contextmanager
def _maybe_in(netns: "Netns | None"):
    if netns is None:
        yield None
    else:
        with netns.entered():
            yield netns


# --------------------------------------------------------------------------
# mxegress programs with free-form configurations
# --------------------------------------------------------------------------

class _Node:
    """Common part of ServerNode and ClientNode: one program, one log across restarts."""

    kind = "?"

    def __init__(self, deployment: "Deployment", name: str):
        self.deployment = deployment
        self.name = name
        self.dir = os.path.join(deployment.dir, name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.config_path = os.path.join(self.dir, f"{self.kind}.toml")
        self.log_path = os.path.join(self.dir, f"{self.kind}.log")
        self.proc: Proc | None = None
        self.old_procs: list[Proc] = []
        self.netns: Netns | None = None
        self.env: dict[str, str] = {}   # extra environment for the program (next start)

    # log -----------------------------------------------------------------
    def text(self) -> str:
        return mxtest.read_log(self.log_path, missing_ok=True)

    def mark(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def since(self, mark: int) -> str:
        return mxtest.read_log(self.log_path, mark, missing_ok=True)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def count(self, pattern: str, since: int = 0) -> int:
        """Lines matching PATTERN written after SINCE."""
        return count_lines(self.since(since), pattern)

    def wait_for(self, pattern: str, timeout: float = 10.0, since: int = 0) -> re.Match:
        """Wait for regex PATTERN in the log after SINCE (HarnessError with all logs on
        timeout, or if the program exits first)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.since(since))
            if m:
                return m
            if self.proc is not None and not self.proc.alive() and not self.proc.stopping:
                time.sleep(0.05)
                m = rx.search(self.since(since))
                if m:
                    return m
                raise HarnessError(f"{self.label()} exited ({self.proc.popen.returncode}) "
                                   f"before logging /{pattern}/\n"
                                   + self.deployment.logs_tail())
            if time.monotonic() > deadline:
                raise HarnessError(f"{self.label()}: no /{pattern}/ within {timeout}s\n"
                                   + self.deployment.logs_tail())
            time.sleep(0.02)

    def wait_count(self, pattern: str, n: int, timeout: float = 10.0, since: int = 0) -> int:
        """Wait until at least N lines after SINCE match PATTERN; returns the count."""
        return _wait(lambda: (c := self.count(pattern, since)) >= n and c, timeout,
                     f"{self.label()}: {n} lines /{pattern}/", self.deployment.logs_tail)

    # process ---------------------------------------------------------------
    def label(self) -> str:
        return f"mxegress-{self.kind}[{self.name}]"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def write_config(self) -> None:
        raise NotImplementedError

    def _write_config_parts(self, parts: list[str]) -> None:
        """PARTS, then the free-form ``extra`` text, as this node's config file."""
        if self.extra:
            parts.append(self.extra)
        self.config_text = "\n".join(parts)
        with open(self.config_path, "w") as f:
            f.write(self.config_text)

    def listen_patterns(self) -> list[str]:
        raise NotImplementedError

    def start(self, netns: Netns | None = None, wait: bool = True) -> "_Node":
        """Start the program (in NETNS if given, else where it last ran) and wait for
        each of its listeners to log ``listening on``."""
        if self.proc is not None:
            if self.proc.alive():
                raise HarnessError(f"{self.label()} is already running")
            self.old_procs.append(self.proc)
            self.proc = None
        if netns is not None:
            self.netns = netns
        self.write_config()
        mark = self.mark()
        with _maybe_in(self.netns):
            self.proc = Proc(self.label(), self.argv(), self.log_path, self.dir, self.env)
        if wait:
            for p in self.listen_patterns():
                self.wait_for(p, self.deployment.ready_timeout, since=mark)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def send_signal(self, sig: int) -> None:
        self.proc.popen.send_signal(sig)

    def freeze(self, timeout: float = 5.0) -> None:
        """SIGSTOP, and wait until the kernel has stopped it: kill(2) returns before
        the target stops, and a loaded machine may let it answer a few more packets
        (a CONNECT sent right after) in between."""
        self.proc.popen.send_signal(signal.SIGSTOP)
        stat = f"/proc/{self.proc.popen.pid}/stat"

        def stopped() -> bool:
            with open(stat) as f:
                return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
        _wait(stopped, timeout, f"{self.name} stopped by SIGSTOP")

    def kill(self, sig: int = signal.SIGKILL, wait: bool = True) -> None:
        """Send SIG as part of the test: the exit it causes is expected (not reported
        as "died on its own")."""
        self.proc.stopping = True
        self.proc.popen.send_signal(sig)
        if wait:
            self.proc.popen.wait(10)

    def restart(self, wait: bool = True) -> "_Node":
        """Start the same program again (after kill() or stop()), same log."""
        return self.start(wait=wait)

    def stop(self, timeout: float = 10.0) -> list[str]:
        """SIGTERM (SIGKILL after TIMEOUT); problems as Proc.stop() reports them. The
        node can be started again afterwards."""
        problems = []
        for p in self.old_procs + ([self.proc] if self.proc else []):
            if not getattr(p, "_mx_stopped", False):
                problems += p.stop(timeout)
                p._mx_stopped = True
        return problems


class ServerNode(_Node):
    """One mxegress-server: its own identity (``server_init``), ``server.toml``,
    ``server.log`` in DIR/NAME. Attributes: pin, tunnel_addr, config_text.
    ``trail=True`` adds ``[trail] file = "trail.jsonl"`` (``trail_path``; read it with
    ``trail_records()``, ``trail_mark()``, ``wait_trail()``)."""

    kind = "server"

    def __init__(self, deployment: "Deployment", name: str, *, listen: tuple[str, int],
                 tenants: Sequence[Mapping], ports: Iterable[int] = (25,),
                 allow: Iterable[str] = mxtest.LOOPBACK_ALLOW, deny: Iterable[str] = (),
                 settings: Mapping | None = None, policy: Mapping | None = None,
                 extra: str = "", trail: bool = False):
        super().__init__(deployment, name)
        self.pin = server_init(self.dir)
        self.trail = trail
        self.trail_path = os.path.join(self.dir, "trail.jsonl")
        self.tunnel_addr = tuple(listen)
        self.settings = {"listen": [fmt_hostport(*self.tunnel_addr)], "cert": "server.crt",
                         "key": "server.key", "connect_timeout": "2s",
                         "handshake_timeout": "2s", "idle_timeout": "60s",
                         "drain_timeout": "1s", "log_level": "debug",
                         **mxtest.server_thread_settings(), **(settings or {})}
        self.policy = {"ports": list(ports), "allow": list(allow), "deny": list(deny),
                       **(policy or {})}
        self.tenants = [dict(t) for t in tenants]
        self.extra = extra

    def write_config(self) -> None:
        """server.toml from the current specs; tenant ``keys`` entries may be ClientNode
        objects (their public keys are used). Called by start()."""
        parts = [toml_table("server", self.settings), toml_table("policy", self.policy)]
        for t in self.tenants:
            t = {"source": "any", **t}  # a tenant needs `source`; None leaves it out
            t["keys"] = [k.pubkey if isinstance(k, ClientNode) else k for k in t["keys"]]
            parts.append(toml_table("tenant", t, True))
        if self.trail:
            parts.append(toml_table("trail", {"file": os.path.basename(self.trail_path)}))
        self._write_config_parts(parts)

    def argv(self) -> list[str]:
        return [server_bin(), "-c", self.config_path]

    def listen_patterns(self) -> list[str]:
        return [r"listening on " + re.escape(fmt_hostport(*self.tunnel_addr))]

    @property
    def address(self) -> str:
        return fmt_hostport(*self.tunnel_addr)

    def auth_ok(self, since: int = 0) -> int:
        """``tunnel: auth ok`` lines after SINCE: one per authenticated tunnel."""
        return self.count(r"auth ok tenant=", since)

    def dial_lines(self, since: int = 0) -> list[str]:
        return [l for l in self.since(since).splitlines() if "dial target=" in l]

    def established(self) -> int:
        """Live tunnels: established connections on the tunnel port (server side)."""
        return tunnels_established(self.tunnel_addr[1], self.netns)

    # trail (``trail=True``) ------------------------------------------------
    def trail_records(self) -> list[dict]:
        """Every complete JSON line of this server's trail so far, parsed (a line
        still being written, without its newline, is left for the next call)."""
        try:
            with open(self.trail_path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        lines = text.split("\n")[:-1]
        return [json.loads(l) for l in lines if l.strip()]

    def trail_mark(self) -> int:
        """Number of trail lines so far; pass it to ``wait_trail``."""
        return len(self.trail_records())

    def wait_trail(self, since: int, count: int, timeout: float = 10.0,
                   pred=None) -> list[dict]:
        """Wait until at least COUNT records after SINCE (a trail_mark()) satisfy PRED
        (default: any record); returns all records after SINCE."""
        pred = pred or (lambda rec: True)
        return _wait(lambda: (recs := self.trail_records()[since:])
                     and sum(1 for r in recs if pred(r)) >= count and recs,
                     timeout, f"{self.label()}: {count} trail records",
                     lambda: f"trail since {since}: {self.trail_records()[since:]}\n"
                     + self.deployment.logs_tail())


class ClientNode(_Node):
    """One mxegress-client with its own key in DIR/NAME.

    servers     sequence of (ServerNode or (address "host:port", pin), {priority, weight,
                pool, pool_max, pins, ...}) -> one [[server]] each, in order ("pins"
                replaces the node's one "pin")
    settings    extra [client] keys (pool/keepalive/retry timers...)
    socks5      True: a [socks5] listener on a free loopback port (``socks_addr``);
                a (host, port): there; None/False: no [socks5]
    transparent {listen: [...], on_failure: ...} or None
    forwards    [{listen, target, on_failure}, ...]
    Attributes: key_path, pubkey, socks_addr, config_text."""

    kind = "client"

    def __init__(self, deployment: "Deployment", name: str, *,
                 servers: Sequence[tuple], settings: Mapping | None = None,
                 socks5=True, transparent: Mapping | None = None,
                 forwards: Sequence[Mapping] = (), extra: str = ""):
        super().__init__(deployment, name)
        self.key_path = os.path.join(self.dir, "client.key")
        self.pubkey = keygen(self.key_path)
        self.servers = list(servers)
        self.settings = {"key": "client.key", "handshake_timeout": "2s", "idle_timeout": "60s",
                         "drain_timeout": "1s", "log_level": "debug", **(settings or {})}
        if socks5 is True:
            self.socks_addr = ("127.0.0.1", free_port())
        elif socks5:
            self.socks_addr = tuple(socks5)
        else:
            self.socks_addr = None
        self.transparent = dict(transparent) if transparent else None
        self.forwards = [dict(f) for f in forwards]
        self.extra = extra

    def write_config(self) -> None:
        """client.toml from the current specs. Called by start()."""
        parts = [toml_table("client", self.settings)]
        for server, opts in self.servers:
            if isinstance(server, ServerNode):
                address, pin = server.address, server.pin
            else:
                address, pin = server
            table = {"address": address, "pin": pin, **mxtest.tunnel_mode_settings(),
                     **(opts or {})}
            if "pins" in table:  # several pins (a certificate rotation) instead of one
                del table["pin"]
            parts.append(toml_table("server", table, True))
        if self.socks_addr:
            parts.append(toml_table("socks5", {"listen": [fmt_hostport(*self.socks_addr)]}))
        if self.transparent:
            parts.append(toml_table("transparent", self.transparent))
        for fwd in self.forwards:
            parts.append(toml_table("forward", fwd, True))
        self._write_config_parts(parts)

    def argv(self) -> list[str]:
        return [client_bin(), "-c", self.config_path]

    def listen_patterns(self) -> list[str]:
        addrs = []
        if self.socks_addr:
            addrs.append(fmt_hostport(*self.socks_addr))
        if self.transparent:
            listen = self.transparent["listen"]
            addrs += [listen] if isinstance(listen, str) else list(listen)
        addrs += [f["listen"] for f in self.forwards]
        return [r"listening on " + re.escape(a) for a in addrs]

    def reload(self, expect: str = "ok", timeout: float = 15.0) -> str:
        """Rewrite client.toml from the current specs (unless EXPECT is "refused", when
        the test wrote a broken file itself), send SIGHUP and wait for ``reloaded``
        (EXPECT="ok") or ``reload refused`` (EXPECT="refused"). Returns the log since
        the signal; HarnessError on the other outcome or nothing within TIMEOUT."""
        assert expect in ("ok", "refused")
        if expect == "ok":
            self.write_config()
        mark = self.mark()
        self.send_signal(signal.SIGHUP)
        m = self.wait_for(r"(client: reloaded\b)|(client: reload refused)", timeout, mark)
        text = self.since(mark)
        got = "ok" if m.group(1) else "refused"
        if got != expect:
            raise HarnessError(f"{self.label()} reload: expected {expect}, got "
                               f"{m.group(0)!r}\n--- log since SIGHUP ---\n{text}")
        return text

    def connect(self, host: str, port: int, **kw) -> mxtest.SocksResult:
        """SOCKS5 CONNECT through this client's [socks5] listener."""
        return socks5_connect(self.socks_addr, host, port, **kw)

    def session_lines(self, since: int = 0) -> list[str]:
        """``session:`` lines after SINCE that end a relayed session (``end=``)."""
        return [l for l in self.since(since).splitlines()
                if "session:" in l and " end=" in l]

    def session_via(self, port: int, since: int = 0, timeout: float = 10.0) -> str:
        """The server (``via=``) that carried the session whose gateway-side port on
        127.0.0.1 was PORT, from its end line after SINCE."""
        m = self.wait_for(r"session: peer=127\.0\.0\.1:%d [^\n]*via=(\S+) [^\n]*end=" % port,
                          timeout, since)
        return m.group(1)


class Deployment:
    """A temp dir (mode 755) with any number of ServerNode / ClientNode.

    ``server(name, ...)`` / ``client(name, ...)`` create them (configs and keys, not
    started). ``close()`` / leaving the ``with`` block stops clients first, then
    servers, and raises HarnessError if one died on its own (kill() excepted), did not
    stop on SIGTERM, or logged a sanitizer report; with an exception already in
    flight the problems are only printed. The dir is kept (and named on stderr) when
    anything failed or MX_KEEP_TMP is set."""

    def __init__(self, prefix: str = "mxnet-", ready_timeout: float = 30.0,
                 stop_timeout: float = 10.0):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.dir, 0o755)
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.servers: dict[str, ServerNode] = {}
        self.clients: dict[str, ClientNode] = {}
        self._closed = False

    def server(self, name: str, **kw) -> ServerNode:
        node = ServerNode(self, name, **kw)
        self.servers[name] = node
        return node

    def client(self, name: str, **kw) -> ClientNode:
        node = ClientNode(self, name, **kw)
        self.clients[name] = node
        return node

    def nodes(self) -> list[_Node]:
        return list(self.clients.values()) + list(self.servers.values())

    def logs_tail(self, lines: int = 60) -> str:
        return "\n".join(f"--- {n.label()} log ({n.log_path}) ---\n{n.tail(lines)}"
                         for n in reversed(self.nodes()) if os.path.exists(n.log_path))

    def check(self) -> None:
        """HarnessError now if a running program died or a log has a sanitizer report."""
        problems = []
        for n in self.nodes():
            if n.proc is not None and not n.proc.alive() and not n.proc.stopping:
                problems.append(f"{n.label()} exited with status {n.proc.popen.returncode}")
            if SANITIZER_RE.search(n.text()):
                problems.append(f"{n.label()}: sanitizer report in its log")
        if problems:
            raise HarnessError("; ".join(problems) + "\n" + self.logs_tail(200))

    def close(self, in_error: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        problems = []
        for n in self.nodes():
            problems += n.stop(self.stop_timeout)
        for n in self.nodes():
            text = n.text()
            m = SANITIZER_RE.search(text)
            if m:
                start = text.rfind("\n", 0, max(0, m.start() - 2000)) + 1
                problems.append(f"{n.label()}: sanitizer report:\n"
                                f"{text[start:m.start() + 6000]}")
        failed = bool(problems) or in_error
        if failed or os.environ.get("MX_SHOW_LOGS"):
            sys.stderr.write(f"\n[netns] deployment dir {self.dir}\n{self.logs_tail()}\n")
        if not (failed or os.environ.get("MX_KEEP_TMP")):
            shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            msg = "\n".join(problems)
            if in_error:
                sys.stderr.write(f"[netns] also: {msg}\n")
            else:
                raise HarnessError(msg + "\n" + self.logs_tail())

    def __enter__(self) -> "Deployment":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(in_error=exc_type is not None)


# --------------------------------------------------------------------------
# A private Postfix as the sending gateway
# --------------------------------------------------------------------------

SENDMAIL = "/usr/sbin/sendmail"

# mta.py's instance pieces without the MX's smtpd listener and delivery agents
_SENDER_MASTER_CF = (mta.MASTER_CF_HEADER + mta.MASTER_CF_COMMON_SERVICES
                     + mta.MASTER_CF_LOG_SERVICES)

_SENDER_MAIN_CF = mta.MAIN_CF_INSTANCE + """\
inet_interfaces = all
inet_protocols = ipv4
myhostname = {hostname}
mydomain = {domain}
myorigin = $myhostname
mydestination =
mynetworks = 127.0.0.0/8
local_transport = error:this gateway delivers nothing locally
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# every message goes to these next hops, in order (Postfix 3.5+ takes a list);
# IP literals only: there is no DNS here
relayhost = {relayhost}
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_address_preference = ipv4
smtp_tls_security_level = may
smtp_tls_loglevel = 1
smtp_tls_session_cache_database =
smtp_connect_timeout = 10s
smtp_helo_timeout = 30s
# a deferred message is retried soon (tests wait seconds, not minutes)
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
smtp_connection_cache_on_demand = no
"""


class SenderPostfix:
    """A private Postfix that only sends: every message goes to RELAYHOST (a list of
    ``[ip]`` or ``[ip]:port`` next hops, tried in order), from the namespace NETNS.

    Mail is submitted with ``sendmail -C DIR/etc`` (postdrop, no network), picked up
    and delivered by smtp(8), which runs as the ``postfix`` user (``uid``): the
    redirect rule of a transparent test matches that user. The log is
    DIR/log/maillog (postlogd). Context manager: start on enter, stop on exit."""

    def __init__(self, workdir: str, relayhost: Sequence[str], netns: Netns | None = None,
                 hostname: str = "gw.cloud.test", domain: str = "cloud.test",
                 main_extra: str = "", start_timeout: float = 20.0):
        self.dir = os.path.join(os.path.abspath(workdir), "sender-postfix")
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.logdir = os.path.join(self.dir, "log")
        self.log_path = os.path.join(self.logdir, "maillog")
        self.relayhost = list(relayhost)
        self.netns = netns
        self.hostname = hostname
        self.domain = domain
        self.main_extra = main_extra
        self.start_timeout = start_timeout
        self.uid = pwd.getpwnam("postfix").pw_uid
        self.proc: subprocess.Popen | None = None
        self._out = None

    # ---- use -------------------------------------------------------------
    def log(self) -> str:
        return mta.read_maillog(self.log_path)

    def log_tail(self, n: int = 40) -> str:
        lines = [l for l in self.log().splitlines() if "SSL_connect:" not in l]
        return "\n".join(lines[-n:]) or "(maillog empty)"

    def wait_log(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """Wait for regex PATTERN in the maillog (HarnessError with its tail otherwise)."""
        return mta.wait_in_log("sending postfix", self.log, self.log_tail, self.proc, pattern,
                               timeout, flags=0, error=HarnessError)

    def send(self, sender: str, rcpt: str, subject: str, body: str) -> None:
        """Submit one message with sendmail -C (raises if sendmail fails)."""
        msg = (f"From: <{sender}>\nTo: <{rcpt}>\nSubject: {subject}\n"
               f"Message-ID: <{abs(hash(subject))}.{time.time_ns()}@{self.hostname}>\n\n"
               f"{body}\n")
        cp = subprocess.run([SENDMAIL, "-C", self.etc, "-f", sender, "-i", "--", rcpt],
                            input=msg, capture_output=True, text=True, timeout=30)
        if cp.returncode != 0:
            raise HarnessError(f"sendmail exited {cp.returncode}: {cp.stderr}\n"
                               f"maillog:\n{self.log_tail()}")

    # ---- life cycle --------------------------------------------------------
    def start(self) -> "SenderPostfix":
        try:
            self._prepare()
            with _maybe_in(self.netns):
                self.proc, self._out = mta.start_master(self.etc, self.dir)
            self.wait_log(r"postfix/master\[\d+\]: daemon started", self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        p, self.proc = self.proc, None
        if p is not None:
            mta.stop_master(p, timeout)
        if self._out is not None:
            self._out.close()
            self._out = None

    def __enter__(self) -> "SenderPostfix":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _prepare(self) -> None:
        if os.geteuid() != 0:
            raise HarnessError("SenderPostfix needs root (postfix master starts as root)")
        mta.make_instance_dirs(self.dir, (self.etc, self.queue, self.data, self.logdir),
                               self.data)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(_SENDER_MAIN_CF.format(
                etc=self.etc, queue=self.queue, data=self.data, base=self.dir,
                log=self.log_path, hostname=self.hostname, domain=self.domain,
                relayhost=", ".join(self.relayhost)) + self.main_extra)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(_SENDER_MASTER_CF)
        mta.postfix_check(self.etc, HarnessError)


def two_servers_one_client(case, prefix: str, port: int, servers, settings: Mapping,
                           warm: int):
    """Servers a and b (tenant acme, destination PORT allowed) and one client whose
    [[server]] list is SERVERS(a, b), all started; returns (deployment, a, b, client)
    once a has authenticated WARM tunnels. The deployment closes at CASE's cleanup."""
    dep = Deployment(prefix=prefix)
    close_at_cleanup(case, dep)
    tenants = [{"name": "acme", "keys": []}]
    a = dep.server("a", listen=("127.0.0.1", free_port()), tenants=tenants, ports=[port])
    b = dep.server("b", listen=("127.0.0.1", free_port()), tenants=tenants, ports=[port])
    client = dep.client("client", servers=servers(a, b), settings=settings)
    for s in (a, b):
        s.tenants[0]["keys"] = [client]
        s.start()
    client.start()
    a.wait_count(r"auth ok tenant=acme", warm, timeout=10)
    return dep, a, b, client
