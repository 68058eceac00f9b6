"""The deployment scenario (issue 21, tests/scenario/topology.py): the block is real,
the gateways find their MX in a real DNS server, Exim and Postfix deliver through
the pair with STARTTLS verified end to end, and two tenants leave from their own
source addresses at once.
"""

import ipaddress
import re
import socket
import threading
import time
import unittest

import mxtest
from dnslab import dns_query
from scenario_test import ScenarioTest, client_certs_by_peer, message_ids
from topology import (CLIENT_SOCKS, CLOUD, DNS, EXIM_SOCKS_PASS, EXIM_SOCKS_USER,
                      GATEWAY_CONNECT_TIMEOUT, MX1_ALPHA,
                      SOURCE_EXIM, SOURCE_POSTFIX)

NOERROR, NXDOMAIN = 0, 3
QTYPES = {"A": 1, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}


def query(server: tuple[str, int], name: str, qtype: str):
    return dns_query(server, name, QTYPES[qtype])


def reverse_name(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer


class DeliveryTest(ScenarioTest):

    def test_dns_server_answers_the_gateways_records(self):
        """dnsmasq in the internet answers the cloud's queries: MX (two for beta.test),
        A, AAAA, PTR and TXT (SPF); unknown names are NXDOMAIN, not forwarded."""
        expect = [("alpha.test", "MX", 1), ("beta.test", "MX", 2), ("gamma.test", "MX", 1),
                  ("mx1.alpha.test", "A", 1), ("mx1.alpha.test", "AAAA", 1),
                  ("mx2.beta.test", "A", 1), (reverse_name(SOURCE_EXIM), "PTR", 1),
                  (reverse_name(SOURCE_POSTFIX), "PTR", 1), ("tenant-a.test", "TXT", 1),
                  ("tenant-b.test", "TXT", 1)]
        with self.sc.ns["cloud"].entered():
            for name, qtype, count in expect:
                self.assertEqual(query((DNS, 53), name, qtype), (NOERROR, count), (name, qtype))
            self.assertEqual(query((DNS, 53), "nothing.alpha.test", "A")[0], NXDOMAIN)

    def test_direct_port_25_from_the_cloud_is_blocked(self):
        """Routing alone would carry the cloud's tcp/25 to the MX (the banner was read
        before the firewall went in); with it, a direct connection times out, while
        the same connection through mxegress-client gets the MX's banner."""
        self.assertTrue(self.sc.direct_banner.startswith(b"220 mx1.alpha.test"),
                        self.sc.direct_banner)
        with self.assertRaises((TimeoutError, socket.timeout)):
            self.sc.connect_from_cloud(MX1_ALPHA, 25, timeout=2)
        with self.sc.ns["cloud"].entered():
            r = mxtest.socks5_connect(CLIENT_SOCKS, MX1_ALPHA, 25, username=EXIM_SOCKS_USER,
                                      password=EXIM_SOCKS_PASS)
        with r:
            self.assertTrue(r.ok, r.describe() + self.context())
            r.sock.settimeout(10)
            self.assertTrue(r.sock.recv(200).startswith(b"220 mx1.alpha.test"))
            r.sock.sendall(b"QUIT\r\n")

    def test_exim_without_the_pair_cannot_send(self):
        """Exim's ``direct_smtp`` transport (no proxy) times out connecting to the MX
        after its connect_timeout and defers; the same message through the pair
        (client A) is delivered."""
        ex, mx = self.sc.exim, self.sc.mx_alpha
        xmark = len(ex.log())
        direct = self.unique_id("direct", "tenant-a.test")
        paired = self.unique_id("paired", "tenant-a.test")
        try:
            start = time.monotonic()
            ex.send("alice@tenant-a.test", "direct-bob@alpha.test", direct, "no pair")
            ex.send("alice@tenant-a.test", "bob@alpha.test", paired, "the pair")
            ex.wait_log(rf"H=mx1\.alpha\.test \[{re.escape(MX1_ALPHA)}\] Connection timed out",
                        GATEWAY_CONNECT_TIMEOUT + 10, xmark)
            took = time.monotonic() - start
            self.assertGreaterEqual(took, GATEWAY_CONNECT_TIMEOUT - 0.5)
            self.assertLessEqual(took, GATEWAY_CONNECT_TIMEOUT + 1.5)
            ex.wait_log(r"== direct-bob@alpha\.test R=direct T=direct_smtp defer", 5, xmark)
            self.wait_message_ids(mx, [paired], 30)
            self.assertEqual(message_ids(mx)[direct], 0)
        finally:
            ex.clear_queue()

    def assert_asked_dns(self, mark, who):
        """The gateway looked alpha.test's MX and the MX host's address up itself, in
        the scenario's DNS server (its query log after MARK)."""
        log = self.sc.dns.log()[mark:]
        for q in (r"query\[MX\] alpha\.test", r"query\[A\] mx1\.alpha\.test"):
            self.assertRegex(log, rf"{q} from {re.escape(CLOUD)}\b",
                             f"{who} did not ask the scenario's DNS server")

    def assert_mx_records(self, mx, mark, texts, source, cert):
        """Each delivered message was received from SOURCE, and the MX logged the
        gateway's client certificate CERT for connections from SOURCE only."""
        for text in texts:
            received = re.search(r"^Received: from gw-\S+ \([^)]*\)", text, re.M)
            self.assertIsNotNone(received, text)
            self.assertIn(f"[{source}]", received.group(0), text + self.context())
        certs = client_certs_by_peer(mx, mark)
        self.assertEqual(certs.get(source), {cert.sha256}, f"{certs}" + self.context())

    def test_exim_delivers_through_client_and_server_socks_verified(self):
        """Exim looks alpha.test's MX up, reaches it through mxegress-client's SOCKS5
        listener and through mxegress-server's own, with STARTTLS: Exim logs the MX's
        verified certificate (CV=yes DN=...), the MX logs Exim's client certificate
        and the tenant's source address."""
        ex, mx = self.sc.exim, self.sc.mx_alpha
        mark, xmark, dmark = len(mx.log()), len(ex.log()), len(self.sc.dns.log())
        ids = {"bob": self.unique_id("exim-client", "tenant-a.test"),
               "viaserver-bob": self.unique_id("exim-server", "tenant-a.test")}
        for local, mid in ids.items():
            ex.send("alice@tenant-a.test", f"{local}@alpha.test", mid, "through the pair")
        self.wait_message_ids(mx, ids.values(), 30)
        for local, router in (("bob", "via_client_socks"), ("viaserver-bob", "via_server_socks")):
            ex.wait_log(rf"=> {local}@alpha\.test R={router} T=\S+ H=mx1\.alpha\.test "
                        rf"\[{re.escape(MX1_ALPHA)}\] X=TLS1\.3:\S+ CV=yes "
                        rf'DN="CN=mx1\.alpha\.test"', 10, xmark)
        texts = [t for t in mx.messages() if any(mid in t for mid in ids.values())]
        self.assert_mx_records(mx, mark, texts, SOURCE_EXIM, self.sc.exim_cert)
        self.assertIn("tenant=exim-gw", self.sc.server.text())
        self.assert_asked_dns(dmark, "Exim")

    def test_postfix_delivers_through_transparent_mode_verified(self):
        """The unchanged Postfix looks the MX up, its tcp/25 is redirected to
        mxegress-client; it logs "Verified TLS connection established" to the MX, the
        MX logs its client certificate and the other tenant's source address."""
        pf, mx = self.sc.postfix, self.sc.mx_alpha
        mark, pmark, dmark = len(mx.log()), len(pf.log()), len(self.sc.dns.log())
        mid = self.unique_id("postfix", "tenant-b.test")
        pf.send("carol@tenant-b.test", "dave@alpha.test", mid, "through the redirect")
        self.wait_message_ids(mx, [mid], 30)
        pf.wait_log(r"Verified TLS connection established to mx1\.alpha\.test\[%s\]:25: "
                    r"TLSv1\.3" % re.escape(MX1_ALPHA), 10, pmark)
        pf.wait_log(r"to=<dave@alpha\.test>, relay=mx1\.alpha\.test\[%s\]:25, .*status=sent"
                    % re.escape(MX1_ALPHA), 10, pmark)
        texts = [t for t in mx.messages() if mid in t]
        self.assert_mx_records(mx, mark, texts, SOURCE_POSTFIX, self.sc.postfix_cert)
        self.assert_asked_dns(dmark, "Postfix")
        self.sc.client_postfix.wait_for(r"session: peer=\S+ target=%s:25 " % re.escape(MX1_ALPHA),
                                        10)

    def test_two_tenants_at_once(self):
        """Both gateways send at the same time (3 messages each, to two domains): every
        message arrives once, each gateway's from its own tenant's source address, and
        each source presented only its own gateway's client certificate."""
        marks = {mx: len(mx.log()) for mx in (self.sc.mx_alpha, self.sc.mx_beta)}
        sent = {SOURCE_EXIM: [], SOURCE_POSTFIX: []}

        def exim_batch():
            for i in range(3):
                mid = self.unique_id(f"tenants-exim-{i}", "tenant-a.test")
                sent[SOURCE_EXIM].append(mid)
                self.sc.exim.send("alice@tenant-a.test", f"t{i}@{'alpha' if i % 2 else 'beta'}"
                                  f".test", mid, "two tenants")

        def postfix_batch():
            for i in range(3):
                mid = self.unique_id(f"tenants-postfix-{i}", "tenant-b.test")
                sent[SOURCE_POSTFIX].append(mid)
                self.sc.postfix.send("carol@tenant-b.test", f"t{i}@{'alpha' if i % 2 else 'beta'}"
                                     f".test", mid, "two tenants")

        threads = [threading.Thread(target=exim_batch), threading.Thread(target=postfix_batch)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for mid in sent[SOURCE_EXIM] + sent[SOURCE_POSTFIX]:
            mx = self.sc.mx_alpha if "-1." in mid else self.sc.mx_beta
            self.wait_message_ids(mx, [mid], 60)
        for source, ids in sent.items():
            for mid in ids:
                mx = self.sc.mx_alpha if "-1." in mid else self.sc.mx_beta
                self.assertEqual(message_ids(mx)[mid], 1, mid)
                text = next(t for t in mx.messages() if mid in t)
                received = re.search(r"^Received: from gw-\S+ \([^)]*\)", text, re.M).group(0)
                self.assertIn(f"[{source}]", received, mid + self.context())
        for mx, mark in marks.items():
            certs = client_certs_by_peer(mx, mark)
            self.assertEqual(certs, {SOURCE_EXIM: {self.sc.exim_cert.sha256},
                                     SOURCE_POSTFIX: {self.sc.postfix_cert.sha256}},
                             f"{mx.hostname}" + self.context())


if __name__ == "__main__":
    unittest.main()
