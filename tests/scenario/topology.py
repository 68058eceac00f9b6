"""The deployment scenario (issue 21): three network namespaces, a real DNS server,
real MX hosts, an Exim and a Postfix gateway, and the mxegress pair between them.

    cloud 10.30.1.1 ------------------ 10.30.1.2 egress 10.30.2.2 ---------------- internet
      Exim gateway (SOCKS5, RFC 1929)     mxegress-server        .3 tenant exim-gw    .10 mx-down.beta.test (RST)
      Postfix gateway (unchanged)           tunnels  :8443       .4 tenant postfix-gw .11 mx1.alpha.test  Postfix
      mxegress-client A [socks5] :1080      [socks5] :1080                            .12 mx2.beta.test   Postfix
      mxegress-client B [transparent]       connect_timeout 4s                        .13 mx.gamma.test   (dropped)
      nftables: postfix's tcp/25 ->         ip_forward = 1                            .53 dnsmasq
        :10025, other tcp/25 dropped

The cloud's default route goes through egress, which forwards (so the cloud's DNS
queries reach the internet, and tcp/25 would too, but for the cloud's firewall).
Client A (key A, tenant exim-gw, source 10.30.2.3) serves Exim's socks_proxy with
a login; client B (key B, tenant postfix-gw, source 10.30.2.4) serves Postfix through
the redirect. Exim's ``viaserver-*`` recipients go to the server's own SOCKS5
listener instead (user exim-direct, tenant exim-gw).

Namespace names are PREFIX + role: the tests use netns.py's ``mxt<pid>-`` (removed by
sweep_stale_namespaces when the test process is gone), ``tests/scenario/run`` uses
``mxs-``. Each namespace's resolv.conf is /etc/netns/NAME/resolv.conf, which
``ip netns exec`` mounts over /etc/resolv.conf for the gateways.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess

import mta
import mxtest
from netns import Deployment, Netns, link
from dnslab import Dnsmasq
from exim_gateway import EximGateway
from postfix_gateway import PostfixGateway

CLOUD, EGRESS_CLOUD_SIDE = "10.30.1.1", "10.30.1.2"
EGRESS_PRIMARY, SOURCE_EXIM, SOURCE_POSTFIX = "10.30.2.2", "10.30.2.3", "10.30.2.4"
MX_DOWN, MX1_ALPHA, MX2_BETA, MX_SILENT, DNS = (
    "10.30.2.10", "10.30.2.11", "10.30.2.12", "10.30.2.13", "10.30.2.53")
# For the tools' tests (test_tools.py): an MX without STARTTLS; egress addresses
# without a PTR and with a PTR that does not confirm; a DNSBL zone listing SOURCE_POSTFIX.
MX_PLAIN, SOURCE_NO_PTR, SOURCE_UNCONFIRMED = "10.30.2.14", "10.30.2.5", "10.30.2.6"
DNSBL_ZONE = "bl.test"
TUNNEL_PORT, SERVER_SOCKS_PORT = 8443, 1080
CLIENT_SOCKS = ("127.0.0.1", 1080)
TRANSPARENT = "127.0.0.1:10025"
EXIM_SOCKS_USER, EXIM_SOCKS_PASS = "eximgw", "client-secret-1"
DIRECT_USER, DIRECT_PASS = "exim-direct", "server-secret-2"
SERVER_CONNECT_TIMEOUT = 4   # s: below the gateways' 5 s, so its answer reaches them
GATEWAY_CONNECT_TIMEOUT = 5  # s: Exim's connect_timeout and socks tmo, Postfix's


def dns_records() -> dict:
    """The scenario's records, as dnslab.Dnsmasq's arguments."""
    return dict(
        mx={"alpha.test": [(10, "mx1.alpha.test")],
            "beta.test": [(10, "mx-down.beta.test"), (20, "mx2.beta.test")],
            "gamma.test": [(10, "mx.gamma.test")], "delta.test": [(10, "mx.delta.test")]},
        hosts={"mx1.alpha.test": [MX1_ALPHA, "2001:db8:30::11"],
               "mx-down.beta.test": [MX_DOWN], "mx2.beta.test": [MX2_BETA],
               "mx.gamma.test": [MX_SILENT],
               "out-exim.egress.test": [SOURCE_EXIM],
               "out-postfix.egress.test": [SOURCE_POSTFIX],
               "mx.delta.test": [MX_PLAIN],
               "out-other.egress.test": ["10.30.2.99"],
               f"4.2.30.10.{DNSBL_ZONE}": ["127.0.0.2"]},
        ptr={SOURCE_UNCONFIRMED: "out-other.egress.test"},
        txt={"tenant-a.test": [f"v=spf1 ip4:{SOURCE_EXIM} -all"],
             "tenant-b.test": [f"v=spf1 ip4:{SOURCE_POSTFIX} -all"],
             f"4.2.30.10.{DNSBL_ZONE}": ["Listed for testing"]},
        # authoritative: every other name under these is NXDOMAIN
        local=["test", "30.10.in-addr.arpa"])


class NamedNetns(Netns):
    """netns.Netns with a name chosen by the caller (PREFIX + role)."""

    def __init__(self, name: str, role: str):
        self.role = role
        self.name = name
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self._run(["ip", "netns", "add", name])
        self.deleted = False
        self.ip("link", "set", "lo", "up")
        self.etc_dir = f"/etc/netns/{name}"

    def write_resolv_conf(self, nameserver: str) -> None:
        os.makedirs(self.etc_dir, exist_ok=True)
        with open(os.path.join(self.etc_dir, "resolv.conf"), "w") as f:
            f.write(f"nameserver {nameserver}\noptions timeout:1 attempts:2\n")

    def delete(self) -> None:
        super().delete()
        shutil.rmtree(self.etc_dir, ignore_errors=True)


def remove_namespaces(prefix: str) -> None:
    """Delete exactly the scenario's namespaces PREFIX{cloud,egress,internet}."""
    for role in ("cloud", "egress", "internet"):
        subprocess.run(["ip", "netns", "del", prefix + role], capture_output=True)
        shutil.rmtree(f"/etc/netns/{prefix}{role}", ignore_errors=True)


