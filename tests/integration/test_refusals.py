"""Refusals of what would surprise an operator (issue 20, item 5): a second instance on
the same addresses refuses to start while the first keeps serving; --check reports a
listen address in use (and --check --for-reload leaves it out); a tenant without
`source` is a configuration error; an unknown key gets a "did you mean"; and
mxegress-client --check --online says per server whether a tunnel opens, and why not."""

import os
import re
import socket
import subprocess
import time
import unittest

import mxtest
from mxtest import (REP_OK, echo_session, EchoServer, Pair, SharedHarnessTest, fmt_hostport, keygen,
                    run_client, run_server)


def in_use(addr: tuple[str, int], program: str) -> str:
    """The one line both programs print for an address someone else listens on."""
    return (f"listen {fmt_hostport(*addr)}: address already in use (another {program}?)")



class RunningPairTest(SharedHarnessTest):
    """One running pair (the server with two loop threads, so its tunnel listeners form
    an SO_REUSEPORT group, and with a metrics listener); other processes and --check
    runs against its addresses."""

    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer("127.0.0.1")
        cls.peers = [cls.echo]
        cls.server_metrics = ("127.0.0.1", mxtest.free_port())
        cls.pair = cls.start_harness(lambda: Pair(
            ports=[cls.echo.port], server_settings={"threads": 2},
            server_extra=f'[metrics]\nlisten = "{fmt_hostport(*cls.server_metrics)}"\n'))

    def write(self, name: str, text: str) -> str:
        path = self.pair.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def client_config_on_a_free_port(self, name: str, text: str | None = None) -> str:
        """The pair's client config (or TEXT) listening on another SOCKS5 port, so that
        --check's probe of the listen addresses passes while the pair's client runs."""
        text = text or self.pair.client_toml
        free = fmt_hostport("127.0.0.1", mxtest.free_port())
        return self.write(name, text.replace(fmt_hostport(*self.pair.socks_addr), free))

    # A second instance ------------------------------------------------------------
    def test_a_second_server_on_the_same_address_refuses_to_start(self):
        r, _ = echo_session(self.pair, self.echo, b"before")
        self.assertEqual(r.reply, REP_OK, r.describe())
        cp = run_server("-c", self.pair.server_config, cwd=self.pair.dir, timeout=30)
        out = cp.stdout + cp.stderr
        self.assertNotEqual(cp.returncode, 0, out)
        self.assertIn(in_use(self.pair.tunnel_addr, "mxegress-server"), out)
        self.assertNotRegex(out, r"running|listening on", "refused before it listened")
        self.assertTrue(self.pair.server.alive(), self.pair.logs_tail())
        # Every new tunnel still reaches the first server: several sessions, several
        # tunnels opened afresh would be spread over a group the second had joined.
        for i in range(6):
            r, _ = echo_session(self.pair, self.echo, b"after %d" % i)
            self.assertEqual(r.reply, REP_OK, r.describe())

    def test_a_second_server_refuses_a_metrics_address_in_use(self):
        # Its own tunnel port is free; only the metrics address (the pair's) is taken.
        self.assertIn(fmt_hostport(*self.server_metrics), self.pair.server_toml)
        text = self.pair.server_toml.replace(fmt_hostport(*self.pair.tunnel_addr),
                                             fmt_hostport("127.0.0.1", mxtest.free_port()))
        path = self.write("second-metrics.toml", text)
        cp = run_server("-c", path, cwd=self.pair.dir, timeout=30)
        self.assertNotEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(in_use(self.server_metrics, "mxegress-server"), cp.stderr)
        self.assertNotIn("running", cp.stderr)

    def test_a_second_client_on_the_same_address_refuses_to_start(self):
        cp = run_client("-c", self.pair.client_config, cwd=self.pair.dir, timeout=30)
        self.assertNotEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(in_use(self.pair.socks_addr, "mxegress-client"), cp.stderr)
        self.assertTrue(self.pair.client.alive(), self.pair.logs_tail())
        r, _ = echo_session(self.pair, self.echo, b"still served")
        self.assertEqual(r.reply, REP_OK, r.describe())

    # --check and the listen addresses ----------------------------------------------
    def test_check_reports_a_listen_address_in_use(self):
        for prog, run, config, addr in (
                ("mxegress-server", run_server, self.pair.server_config, self.pair.tunnel_addr),
                ("mxegress-client", run_client, self.pair.client_config, self.pair.socks_addr)):
            with self.subTest(program=prog):
                cp = run("--check", "-c", config, cwd=self.pair.dir)
                self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
                self.assertIn(in_use(addr, prog), cp.stderr)
                self.assertNotIn("configuration OK", cp.stdout)

    def test_check_for_reload_leaves_the_running_programs_addresses_out(self):
        for prog, run, config in (("server", run_server, self.pair.server_config),
                                  ("client", run_client, self.pair.client_config)):
            with self.subTest(program=prog):
                cp = run("--check", "--for-reload", "-c", config, cwd=self.pair.dir)
                self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
                self.assertIn("configuration OK", cp.stdout)

    def test_for_reload_and_online_need_check(self):
        for args in (("--for-reload",), ("--online",)):
            with self.subTest(args=args):
                cp = run_client(*args, "-c", self.pair.client_config, cwd=self.pair.dir)
                self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
                self.assertRegex(cp.stderr, r"--(for-reload|online)")
        cp = run_server("--check", "--online", "-c", self.pair.server_config)
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertIn("mxegress-client", cp.stderr)

    # --check --online ----------------------------------------------------------------
    def online(self, path: str):
        return run_client("--check", "--online", "-c", path, cwd=self.pair.dir, timeout=60)

    def test_online_check_of_a_good_client_config_is_ok(self):
        since = self.pair.server.mark()
        cp = self.online(self.client_config_on_a_free_port("online-ok.toml"))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        server = fmt_hostport(*self.pair.tunnel_addr)
        self.assertIn(f"server {server}: ok (TLSv1.3)", cp.stdout)
        self.assertIn("every server accepted a tunnel", cp.stdout)
        # A real AUTH: the server logged the tenant's tunnel.
        self.pair.server.wait_for(r"auth ok tenant=\"?acme", 10, since=since)

    def test_online_check_of_the_running_clients_own_file_with_for_reload(self):
        # On a gateway where the client runs: its addresses are held, the servers checked.
        cp = self.online(self.pair.client_config)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn(in_use(self.pair.socks_addr, "mxegress-client"), cp.stderr)
        cp = run_client("--check", "--online", "--for-reload", "-c", self.pair.client_config,
                        cwd=self.pair.dir, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn(f"server {fmt_hostport(*self.pair.tunnel_addr)}: ok (TLSv1.3)", cp.stdout)

    def test_online_check_names_the_pin_the_server_presented(self):
        text = re.sub(r'pin = "[^"]*"',
                      'pin = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="',
                      self.pair.client_toml)
        cp = self.online(self.client_config_on_a_free_port("online-pin.toml", text))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        server = fmt_hostport(*self.pair.tunnel_addr)
        self.assertIn(f"server {server}: wrong pin: the server presented {self.pair.pin}",
                      cp.stderr)
        self.assertIn("not every server accepted a tunnel", cp.stderr)

    def test_online_check_reports_a_key_the_server_does_not_know(self):
        other = self.pair.path("other-online.key")
        if not os.path.exists(other):
            keygen(other)
        text = self.pair.client_toml.replace('key = "client.key"', f'key = "{other}"')
        self.assertNotEqual(text, self.pair.client_toml)
        cp = self.online(self.client_config_on_a_free_port("online-key.toml", text))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        server = fmt_hostport(*self.pair.tunnel_addr)
        self.assertIn(f"server {server}: key refused: the server refused our key: unknown key",
                      cp.stderr)

    def test_online_check_reports_an_unreachable_server_and_fails(self):
        closed = fmt_hostport("127.0.0.1", mxtest.free_port())
        good = fmt_hostport(*self.pair.tunnel_addr)
        # Two servers: the pair's, and one nothing listens on. Every one must be ok.
        block = re.search(r"\[\[server\]\]\n(?:[^\[\n].*\n)*", self.pair.client_toml).group(0)
        text = self.pair.client_toml + "\n" + block.replace(good, closed)
        cp = self.online(self.client_config_on_a_free_port("online-down.toml", text))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn(f"server {good}: ok (TLSv1.3)", cp.stdout, cp.stderr)
        self.assertRegex(cp.stderr, re.escape(f"server {closed}: unreachable: cannot connect to "
                                              f"{closed}") + r": .*refused")
        self.assertIn("not every server accepted a tunnel", cp.stderr)

    def test_online_check_reports_a_certificate_its_ca_does_not_trust(self):
        # `ca` instead of the pin: a CA that did not sign the server's certificate.
        ca = self.pair.path("other-ca.pem")
        if not os.path.exists(ca):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                            "/CN=some other CA", "-keyout", self.pair.path("other-ca.key"),
                            "-out", ca], check=True, capture_output=True)
        text = re.sub(r'pin = "[^"]*"', f'ca = "{ca}"\nserver_name = "127.0.0.1"',
                      self.pair.client_toml)
        self.assertNotEqual(text, self.pair.client_toml)
        cp = self.online(self.client_config_on_a_free_port("online-ca.toml", text))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        server = fmt_hostport(*self.pair.tunnel_addr)
        self.assertRegex(cp.stderr, re.escape(f"server {server}: certificate not trusted: "
                                              "server verification failed: ") + ".+")
        self.assertIn("not every server accepted a tunnel", cp.stderr)

    def test_online_check_reports_a_server_that_never_answers_as_a_timeout(self):
        # A port whose kernel completes the TCP handshake, and nothing more: the
        # TLS ClientHello is never answered.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            port = silent.getsockname()[1]
            text = self.pair.client_toml.replace(fmt_hostport(*self.pair.tunnel_addr),
                                                 fmt_hostport("127.0.0.1", port))
            text = re.sub(r'(?m)^handshake_timeout = "[^"]*"', 'handshake_timeout = "1s"', text)
            self.assertIn('handshake_timeout = "1s"', text)
            started = time.monotonic()
            cp = self.online(self.client_config_on_a_free_port("online-silent.toml", text))
            took = time.monotonic() - started
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn(f"server 127.0.0.1:{port}: timeout: no authenticated tunnel within the "
                      "handshake timeout", cp.stderr)
        self.assertLess(took, 15, "the check waits for the handshake timeout, not longer")


