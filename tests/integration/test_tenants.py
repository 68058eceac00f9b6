"""Per-tenant egress identity: each tenant's connections leave from its own sources.

One Fleet serves the file: six tenants, each with its own client (its own key)
and its own loopback source addresses (127.0.0.2...; ::2... added to lo in the
namespace). The destinations are WhoAmIServers, which write back the peer
address they accepted from, so every test checks what the far end really saw,
and that the SOCKS5 reply's BND.ADDR:BND.PORT is exactly that address.

A source that is not on the host is checked separately: the server refuses to
start with it (exit 1, the message names the tenant and the address).
"""

import socket
import time
import unittest

from mxtest import (CMD_CONNECT, METHOD_USERPASS, Fleet, REP_ATYP_NOT_SUPPORTED,
                    REP_HOST_UNREACHABLE, REP_OK, SharedHarnessTest, WhoAmIServer,
                    add_local_address, local_port_range, read_reply, read_whoami, run_server,
                    socks5_greeting, socks5_request, socks5_userpass)

SOURCES_V6 = ["::2", "::3", "::4"]

TENANTS = {
    "acme": {"source": ["127.0.0.2", "::2"]},
    "beta": {"source": ["127.0.0.3", "::3"]},
    "rr": {"source": ["127.0.0.4", "127.0.0.5"], "source_selection": "round-robin"},
    "lu": {"source": ["127.0.0.6", "127.0.0.7"], "source_selection": "least-used"},
    "v4only": {"source": ["127.0.0.8"]},
    "v6only": {"source": ["::4"]},
}