class Scenario:
    """Everything above, rooted at WORKDIR. ``up()`` builds it in order; ``down()``
    takes down whatever was built (also after a failed up()), in reverse."""

    def __init__(self, workdir: str, prefix: str):
        self.dir = workdir
        self.prefix = prefix
        self._undo: list = []
        self.ns: dict[str, NamedNetns] = {}
        self.direct_banner = b""

    # ---- build ---------------------------------------------------------------
    def up(self) -> "Scenario":
        try:
            self._network()
            self._internet()
            self._pair()
            self._gateways()
        except BaseException:
            self.down(in_error=True)
            raise
        return self

    def _later(self, fn) -> None:
        self._undo.append(fn)

    def _network(self) -> None:
        for role in ("cloud", "egress", "internet"):
            self.ns[role] = NamedNetns(self.prefix + role, role)
            self._later(self.ns[role].delete)
        cloud, egress, internet = self.ns["cloud"], self.ns["egress"], self.ns["internet"]
        link(cloud, [f"{CLOUD}/24"], egress, [f"{EGRESS_CLOUD_SIDE}/24"])
        link(egress, [f"{a}/24" for a in (EGRESS_PRIMARY, SOURCE_EXIM, SOURCE_POSTFIX)],
             internet, [f"{a}/24" for a in (MX_DOWN, MX1_ALPHA, MX2_BETA, MX_SILENT, MX_PLAIN,
                                           DNS)])
        cloud.ip("route", "add", "default", "via", EGRESS_CLOUD_SIDE)
        internet.ip("route", "add", "default", "via", EGRESS_PRIMARY)
        egress.sysctl("net.ipv4.ip_forward", "1")
        cloud.write_resolv_conf(DNS)
        # the silent MX: every packet to its tcp/25 vanishes
        internet.nft(f"table inet scenario_silent_mx {{\n"
                     f"  chain in {{ type filter hook input priority 0; policy accept;\n"
                     f"    ip daddr {MX_SILENT} tcp dport 25 drop\n  }}\n}}\n")

    def _internet(self) -> None:
        internet = self.ns["internet"]
        with internet.entered():
            self.dns = Dnsmasq(self.dir, listen=DNS, log_queries=True, **dns_records())
        self._later(self.dns.close)
        self.mx_alpha = mta.PostfixMX(MX1_ALPHA, 25, os.path.join(self.dir, "mx"),
                                      hostname="mx1.alpha.test", domain="alpha.test")
        self.mx_beta = mta.PostfixMX(MX2_BETA, 25, os.path.join(self.dir, "mx"),
                                     hostname="mx2.beta.test", domain="beta.test")
        for mx in (self.mx_alpha, self.mx_beta):
            self._later(mx.stop)
            with internet.entered():
                mx.start()
        # the MX certificates are the gateways' trust anchors (self-signed)
        self.ca_file = os.path.join(self.dir, "mx-ca.pem")
        with open(self.ca_file, "w") as out:
            for mx in (self.mx_alpha, self.mx_beta):
                with open(mx.cert_pem_path) as f:
                    out.write(f.read())
        # before the cloud's firewall: routing alone would let the cloud reach the MX
        s = self.ns["cloud"].connect(MX1_ALPHA, 25, timeout=5)
        self.direct_banner = s.recv(200)
        s.close()

    def _pair(self) -> None:
        cloud, egress = self.ns["cloud"], self.ns["egress"]
        self.dep = Deployment(prefix="mxscenario-dep-")
        self._later(lambda: self.dep.close(in_error=self._in_error))
        server_socks = (f"[socks5]\nlisten = [\"{EGRESS_CLOUD_SIDE}:{SERVER_SOCKS_PORT}\"]\n\n"
                        f"[[socks5.user]]\nname = \"{DIRECT_USER}\"\n"
                        f"password_hash = \"{mxtest.hash_password(DIRECT_PASS, 'server')}\"\n"
                        f"tenant = \"exim-gw\"\nfrom = [\"{CLOUD}/32\"]\n\n"
                        # the egress host's own resolver: the internet's DNS server (for
                        # CONNECTs by name, as mxegress-client probe sends them)
                        f"[resolver]\nservers = [\"{DNS}\"]\n")
        self.server = self.dep.server(
            "server", listen=(EGRESS_CLOUD_SIDE, TUNNEL_PORT),
            tenants=[{"name": "exim-gw", "keys": [], "source": [SOURCE_EXIM]},
                     {"name": "postfix-gw", "keys": [], "source": [SOURCE_POSTFIX]}],
            ports=[25], allow=["10.30.2.0/24"], extra=server_socks,
            settings={"connect_timeout": f"{SERVER_CONNECT_TIMEOUT}s"})
        client_users = (f"[[socks5.user]]\nname = \"{EXIM_SOCKS_USER}\"\n"
                        f"password_hash = \"{mxtest.hash_password(EXIM_SOCKS_PASS)}\"\n")
        self.client_exim = self.dep.client(
            "client-exim", servers=[(self.server, {})], socks5=CLIENT_SOCKS,
            extra=client_users, settings={"retry_interval": "1s"})
        self.client_postfix = self.dep.client(
            "client-postfix", servers=[(self.server, {})], socks5=False,
            transparent={"listen": [TRANSPARENT], "on_failure": "421"},
            settings={"retry_interval": "1s"})
        self.server.tenants[0]["keys"] = [self.client_exim]
        self.server.tenants[1]["keys"] = [self.client_postfix]
        self.server.start(netns=egress)
        self.client_exim.start(netns=cloud)
        self.client_postfix.start(netns=cloud)

    def _gateways(self) -> None:
        cloud = self.ns["cloud"]
        postfix_uid = pwd.getpwnam("postfix").pw_uid
        # "priority -100" is dstnat (nft 1.0.6 refuses the name in an output hook)
        cloud.nft(f"""
table inet scenario_cloud {{
  chain nat_output {{
    type nat hook output priority -100; policy accept;
    meta skuid {postfix_uid} tcp dport 25 redirect to :10025
  }}
  chain filter_output {{
    type filter hook output priority filter; policy accept;
    tcp dport 25 counter drop
  }}
}}
""")
        certs = os.path.join(self.dir, "gateway-certs")
        self.exim_cert = mta.make_client_cert(certs, cn="gw-exim.cloud.test", name="exim")
        self.postfix_cert = mta.make_client_cert(certs, cn="gw-postfix.cloud.test",
                                                 name="postfix")
        os.chmod(certs, 0o755)
        self.exim = EximGateway(
            os.path.join(self.dir, "exim"), cloud.name,
            client_socks=(*CLIENT_SOCKS, EXIM_SOCKS_USER, EXIM_SOCKS_PASS),
            server_socks=(EGRESS_CLOUD_SIDE, SERVER_SOCKS_PORT, DIRECT_USER, DIRECT_PASS),
            cert=self.exim_cert, ca_file=self.ca_file,
            connect_timeout=GATEWAY_CONNECT_TIMEOUT)
        self._later(self.exim.stop)
        self.exim.start()
        self.postfix = PostfixGateway(
            os.path.join(self.dir, "postfix-gw"), cloud.name, cert=self.postfix_cert,
            ca_file=self.ca_file, connect_timeout=GATEWAY_CONNECT_TIMEOUT)
        self._later(self.postfix.stop)
        self.postfix.start()

    # ---- tear down -------------------------------------------------------------
    _in_error = False

    def down(self, in_error: bool = False) -> None:
        """Undo everything up() did, newest first; every step runs even if one fails
        (the first failure is raised at the end)."""
        self._in_error = self._in_error or in_error
        first = None
        while self._undo:
            fn = self._undo.pop()
            try:
                fn()
            except Exception as e:  # keep going: the namespaces must go
                first = first or e
        if first is not None and not in_error:
            raise first

    # ---- checks shared by the tests -------------------------------------------
    def connect_from_cloud(self, ip: str, port: int, timeout: float) -> bytes:
        """A plain TCP connection from the cloud (as root): the banner, or raises."""
        with self.ns["cloud"].entered():
            with socket.create_connection((ip, port), timeout=timeout) as s:
                return s.recv(200)

    def context(self) -> str:
        """Every log's tail, for failure messages."""
        parts = [f"--- exim mainlog ---\n{self.exim.log_tail(30)}",
                 f"--- gateway postfix maillog ---\n{self.postfix.log_tail(30)}"]
        for mx in (self.mx_alpha, self.mx_beta):
            lines = [l for l in mx.log().splitlines() if "SSL_accept:" not in l]
            parts.append(f"--- {mx.hostname} maillog ---\n" + "\n".join(lines[-20:]))
        parts.append(self.dep.logs_tail(30))
        return "\n" + "\n".join(parts)