class ConfigRefusalTest(unittest.TestCase):
    """Configuration errors that used to pass in silence, or without a hint."""

    @classmethod
    def setUpClass(cls):
        cls.pair = Pair(ports=[25], start=False)

    @classmethod
    def tearDownClass(cls):
        cls.pair.close()

    def write(self, name: str, text: str) -> str:
        path = self.pair.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_a_tenant_without_source_is_an_error_naming_it(self):
        self.assertIn('source = "any"\n', self.pair.server_toml)
        text = self.pair.server_toml.replace('source = "any"\n', "")
        path = self.write("no-source.toml", text)
        cp = run_server("--check", "-c", path, cwd=self.pair.dir)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn('no-source.toml: tenant[0].source: required key is missing for tenant '
                      '"acme"', cp.stderr)
        self.assertIn('source = "any"', cp.stderr, "says how to let the kernel pick")
        # The server itself refuses to start with it, too.
        cp = run_server("-c", path, cwd=self.pair.dir, timeout=30)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn("refusing to start", cp.stderr)

    def test_source_any_and_a_list_pass_and_other_words_do_not(self):
        for value, ok in (('"any"', True), ('["127.0.0.1"]', True), ('"127.0.0.1"', False),
                          ('"all"', False)):
            with self.subTest(source=value):
                text = self.pair.server_toml.replace('source = "any"', f"source = {value}")
                cp = run_server("--check", "-c", self.write("source.toml", text),
                                cwd=self.pair.dir)
                self.assertEqual(cp.returncode, 0 if ok else 1, cp.stdout + cp.stderr)
                if not ok:
                    self.assertIn("tenant[0].source: ", cp.stderr)

    def test_an_unknown_key_gets_a_did_you_mean(self):
        text = self.pair.server_toml.replace("[[tenant]]\n", "[[tenant]]\nmax_conections = 3\n")
        cp = run_server("--check", "-c", self.write("typo.toml", text), cwd=self.pair.dir)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn('typo.toml: tenant[0].max_conections: unknown key '
                      '(did you mean "max_connections"?)', cp.stderr)
        text = self.pair.client_toml.replace("[client]\n", "[client]\nhandshake_timout = \"2s\"\n")
        cp = run_client("--check", "-c", self.write("typo-client.toml", text), cwd=self.pair.dir)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn('client.handshake_timout: unknown key (did you mean "handshake_timeout"?)',
                      cp.stderr)


if __name__ == "__main__":
    unittest.main()
