"""Transparent mode with a real Postfix as the sending gateway (the DESIGN.md scenario).

Three network namespaces made here (``ip netns add``; the file already runs inside
tests/run_isolated, as root), joined by veth pairs:

    cloud  10.9.1.1 ----------- 10.9.1.2  egress  10.9.2.2, 10.9.2.3 ----------- internet
    sending Postfix                       mxegress-server                       10.9.2.10 (nothing on :25)
    mxegress-client                       tenant source = 10.9.2.3              10.9.2.11 Postfix MX
      [transparent] 127.0.0.1:10025       listen 10.9.1.2:8443
    nftables: postfix's tcp/25 -> :10025  ip_forward = 1 (so only the firewall
              any other tcp/25 dropped      of the cloud keeps mail from leaving
                                            around the pair)

The cloud's default route goes through the egress namespace, which forwards: without
the pair, Postfix's connection would reach the MX directly, from 10.9.1.1. The
nftables table in the cloud (``meta skuid`` of the postfix user, tcp dport 25 ->
``redirect to :10025`` in a nat output chain; every other outbound tcp/25 dropped)
makes the pair the only way out, as on a real gateway. The sending Postfix uses
``relayhost`` with IP literals (no DNS here); with two next hops (Postfix >= 3.5
takes a list and tries them in order) it stands in for two MX records.

Checks: the message arrives at the MX; the MX saw the connection from 10.9.2.3 (the
tenant's source, not the namespace's primary 10.9.2.2, not the cloud's 10.9.1.1);
STARTTLS was end to end; the client logged a transparent session and the server its
dial. Failure case: the first next hop refuses (nothing on 10.9.2.10:25), the client
tells Postfix with a reset or a 421 greeting (``on_failure``), Postfix logs the
failure for that host and delivers through the second in the same attempt.
"""

import os
import pwd
import re
import socket
import time
import unittest
import uuid

import mxtest
from mta import PostfixMX
from netns import Deployment, Netns, SenderPostfix, link, sweep_stale_namespaces

CLOUD, EGRESS_CLOUD_SIDE = "10.9.1.1", "10.9.1.2"
EGRESS_PRIMARY, EGRESS_SOURCE = "10.9.2.2", "10.9.2.3"
MX_DOWN, MX_UP = "10.9.2.10", "10.9.2.11"
TUNNEL_PORT = 8443
TRANSPARENT = "127.0.0.1:10025"


def _q(ip):
    return re.escape(ip)


@unittest.skipUnless(mxtest.isolated() and os.geteuid() == 0,
                     "needs root inside tests/run_isolated (namespaces, nftables, Postfix)")
