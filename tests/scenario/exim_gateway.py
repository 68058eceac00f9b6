"""A real Exim as a sending mail gateway that speaks SOCKS5 itself (``socks_proxy``).

Standard library only; root. The binary is Debian's exim4-daemon-heavy, unpacked
(not installed) by tests/scenario/fetch-exim. The instance has its own configure
file, spool and log directories under DIR; it runs as a foreground daemon
(``-bdf -q5s``: a queue runner every 5 s, and an SMTP listener on 127.0.0.1:2525
for people exploring with ``tests/scenario/run --keep``) under ``ip netns exec``,
so that it and every delivery process it forks use the namespace's
/etc/netns/NAME/resolv.conf for their MX lookups.

Routing: recipients whose local part starts with ``viaserver-`` go through
mxegress-server's own SOCKS5 listener (transport ``server_socks``), those starting
with ``direct-`` straight to the MX without any proxy (``direct_smtp``: the path
the cloud's firewall blocks); every other one through mxegress-client's SOCKS5
listener (``client_socks``). Both log in with RFC
1929, look the MX up in DNS (dnslookup router), require STARTTLS with the MX's
certificate verified (``tls_verify_hosts = *``) and present the gateway's client
certificate.
"""

from __future__ import annotations

import os
import pwd
import re
import signal
import subprocess

import mta

HERE = os.path.dirname(os.path.abspath(__file__))
FETCH_EXIM = os.path.join(HERE, "fetch-exim")

_CONFIGURE = """\
exim_path = {exim}
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
primary_hostname = {hostname}
qualify_domain = {domain}
keep_environment =
trusted_users = root
never_users =
disable_ipv6 = true
host_lookup =
rfc1413_hosts =
local_interfaces = 127.0.0.1.2525
acl_smtp_rcpt = accept
log_selector = +tls_peerdn +tls_certificate_verified +tls_cipher +deliver_time \\
               +received_recipients +smtp_connection +outgoing_interface
# the queue runner picks messages up often; a deferred one is retried soon
queue_run_max = 2
remote_max_parallel = 4

begin routers

# no proxy at all: what the gateway would do without mxegress (the cloud's
# firewall drops it)
direct:
  driver = dnslookup
  local_parts = ^direct-
  transport = direct_smtp
  no_more

via_server_socks:
  driver = dnslookup
  local_parts = ^viaserver-
  transport = server_socks
  no_more

via_client_socks:
  driver = dnslookup
  transport = client_socks
  no_more

begin transports

client_socks:
  driver = smtp
  socks_proxy = {client_socks}
{tls}
server_socks:
  driver = smtp
  socks_proxy = {server_socks}
{tls}
direct_smtp:
  driver = smtp
{tls}
begin retry

*   *   F,1h,10s
"""

_TLS = """\
  connect_timeout = {connect_timeout}s
  # no TCP Fast Open: with it (the default) a connect that gets no SYN-ACK is
  # bounded by the wait for the banner (command_timeout), not connect_timeout
  hosts_try_fastopen =
  helo_data = {hostname}
  hosts_require_tls = *
  tls_verify_hosts = *
  tls_verify_certificates = {ca}
  tls_certificate = {cert}
  tls_privatekey = {key}
"""


def fetch_exim() -> str:
    """Path of the unpacked exim binary (tests/scenario/fetch-exim: from its cache)."""
    cp = subprocess.run([FETCH_EXIM], capture_output=True, text=True, timeout=300)
    if cp.returncode != 0:
        raise AssertionError(f"fetch-exim failed: {cp.stderr.strip()}")
    return cp.stdout.strip()


def socks_option(host: str, port: int, user: str, password: str, timeout: int) -> str:
    """Exim's socks_proxy value: one proxy with RFC 1929 login and a timeout."""
    return f"{host} port={port} auth=name name={user} pass={password} tmo={timeout}"


