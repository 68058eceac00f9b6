"""Command lines of both programs: --version, --help, --check, keygen/pubkey, init,
hash-password, and refusal of bad configurations at start."""

import base64
import hashlib
import os
import re
import socket
import stat
import subprocess
import tempfile
import unittest

from mxtest import (EchoServer, Pair, REP_OK, hash_password, keygen, pubkey,
                    recv_exact, run_client, run_server, server_init)

RUNNERS = {"client": run_client, "server": run_server}


def error_line_re(path, key):
    """``FILE: key: why`` (a line number after FILE and a dotted/indexed key allowed)."""
    return re.compile(re.escape(path) + r"(:\d+)*: *[\w.\[\]\"-]*" + re.escape(key)
                      + r"[\w.\[\]\"-]*: *\S")


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mxcli-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))

    def p(self, name):
        return os.path.join(self.tmp, name)


class VersionHelpTest(unittest.TestCase):
    def test_version(self):
        for name, run in RUNNERS.items():
            with self.subTest(program=name):
                cp = run("--version")
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertRegex(cp.stdout, r"mxegress", "names the program")
                self.assertRegex(cp.stdout, r"\d+\.\d+", "has a version number")

    def test_help(self):
        for name, run in RUNNERS.items():
            with self.subTest(program=name):
                cp = run("--help")
                self.assertEqual(cp.returncode, 0, cp.stderr)
                out = cp.stdout + cp.stderr
                for word in ("-c", "--check", "--version", "hash-password"):
                    self.assertIn(word, out)
        self.assertIn("keygen", run_client("--help").stdout + run_client("--help").stderr)
        self.assertIn("init", run_server("--help").stdout + run_server("--help").stderr)

    def test_unknown_option_fails(self):
        for name, run in RUNNERS.items():
            with self.subTest(program=name):
                cp = run("--no-such-option")
                self.assertNotEqual(cp.returncode, 0)
                self.assertTrue(cp.stderr.strip(), "says why")


class CheckTest(unittest.TestCase):
    """--check on the configs a Pair writes (known good), then broken variants."""

    @classmethod
    def setUpClass(cls):
        cls.pair = Pair(ports=[25], start=False)

    @classmethod
    def tearDownClass(cls):
        cls.pair.close()

    def write(self, name, text):
        path = self.pair.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_good_configs_pass(self):
        for name, run, cfg in (("server", run_server, self.pair.server_config),
                               ("client", run_client, self.pair.client_config)):
            with self.subTest(program=name):
                cp = run("--check", "-c", cfg, cwd=self.pair.dir)
                self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
                self.assertNotIn("listening on", cp.stdout + cp.stderr)

    def test_pin_prints_the_configured_certificates_pin(self):
        # Before the subcommand (-c FILE pin), after it (pin -c FILE), and of a named file.
        for args in (("-c", self.pair.server_config, "pin"),
                     ("pin", "-c", self.pair.server_config),
                     ("pin", self.pair.path("server.crt"))):
            with self.subTest(args=args):
                cp = run_server(*args, cwd=self.pair.dir)
                self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
                self.assertEqual(cp.stdout, f'pin = "{self.pair.pin}"\n')
        cp = run_server("pin", self.pair.path("server.key"))
        self.assertEqual(cp.returncode, 1)
        self.assertIn("server.key", cp.stderr)
        cp = run_server("pin", "-c", self.pair.path("absent.toml"))
        self.assertEqual(cp.returncode, 1)
        self.assertIn("absent.toml", cp.stderr)

    def broken(self):
        s, c = self.pair.server_toml, self.pair.client_toml
        port = str(self.pair.tunnel_port)
        return [
            # (program, file name, text, key named in the error)
            ("server", "s-unknown.toml", s.replace("[server]\n", "[server]\nbogus_key = 1\n"),
             "bogus_key"),
            ("server", "s-addr.toml", s.replace(f'"127.0.0.1:{port}"', '"127.0.0.1:99999"'),
             "listen"),
            ("server", "s-addr2.toml", s.replace(f'"127.0.0.1:{port}"', '"not an address"'),
             "listen"),
            ("server", "s-duration.toml", s.replace('connect_timeout = "2s"',
                                                    'connect_timeout = "2 fortnights"'),
             "connect_timeout"),
            ("server", "s-type.toml", s.replace('idle_timeout = "60s"', "idle_timeout = [1]"),
             "idle_timeout"),
            ("server", "s-cidr.toml", s.replace('allow = [', 'allow = ["10.0.0.0/33", '),
             "allow"),
            ("server", "s-tenant.toml", s.replace("[[tenant]]\n", "[[tenant]]\ncolour = 1\n"),
             "colour"),
            ("client", "c-unknown.toml", c.replace("[client]\n", "[client]\nbogus_key = 1\n"),
             "bogus_key"),
            ("client", "c-addr.toml", c.replace('listen = ["', 'listen = ["300.1.1.1:1080", "'),
             "listen"),
            ("client", "c-duration.toml", c.replace('handshake_timeout = "2s"',
                                                    'handshake_timeout = "soon"'),
             "handshake_timeout"),
            ("client", "c-pin.toml", re.sub(r'pin = "[^"]*"', 'pin = "sha256/short"', c), "pin"),
        ]

    def test_broken_configs_fail_check_with_file_key_why(self):
        for prog, name, text, key in self.broken():
            with self.subTest(program=prog, case=name):
                path = self.write(name, text)
                self.assertNotEqual(text, self.pair.server_toml if prog == "server"
                                    else self.pair.client_toml, "the case changed nothing")
                cp = RUNNERS[prog]("--check", "-c", path, cwd=self.pair.dir)
                self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
                self.assertRegex(cp.stderr, error_line_re(path, key))

    def test_broken_config_never_listens(self):
        for prog, name, text, key in self.broken()[:1] + self.broken()[7:8]:
            with self.subTest(program=prog, case=name):
                path = self.write("run-" + name, text)
                listen_port = (self.pair.tunnel_port if prog == "server"
                               else self.pair.socks_port)
                cp = RUNNERS[prog]("-c", path, cwd=self.pair.dir, timeout=20)
                self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
                self.assertNotIn("listening on", cp.stdout + cp.stderr)
                self.assertRegex(cp.stderr, error_line_re(path, key))
                with socket.socket() as s:
                    self.assertNotEqual(s.connect_ex(("127.0.0.1", listen_port)), 0)

    def test_private_key_readable_by_others_refuses_start_and_check(self):
        """Issue 18: a private key group or others can read stops both programs at start
        (and --check), naming the file and the fix, as OpenSSH does."""
        for prog, cfg, key in (("server", self.pair.server_config, self.pair.path("server.key")),
                               ("client", self.pair.client_config, self.pair.path("client.key"))):
            for mode in (0o640, 0o604):
                with self.subTest(program=prog, mode=oct(mode)):
                    old = stat.S_IMODE(os.stat(key).st_mode)
                    os.chmod(key, mode)
                    try:
                        for args in (("--check", "-c", cfg), ("-c", cfg)):
                            cp = RUNNERS[prog](*args, cwd=self.pair.dir, timeout=20)
                            self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
                            self.assertIn(key, cp.stderr)
                            self.assertIn("group or others", cp.stderr)
                            self.assertIn("chmod 600 " + key, cp.stderr)
                            self.assertNotIn("listening on", cp.stdout + cp.stderr)
                    finally:
                        os.chmod(key, old)

    def test_missing_config_file(self):
        cp = run_server("--check", "-c", self.pair.path("nope.toml"))
        self.assertEqual(cp.returncode, 1)
        self.assertIn("nope.toml", cp.stderr)