class TenantSourceTest(SharedHarnessTest):
    @classmethod
    def setUpClass(cls):
        for ip in SOURCES_V6:
            add_local_address(ip)
        cls.mx = WhoAmIServer("127.0.0.1")
        cls.mx6 = WhoAmIServer("::1")
        # four more destinations for the ephemeral-port test
        cls.more = [WhoAmIServer(f"127.0.1.{i}") for i in range(1, 5)]
        cls.peers = [cls.mx, cls.mx6, *cls.more]
        ports = sorted({p.port for p in cls.peers})
        cls.fleet = cls.start_harness(lambda: Fleet(TENANTS, ports=ports, socks5_users={
            "gw": {"password": "gw-secret", "tenant": "acme", "from": ["127.0.0.1/32"]}}))

    def via(self, client, host, port):
        """CONNECT through CLIENT; returns (SocksResult, (ip, port) the far end saw)."""
        r = self.fleet.clients[client].connect(host, port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply, REP_OK, r.describe() + "\n" + self.fleet.logs_tail(30))
        seen = read_whoami(r.sock)
        return r, seen

    def assert_from(self, client, host, port, source):
        r, seen = self.via(client, host, port)
        self.assertEqual(seen[0], source, f"{client}: the far end saw {seen}")
        self.assertEqual(r.bound, seen, "BND.ADDR:BND.PORT is the source actually used")
        return r, seen

    # ------------------------------------------------------------------
    def test_two_tenants_each_from_its_own_ipv4_source(self):
        self.assert_from("acme", "127.0.0.1", self.mx.port, "127.0.0.2")
        self.assert_from("beta", "127.0.0.1", self.mx.port, "127.0.0.3")
        self.assert_from("acme", "127.0.0.1", self.mx.port, "127.0.0.2")

    def test_two_tenants_each_from_its_own_ipv6_source(self):
        self.assert_from("acme", "::1", self.mx6.port, "::2")
        self.assert_from("beta", "::1", self.mx6.port, "::3")

    def test_domain_target_gets_a_source_of_the_resolved_family(self):
        # "localhost" is 127.0.0.1 only in this sandbox's /etc/hosts
        self.assert_from("acme", "localhost", self.mx.port, "127.0.0.2")
        self.assert_from("v4only", "localhost", self.mx.port, "127.0.0.8")

    def test_round_robin_alternates_between_sources(self):
        seen = [self.via("rr", "127.0.0.1", self.mx.port)[1][0] for _ in range(4)]
        self.assertIn(seen[0], ("127.0.0.4", "127.0.0.5"))
        other = "127.0.0.5" if seen[0] == "127.0.0.4" else "127.0.0.4"
        self.assertEqual(seen, [seen[0], other, seen[0], other], "round-robin order")

    def test_least_used_picks_the_source_with_fewest_live_connections(self):
        r1, s1 = self.via("lu", "127.0.0.1", self.mx.port)
        r2, s2 = self.via("lu", "127.0.0.1", self.mx.port)
        self.assertEqual({s1[0], s2[0]}, {"127.0.0.6", "127.0.0.7"},
                         "two live connections use both sources")
        mark = self.fleet.server.mark()
        r1.close()      # s1's source now has none: the next one must use it
        self.fleet.server.wait_for(r"tenant=lu via=tunnel .*end=", 10, since=mark)
        deadline = time.monotonic() + 5
        while True:
            r3, s3 = self.via("lu", "127.0.0.1", self.mx.port)
            if s3[0] == s1[0] or time.monotonic() > deadline:
                break
            r3.close()   # the slot may be released a moment after the log line
            time.sleep(0.1)
        self.assertEqual(s3[0], s1[0], "least-used picks the source with no live connection")
        # one live connection on each source now: the next may take either, the
        # one after it must take the other
        r4, s4 = self.via("lu", "127.0.0.1", self.mx.port)
        r5, s5 = self.via("lu", "127.0.0.1", self.mx.port)
        self.assertEqual({s4[0], s5[0]}, {"127.0.0.6", "127.0.0.7"},
                         "with 2:1 in use, least-used takes the other source")

    def test_ipv6_literal_for_a_tenant_without_ipv6_source_is_0x08(self):
        mark = self.fleet.server.mark()
        r = self.fleet.clients["v4only"].connect("::1", self.mx6.port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply, REP_ATYP_NOT_SUPPORTED, r.describe())
        self.assertEqual(self.fleet.dial_lines(mark), [], "nothing was dialed")
        self.assertRegex(self.fleet.server.since(mark), r"has no IPv6 source address")

    def test_ipv4_literal_for_a_tenant_without_ipv4_source_is_0x08(self):
        mark = self.fleet.server.mark()
        r = self.fleet.clients["v6only"].connect("127.0.0.1", self.mx.port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply, REP_ATYP_NOT_SUPPORTED, r.describe())
        self.assertEqual(self.fleet.dial_lines(mark), [])
        self.assertRegex(self.fleet.server.since(mark), r"has no IPv4 source address")

    def test_name_with_only_addresses_of_a_missing_family_is_0x04(self):
        mark = self.fleet.server.mark()
        r = self.fleet.clients["v6only"].connect("localhost", self.mx.port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply, REP_HOST_UNREACHABLE, r.describe())
        self.assertEqual(self.fleet.dial_lines(mark), [])
        # and the IPv6-only tenant still works where it can
        self.assert_from("v6only", "::1", self.mx6.port, "::4")

    def test_ephemeral_ports_are_shared_across_destinations(self):
        """IP_BIND_ADDRESS_NO_PORT: with only 8 ephemeral ports, 16 concurrent
        connections from one source to 4 destinations all succeed (binding the
        source with port 0 first would reserve a port each: at most 8)."""
        conns = []
        try:
            with local_port_range(40000, 40007):
                # The SOCKS clients bind ports outside the range themselves and use
                # the server's own SOCKS5 listener, so only the server's dials take
                # ephemeral ports. Their ports sit below the default ephemeral range
                # too (32768-60999), where no earlier connection of this file can
                # hold them (in single mode, tunnels took ports up there).
                for i in range(16):
                    dest = self.more[i % 4]
                    s = socket.socket()
                    s.settimeout(15)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", 20000 + i))
                    s.connect(self.fleet.server_socks_addr)
                    conns.append(s)
                    self.assertEqual(socks5_greeting(s, [METHOD_USERPASS]), METHOD_USERPASS)
                    self.assertEqual(socks5_userpass(s, "gw", "gw-secret"), 0)
                    socks5_request(s, CMD_CONNECT, dest.host, dest.port)
                    rep, bound = read_reply(s)
                    self.assertEqual(rep, REP_OK, f"connection #{i} to {dest.address}: "
                                     f"reply {rep}\n" + self.fleet.logs_tail(20))
                    ip, port = read_whoami(s)
                    self.assertEqual(ip, "127.0.0.2")
                    self.assertTrue(40000 <= port <= 40007, port)
                    self.assertEqual(bound, (ip, port))
        finally:
            for s in conns:
                s.close()


class SourceNotOnHostTest(unittest.TestCase):
    def test_server_refuses_to_start_with_a_source_not_on_the_host(self):
        fleet = Fleet({"acme": {"source": ["127.0.0.2", "::99"]}}, start=False)
        with fleet:
            cp = run_server("-c", fleet.server_config, timeout=30)
            self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
            out = cp.stdout + cp.stderr
            self.assertRegex(out, r'tenant "acme"\.source: ::99 is not an address of this host')
            self.assertNotIn("listening on", out)
            cp = run_server("-c", fleet.server_config, "--check", timeout=30)
            self.assertEqual(cp.returncode, 1, "--check refuses it too\n" + cp.stdout + cp.stderr)
            self.assertIn("::99", cp.stdout + cp.stderr)


if __name__ == "__main__":
    unittest.main()
