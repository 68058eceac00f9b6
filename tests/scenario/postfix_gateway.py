"""An unchanged Postfix as the second sending gateway (mxegress-client's transparent
mode carries its connections: nftables in the cloud redirects the postfix user's
tcp/25 to the client).

Standard library only; root. Unlike netns.SenderPostfix (relayhost = IP literals,
no DNS), this one looks the MX up in DNS like any Internet mail server, requires
STARTTLS with the MX certificate verified (``smtp_tls_security_level = verify``,
logged as "Verified TLS connection established") and presents a client
certificate. Its master runs under ``ip netns exec`` so that smtp(8) reads the
namespace's /etc/netns/NAME/resolv.conf.
"""

from __future__ import annotations

import os
import re
import subprocess

import mta

_MAIN_CF = mta.MAIN_CF_INSTANCE + """\
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = {hostname}
mydomain = {domain}
myorigin = {domain}
mydestination =
mynetworks = 127.0.0.0/8
local_transport = error:this gateway delivers nothing locally
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# MX lookups in DNS, as on the Internet
relayhost =
smtp_dns_support_level = enabled
smtp_host_lookup = dns
smtp_address_preference = ipv4
# STARTTLS required, the MX certificate verified against the MX name from DNS
smtp_tls_security_level = verify
smtp_tls_CAfile = {ca}
smtp_tls_cert_file = {cert}
smtp_tls_key_file = {key}
smtp_tls_loglevel = 1
smtp_tls_session_cache_database =
# through the redirect the TCP connect is local and instant: the wait for the
# greeting (which comes once mxegress-server reached the MX, or its 421) is what
# the connect timeout is on a direct path
smtp_connect_timeout = {connect_timeout}s
smtp_helo_timeout = {connect_timeout}s
# deferred mail is retried soon (tests wait seconds, not minutes)
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
smtp_connection_cache_on_demand = no
"""

_MASTER_CF = (mta.MASTER_CF_HEADER + mta.MASTER_CF_COMMON_SERVICES
              + mta.MASTER_CF_LOG_SERVICES)


class PostfixGateway:
    """A private Postfix that sends only, rooted at DIR, run in namespace NETNS_NAME.
    Mail is submitted with ``sendmail -C DIR/etc``; the log is DIR/log/maillog."""

    def __init__(self, directory: str, netns_name: str, *, cert, ca_file: str,
                 hostname: str = "gw-postfix.cloud.test", domain: str = "tenant-b.test",
                 connect_timeout: int = 5):
        self.dir = os.path.abspath(directory)
        self.netns_name = netns_name
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.logdir = os.path.join(self.dir, "log")
        self.log_path = os.path.join(self.logdir, "maillog")
        self.hostname = hostname
        self.domain = domain
        self.proc: subprocess.Popen | None = None
        mta.make_instance_dirs(self.dir, (self.etc, self.queue, self.data, self.logdir),
                               self.data)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(_MAIN_CF.format(
                etc=self.etc, queue=self.queue, data=self.data, base=self.dir,
                log=self.log_path, hostname=hostname, domain=domain, ca=ca_file,
                cert=cert.cert_path, key=cert.key_path, connect_timeout=connect_timeout))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(_MASTER_CF)
        mta.postfix_check(self.etc, AssertionError)

    # ---- use -------------------------------------------------------------
    def send(self, sender: str, rcpt: str, message_id: str, subject: str) -> None:
        msg = (f"From: <{sender}>\nTo: <{rcpt}>\nSubject: {subject}\n"
               f"Message-ID: <{message_id}>\n\nsent by Postfix, {message_id}\n")
        cp = subprocess.run(["/usr/sbin/sendmail", "-C", self.etc,
                             "-f", sender, "-i", "--", rcpt],
                            input=msg, capture_output=True, text=True, timeout=30)
        if cp.returncode != 0:
            raise AssertionError(f"sendmail exited {cp.returncode}: {cp.stderr}")

    def queue_run(self) -> None:
        """``postqueue -f``: every queued message is tried now."""
        subprocess.run(["postqueue", "-c", self.etc, "-f"], capture_output=True, timeout=30)

    def queue_count(self) -> int:
        out = subprocess.run(["postqueue", "-c", self.etc, "-j"], capture_output=True,
                             text=True, timeout=30).stdout
        return len([l for l in out.splitlines() if l.strip()])

    def clear_queue(self) -> None:
        subprocess.run(["postsuper", "-c", self.etc, "-d", "ALL"], capture_output=True,
                       timeout=30)

    def log(self) -> str:
        return mta.read_maillog(self.log_path)

    def log_tail(self, n: int = 40) -> str:
        lines = [l for l in self.log().splitlines() if "SSL_connect:" not in l]
        return "\n".join(lines[-n:]) or "(maillog empty)"

    def wait_log(self, pattern: str, timeout: float = 30.0, since: int = 0) -> re.Match:
        return mta.wait_in_log("gateway postfix", self.log, self.log_tail, self.proc, pattern,
                               timeout, since)

    # ---- life cycle --------------------------------------------------------
    def start(self) -> "PostfixGateway":
        out = open(os.path.join(self.dir, "master.out"), "w")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns_name, mta.MASTER,
                                      "-c", self.etc, "-s"],
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT)
        out.close()
        self.wait_log(r"postfix/master\[\d+\]: daemon started", 20)
        return self

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is not None:
            mta.stop_master(p)