class KeysTest(TempDirTest):
    def test_keygen_and_pubkey_agree(self):
        key = self.p("a.key")
        pub = keygen(key)
        self.assertEqual(len(base64.b64decode(pub, validate=True)), 32, pub)
        self.assertEqual(pubkey(key), pub)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertNotEqual(keygen(self.p("b.key")), pub, "two keys differ")

    def test_keygen_refuses_to_overwrite(self):
        key = self.p("a.key")
        pub = keygen(key)
        with open(key, "rb") as f:
            before = f.read()
        cp = run_client("keygen", key)
        self.assertNotEqual(cp.returncode, 0, "keygen overwrote an existing key")
        self.assertTrue(cp.stderr.strip())
        with open(key, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(pubkey(key), pub)

    def test_keygen_creates_the_directory_for_the_service_group(self):
        key = self.p("etc/mxegress/client.key")
        old = os.umask(0o022)
        try:
            pub = keygen(key)
        finally:
            os.umask(old)
        self.assertEqual(pubkey(key), pub)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        for d in (self.p("etc"), self.p("etc/mxegress")):
            self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o750, d)

    def test_pubkey_of_missing_file_fails(self):
        cp = run_client("pubkey", self.p("missing.key"))
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("missing.key", cp.stderr)

    def test_init_pin_is_spki_sha256_of_cert(self):
        pin = server_init(self.tmp)
        crt, key = self.p("server.crt"), self.p("server.key")
        self.assertTrue(os.path.exists(crt))
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode) & 0o077, 0, "key is private")
        spki = subprocess.run(
            "openssl x509 -in server.crt -noout -pubkey | openssl pkey -pubin -outform der",
            shell=True, cwd=self.tmp, capture_output=True, check=True).stdout
        expected = "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()
        self.assertEqual(pin, expected)


class HashPasswordTest(unittest.TestCase):
    def test_hash_password_logs_in(self):
        h_client = hash_password("pw from client", "client")
        h_server = hash_password("pw from server", "server")
        for h in (h_client, h_server):
            self.assertTrue(h.startswith("$argon2id$"), h)
        self.assertNotEqual(hash_password("pw from client", "server"), h_client, "salted")
        with EchoServer("127.0.0.1") as echo, \
                Pair(ports=[echo.port], user_hashes={"u1": h_client, "u2": h_server}) as pair:
            for user, pw in (("u1", "pw from client"), ("u2", "pw from server")):
                with pair.connect("127.0.0.1", echo.port, username=user, password=pw) as r:
                    self.assertEqual(r.auth_status, 0, r.describe())
                    self.assertEqual(r.reply, REP_OK, r.describe())
                    r.sock.sendall(b"ok")
                    self.assertEqual(recv_exact(r.sock, 2), b"ok")
            with pair.connect("127.0.0.1", echo.port, username="u1",
                              password="pw from server") as r:
                self.assertNotEqual(r.auth_status, 0)


if __name__ == "__main__":
    unittest.main()