class EximGateway:
    """Exim in namespace NETNS_NAME (a name for ``ip netns exec``), rooted at DIR.

    client_socks / server_socks: (host, port, user, password) of the two proxies.
    cert: an mta.ClientCert; ca_file: the MX certificates it trusts."""

    def __init__(self, directory: str, netns_name: str, *, client_socks, server_socks,
                 cert, ca_file: str, hostname: str = "gw-exim.cloud.test",
                 domain: str = "tenant-a.test", connect_timeout: int = 5):
        self.dir = directory
        self.netns_name = netns_name
        self.exim = fetch_exim()
        self.hostname = hostname
        self.domain = domain
        self.connect_timeout = connect_timeout
        self.config_path = os.path.join(directory, "configure")
        self.log_path = os.path.join(directory, "log", "mainlog")
        self.panic_path = os.path.join(directory, "log", "paniclog")
        self.proc: subprocess.Popen | None = None
        tls = _TLS.format(connect_timeout=connect_timeout, hostname=hostname, ca=ca_file,
                          cert=cert.cert_path, key=cert.key_path)
        self.config_text = _CONFIGURE.format(
            exim=self.exim, dir=directory, hostname=hostname, domain=domain, tls=tls,
            client_socks=socks_option(*client_socks, connect_timeout),
            server_socks=socks_option(*server_socks, connect_timeout))
        self._prepare(cert)

    def _prepare(self, cert) -> None:
        exim_user = pwd.getpwnam("Debian-exim")
        for sub in ("", "spool", "log"):
            path = os.path.join(self.dir, sub)
            os.makedirs(path, exist_ok=True)
            os.chown(path, exim_user.pw_uid, exim_user.pw_gid)
            os.chmod(path, 0o750 if sub else 0o755)
        # the smtp transport runs as Debian-exim and reads the client key
        os.chown(cert.key_path, exim_user.pw_uid, exim_user.pw_gid)
        with open(self.config_path, "w") as f:
            f.write(self.config_text)
        os.chmod(self.config_path, 0o644)
        cp = self.run("-bV")
        if "SOCKS" not in cp.stdout or cp.returncode != 0:
            raise AssertionError(f"{self.exim} -bV: no SOCKS support or an error:\n"
                                 f"{cp.stdout}{cp.stderr}")

    # ---- commands ----------------------------------------------------------
    def argv(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns_name, self.exim, "-C", self.config_path,
                *args]

    def run(self, *args: str, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), input=input, capture_output=True, text=True,
                              timeout=timeout)

    def send(self, sender: str, rcpt: str, message_id: str, subject: str,
             queue_only: bool = False) -> None:
        """Submit one message on the command line (``-odq``: only queue it; otherwise
        ``-odb``: a background delivery starts at once)."""
        msg = (f"From: <{sender}>\nTo: <{rcpt}>\nSubject: {subject}\n"
               f"Message-ID: <{message_id}>\n\nsent by Exim, {message_id}\n")
        cp = self.run("-odq" if queue_only else "-odb", "-f", sender, "--", rcpt, input=msg)
        if cp.returncode != 0:
            raise AssertionError(f"exim submission exited {cp.returncode}: {cp.stderr}")

    def queue_run(self, force: bool = True) -> None:
        """``exim -qff`` (every message, frozen ones too, whatever the retry times)."""
        self.run("-qff" if force else "-q", timeout=120)

    def queue_count(self) -> int:
        return int(self.run("-bpc").stdout.strip() or 0)

    def clear_queue(self) -> None:
        ids = self.run("-bpr").stdout
        for mid in re.findall(r"^\s*\S+\s+\S+\s+(\S{16,23})\s", ids, re.M):
            self.run("-Mrm", mid)

    # ---- daemon --------------------------------------------------------------
    def start(self) -> "EximGateway":
        out = open(os.path.join(self.dir, "daemon.out"), "w")
        # a session of its own: stop() ends the daemon's delivery processes too
        self.proc = subprocess.Popen(self.argv("-bdf", "-q5s"), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        self.wait_log(r"daemon started", 15)
        return self

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        try:
            os.killpg(p.pid, signal.SIGKILL)  # whatever delivery it left running
        except ProcessLookupError:
            pass

    # ---- log -------------------------------------------------------------------
    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        panic = ""
        if os.path.exists(self.panic_path):
            with open(self.panic_path, errors="replace") as f:
                panic = "\n--- exim paniclog ---\n" + f.read()[-3000:]
        return "\n".join(self.log().splitlines()[-n:]) + panic

    def wait_log(self, pattern: str, timeout: float = 30.0, since: int = 0) -> re.Match:
        return mta.wait_in_log("exim daemon", self.log, self.log_tail, self.proc, pattern,
                               timeout, since)