class TransparentPostfixTest(mxtest.ScratchDirTest):
    @classmethod
    def setUpClass(cls):
        cls.make_tmp("mxtransparent-", "transparent")
        sweep_stale_namespaces()

        # --- namespaces and links (each deleted at clean-up, even on failure)
        cls.ns = {}
        for role in ("cloud", "egress", "internet"):
            cls.ns[role] = Netns(role)
            cls.addClassCleanup(cls.ns[role].delete)
        cloud, egress, internet = cls.ns["cloud"], cls.ns["egress"], cls.ns["internet"]
        link(cloud, [f"{CLOUD}/24"], egress, [f"{EGRESS_CLOUD_SIDE}/24"])
        link(egress, [f"{EGRESS_PRIMARY}/24", f"{EGRESS_SOURCE}/24"],
             internet, [f"{MX_DOWN}/24", f"{MX_UP}/24"])
        cloud.ip("route", "add", "default", "via", EGRESS_CLOUD_SIDE)
        internet.ip("route", "add", "default", "via", EGRESS_PRIMARY)
        egress.sysctl("net.ipv4.ip_forward", "1")

        # --- the MX on the internet (10.9.2.10 has nothing on :25: refused)
        cls.mx = PostfixMX(MX_UP, 25, os.path.join(cls.tmp, "mx"))
        cls.addClassCleanup(cls.mx.stop)
        with internet.entered():
            cls.mx.start()

        # --- before the firewall: the cloud reaches the MX directly (routing works,
        # so what stops it later is the firewall, and what carries it is the pair)
        s = cloud.connect(MX_UP, 25, timeout=5)
        cls.direct_banner = s.recv(200)
        s.close()

        # --- the cloud's firewall
        cls.postfix_uid = pwd.getpwnam("postfix").pw_uid
        # "priority -100" is dstnat; nft 1.0.6 (Debian 12) refuses the name "dstnat"
        # in an output hook ("invalid priority expression value in this context")
        cloud.nft(f"""
table inet mxtest_transparent {{
  chain nat_output {{
    type nat hook output priority -100; policy accept;
    meta skuid {cls.postfix_uid} tcp dport 25 redirect to :10025
  }}
  chain filter_output {{
    type filter hook output priority filter; policy accept;
    tcp dport 25 counter drop
  }}
}}
""")

        # --- the pair
        cls.dep = Deployment(prefix="mxtransparent-dep-")
        cls.addClassCleanup(lambda: cls.dep.close(in_error=cls.failed))
        cls.server = cls.dep.server(
            "server", listen=(EGRESS_CLOUD_SIDE, TUNNEL_PORT),
            tenants=[{"name": "cloudgw", "keys": [], "source": [EGRESS_SOURCE]}],
            ports=[25], allow=["10.9.2.0/24"], settings={"connect_timeout": "5s"})
        # one client per on_failure action, all with the same transparent listener:
        # each test starts its own and stops it at the end
        cls.clients = {}
        for action in ("reset", "421"):
            cls.clients[action] = cls.dep.client(
                f"client-{action}", servers=[(cls.server, {"pool": 2})], socks5=False,
                transparent={"listen": [TRANSPARENT], "on_failure": action},
                settings={"retry_interval": "1s"})
        cls.server.tenants[0]["keys"] = list(cls.clients.values())
        cls.server.start(netns=egress)
        cls.failed = False

    def setUp(self):
        self.dep.check()
        self.sender = None
        self.client = None

    # ---- helpers -------------------------------------------------------------

    def start_client(self, on_failure):
        """The client in the cloud with [transparent] on 127.0.0.1:10025 and this
        on_failure; stopped at the end of the test (the next one takes the port)."""
        client = self.clients[on_failure]
        client.start(netns=self.ns["cloud"])
        self.addCleanup(self.stop_client, client)
        self.client = client
        return client

    def stop_client(self, client):
        problems = client.stop()
        self.assertEqual(problems, [], self.context())

    def start_sender(self, relayhost):
        workdir = os.path.join(self.tmp, self._testMethodName)
        self.sender = SenderPostfix(workdir, relayhost, netns=self.ns["cloud"])
        self.sender.start()
        self.addCleanup(self.sender.stop)
        return self.sender

    def context(self):
        out = []
        if self.sender is not None:
            out.append("--- sending Postfix maillog ---\n" + self.sender.log_tail(30))
        mx = [l for l in self.mx.log().splitlines() if "SSL_accept:" not in l]
        out.append("--- MX maillog ---\n" + "\n".join(mx[-25:]))
        out.append(self.dep.logs_tail(40))
        return "\n" + "\n".join(out)

    def send_and_wait_delivery(self, label):
        """Submit one message to the sending Postfix; wait for it in the MX's Maildir.
        Returns (token, message text, MX maillog written meanwhile)."""
        token = f"{label}-{uuid.uuid4().hex}"
        subject = f"mxegress transparent {token}"
        mx_mark = len(self.mx.log())
        self.sender.send("alice@cloud.test", self.mx.address("bob"), subject,
                         f"sent by Postfix through the redirect, token {token}")
        try:
            text = self.mx.wait_for_message(30, contains=token)
        except TimeoutError as e:
            self.fail(f"{e}{self.context()}")
        self.assertIn(f"Subject: {subject}", text)
        self.sender.wait_log(r"status=sent", 10)
        time.sleep(0.2)  # postlogd writes asynchronously
        return token, text, self.mx.log()[mx_mark:]

    def assert_mx_saw_egress_source(self, text, mx_log):
        # Postfix's own Received header names the client address it accepted from
        received = re.search(r"Received: from gw\.cloud\.test \([^)]*\)", text)
        self.assertIsNotNone(received, "no Received: from gw.cloud.test header:\n" + text)
        self.assertIn(f"[{EGRESS_SOURCE}]", received.group(0),
                      "the MX saw another address than the tenant's source" + self.context())
        peers = set(re.findall(r"connect from \S*\[([0-9.]+)\]", mx_log))
        self.assertEqual(peers, {EGRESS_SOURCE}, "addresses the MX accepted connections from "
                         "during the test" + self.context())

    # ---- tests -----------------------------------------------------------------

    def test_firewall_leaves_only_the_redirect(self):
        """Routing would let the cloud reach the MX directly (checked before the rules
        went in); with the rules, a tcp/25 connection by another user (root) is
        dropped, so mail can only leave through the pair."""
        self.assertTrue(self.direct_banner.startswith(b"220 "), self.direct_banner)
        with self.assertRaises((TimeoutError, socket.timeout)):
            self.ns["cloud"].connect(MX_UP, 25, timeout=1.5).close()

    def test_mail_reaches_mx_through_the_pair(self):
        """Postfix relays to [10.9.2.11]; its outbound :25 is redirected to the client,
        which tunnels it to the server, which dials from 10.9.2.3."""
        client = self.start_client("reset")
        smark = self.server.mark()
        sender = self.start_sender([f"[{MX_UP}]"])
        token, text, mx_log = self.send_and_wait_delivery("direct")
        self.assert_mx_saw_egress_source(text, mx_log)
        # Postfix delivered to the MX itself, with STARTTLS end to end
        log = sender.log()
        self.assertRegex(log, r"relay=%s\[%s\]:25, .*status=sent" % (_q(MX_UP), _q(MX_UP)),
                         self.context())
        self.assertRegex(log, r"TLS connection established to %s\[%s\]:25" % (_q(MX_UP),
                                                                              _q(MX_UP)),
                         self.context())
        self.assertIn("using TLS", text)
        # the pair carried it
        self.assertTrue(any(re.search(r"dial target=%s:25 address=%s:25 from=%s"
                                      % (_q(MX_UP), _q(MX_UP), _q(EGRESS_SOURCE)), l)
                            for l in self.server.dial_lines(smark)),
                        "no dial line from the tenant's source" + self.context())
        client.wait_for(r"session: peer=%s:\d+ target=%s:25 via=%s:%d tunnel=(pooled|fresh) "
                        r"bytes_up=[1-9]\d* [^\n]*end=" % (_q(CLOUD), _q(MX_UP),
                                                           _q(EGRESS_CLOUD_SIDE), TUNNEL_PORT),
                        15)

    def check_next_mx(self, on_failure, first_host_failure):
        """relayhost = [10.9.2.10], [10.9.2.11]: 10.9.2.10 refuses; Postfix must log
        FIRST_HOST_FAILURE for it and deliver through 10.9.2.11 in the same attempt."""
        client = self.start_client(on_failure)
        smark = self.server.mark()
        sender = self.start_sender([f"[{MX_DOWN}]", f"[{MX_UP}]"])
        start = time.monotonic()
        token, text, mx_log = self.send_and_wait_delivery(f"next-mx-{on_failure}")
        elapsed = time.monotonic() - start
        self.assert_mx_saw_egress_source(text, mx_log)
        log = sender.log()
        self.assertTrue(re.search(first_host_failure, log), "Postfix did not log the failure "
                        f"of the first host as /{first_host_failure}/" + self.context())
        self.assertRegex(log, r"relay=%s\[%s\]:25, .*status=sent" % (_q(MX_UP), _q(MX_UP)),
                         self.context())
        self.assertNotIn("status=deferred", log, "Postfix deferred instead of moving on to "
                         "the next host" + self.context())
        self.assertLess(elapsed, 20, self.context())
        # the server tried the first host from the tenant's source and was refused
        dials = self.server.dial_lines(smark)
        self.assertTrue(any(f"dial target={MX_DOWN}:25" in l for l in dials),
                        f"{dials}" + self.context())
        cl = client.text()
        self.assertRegex(cl, r"transparent: peer=%s:\d+ target=%s:25 failed \(.*\): %s"
                         % (_q(CLOUD), _q(MX_DOWN), on_failure), self.context())
        self.assertRegex(cl, r"session: peer=%s:\d+ target=%s:25 via=\S+ tunnel=\S+ bytes_up="
                         % (_q(CLOUD), _q(MX_UP)), self.context())

    def test_refused_mx_reset_postfix_tries_next(self):
        """on_failure = "reset": Postfix sees the connection reset before the greeting
        ("lost connection ... while receiving the initial server greeting", or "connect
        to ...: Connection reset by peer") and moves on to the next host."""
        # Which of its two lines Postfix writes depends on when the reset arrives: while
        # it still checks the connect (SO_ERROR), or once it waits for the greeting.
        self.check_next_mx(
            "reset",
            r"lost connection with %s\[%s\] while receiving the initial server greeting"
            r"|connect to %s\[%s\]:25: Connection reset by peer"
            % (_q(MX_DOWN), _q(MX_DOWN), _q(MX_DOWN), _q(MX_DOWN)))

    def test_refused_mx_421_postfix_tries_next(self):
        """on_failure = "421": Postfix logs the client's 421 greeting, which says what
        happened, and moves on to the next host."""
        self.check_next_mx(
            "421",
            r"host %s\[%s\] refused to talk to me: 421 4\.4\.1 mxegress: connection to "
            r"%s:25 refused" % (_q(MX_DOWN), _q(MX_DOWN), _q(MX_DOWN)))


if __name__ == "__main__":
    unittest.main()
