"""The Debian packages (issue 20): scripts/package builds them from a Release
build, lintian finds no error, they hold what docs/install.md says, `cmake
--install` installs the same set, dpkg installs them into a fresh root (their
maintainer scripts create the mxegress user and the trail's directory there), and
from that root the packaged binaries run docs/install.md's commands (init, pin,
keygen) and, with the shipped example configurations edited as install.md says,
carry a session end to end and write its trail line, and the packaged
logrotate file rotates that trail (the server reopens it on SIGUSR1).

MX_PACKAGE_BUILD_DIR names the Release build tree scripts/package uses (kept
between runs, so that only a change rebuilds).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import mxtest
from debs import ROOT, build_packages, edit
from mxtest import EchoServer, REP_OK, recv_exact

PROGRAMS = {"server": "usr/sbin/mxegress-server", "client": "usr/bin/mxegress-client"}


def run(argv, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", 120)
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def listing(deb: str) -> dict[str, str]:
    """Path (without the leading ./) -> mode string, for every entry of DEB."""
    out = run(["dpkg-deb", "-c", deb]).stdout
    entries = {}
    for line in out.splitlines():
        fields = line.split(None, 5)
        entries[fields[5].removeprefix("./").rstrip("/")] = fields[0]
    entries.pop("", None)
    return entries




def wait_listening(port: int, proc: subprocess.Popen, log: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log) as f:
                raise AssertionError(f"exited {proc.returncode}:\n{f.read()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")


def wait_lines(path: str, count: int, timeout: float = 10) -> None:
    """Until PATH holds COUNT lines (the server writes a session's line as it ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                if len(f.readlines()) >= count:
                    return
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {count} lines after {timeout}s")


def files_under(directory: str) -> set[str]:
    found = set()
    for base, _, names in os.walk(directory):
        for n in names:
            found.add(os.path.relpath(os.path.join(base, n), directory))
    return found


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxpkg-")
        cls.out = os.path.join(cls.tmp, "dist")
        cls.build = os.environ.get("MX_PACKAGE_BUILD_DIR", os.path.join(ROOT, "build-package"))
        try:
            cls.made, cls.debs = build_packages(cls.out)
        except BaseException:
            shutil.rmtree(cls.tmp, True)
            raise
        cls.contents = {p: listing(d) for p, d in cls.debs.items()}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def field(self, program: str, name: str) -> str:
        return run(["dpkg-deb", "-f", self.debs[program], name]).stdout.strip()

    def extract(self, program: str, name: str) -> str:
        """The text of one file of a package."""
        return subprocess.run(f"dpkg-deb --fsys-tarfile {self.debs[program]} | tar -xO ./{name}",
                              shell=True, capture_output=True, text=True, check=True).stdout

    # ------------------------------------------------------------------
    def test_lintian_reports_no_errors(self):
        self.assertIn("lintian reports no errors", self.made.stdout)
        cp = run(["lintian", "--fail-on", "error", *self.debs.values()], timeout=600)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertNotRegex(cp.stdout, r"(?m)^E: ")

    def test_each_package_holds_what_install_md_says(self):
        for program, binary in PROGRAMS.items():
            name = f"mxegress-{program}"
            files = self.contents[program]
            expected = {
                binary: "-rwxr-xr-x",
                f"lib/systemd/system/{name}.service": "-rw-r--r--",
                f"etc/mxegress/{program}.toml": "-rw-r--r--",
                f"usr/lib/sysusers.d/{name}.conf": "-rw-r--r--",
                f"usr/share/man/man8/{name}.8.gz": "-rw-r--r--",
                f"usr/share/man/man5/{name}.toml.5.gz": "-rw-r--r--",
                f"usr/share/doc/{name}/copyright": "-rw-r--r--",
                f"usr/share/doc/{name}/changelog.gz": "-rw-r--r--",
                f"usr/share/doc/{name}/README.md": "-rw-r--r--",
                f"usr/share/doc/{name}/install.md": "-rw-r--r--",
            }
            if program == "server":
                expected["usr/lib/tmpfiles.d/mxegress-server.conf"] = "-rw-r--r--"
                expected["etc/logrotate.d/mxegress-server"] = "-rw-r--r--"
            for path, mode in expected.items():
                self.assertEqual(files.get(path), mode, f"{name}: {path}\n{sorted(files)}")
            # Nothing else is executable, and nothing is owned by anyone but root.
            executables = [p for p, m in files.items() if m.startswith("-") and "x" in m]
            self.assertEqual(executables, [binary], name)
            owners = run(["dpkg-deb", "-c", self.debs[program]]).stdout
            self.assertEqual({l.split()[1] for l in owners.splitlines()}, {"root/root"}, name)

    def test_control_fields_and_conffiles(self):
        for program in PROGRAMS:
            name = f"mxegress-{program}"
            self.assertEqual(self.field(program, "Package"), name)
            self.assertRegex(self.field(program, "Depends"), r"libuv1 .*libsodium23|libsodium23.*libuv1")
            self.assertIn("systemd", self.field(program, "Depends"))
            if program == "server":
                # libpsl5 comes into Depends through dpkg-shlibdeps, as libhiredis0.14 does.
                self.assertIn("libpsl5", self.field(program, "Depends"))
                self.assertIn("publicsuffix", self.field(program, "Recommends"))
            conffiles = subprocess.run(
                f"dpkg-deb --ctrl-tarfile {self.debs[program]} | tar -xO ./conffiles",
                shell=True, capture_output=True, text=True, check=True).stdout.split()
            etc = sorted("/" + p for p, m in self.contents[program].items()
                         if p.startswith("etc/") and m.startswith("-"))
            self.assertEqual(sorted(conffiles), etc, f"{name}: every file in /etc is a conffile")

    def test_units_name_the_packaged_paths(self):
        for program, binary in PROGRAMS.items():
            unit = self.extract(program, f"lib/systemd/system/mxegress-{program}.service")
            commands = re.findall(r"(?m)^Exec\w+=[-@!+]*(\S+)", unit)
            self.assertIn("/" + binary, commands, unit)
            for command in commands:
                if command != "/bin/kill":
                    self.assertIn(command.lstrip("/"), self.contents[program], command)
            configs = set(re.findall(r"-c (\S+)", unit))
            self.assertEqual(configs, {f"/etc/mxegress/{program}.toml"}, unit)
            pages = re.findall(r"man:(\S+)\((\d)\)", unit)
            self.assertTrue(pages, unit)
            for page, section in pages:
                self.assertIn(f"usr/share/man/man{section}/{page}.{section}.gz",
                              self.contents[program])
            for doc in re.findall(r"file:///(\S+)", unit):
                self.assertIn(doc, self.contents[program])

    def test_man_pages_render_without_warnings(self):
        with tempfile.TemporaryDirectory() as root:
            for program, deb in self.debs.items():
                run(["dpkg-deb", "-x", deb, root])
            pages = glob.glob(os.path.join(root, "usr/share/man/man*/*.gz"))
            self.assertEqual(len(pages), 4, pages)
            for page in pages:
                cp = run(["man", "--warnings", "-l", page], env=dict(os.environ, MANWIDTH="80"))
                self.assertEqual(cp.returncode, 0, page + cp.stderr)
                self.assertEqual(cp.stderr.strip(), "", page)
                self.assertIn("mxegress", cp.stdout)
            server5 = run(["man", "-l", os.path.join(root, "usr/share/man/man5/"
                                                           "mxegress-server.toml.5.gz")]).stdout
            # Made from docs/configuration.md: the tenant keys are there.
            for key in ("max_connections", "bytes_per_day", "source_selection", "tunnel_from"):
                self.assertIn(key, server5)

    def test_cmake_install_installs_the_same_set(self):
        with tempfile.TemporaryDirectory() as dest:
            cp = run(["cmake", "--install", self.build, "--prefix", "/usr"],
                     env=dict(os.environ, DESTDIR=dest))
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            packaged = {p for c in self.contents.values() for p, m in c.items()
                        if m.startswith("-")}
            self.assertEqual(files_under(dest), packaged)

    def test_cmake_install_under_usr_local_and_keeps_an_edited_config(self):
        with tempfile.TemporaryDirectory() as dest:
            env = dict(os.environ, DESTDIR=dest)
            cp = run(["cmake", "--install", self.build, "--prefix", "/usr/local"], env=env)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            # This build tree sets MX_SYSTEMD_UNIT_DIR=/lib/systemd/system (scripts/
            # package); without it the units go to PREFIX/lib/systemd/system.
            with open(os.path.join(dest, "lib/systemd/system/mxegress-server.service")) as f:
                unit = f.read()
            self.assertIn("ExecStart=/usr/local/sbin/mxegress-server -c "
                          "/usr/local/etc/mxegress/server.toml", unit)
            self.assertTrue(os.path.exists(os.path.join(dest, "usr/local/sbin/mxegress-server")))
            config = os.path.join(dest, "usr/local/etc/mxegress/server.toml")
            with open(config, "a") as f:
                f.write("# edited by the operator\n")
            cp = run(["cmake", "--install", self.build, "--prefix", "/usr/local"], env=env)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            self.assertIn("Kept (already there)", cp.stdout)
            with open(config) as f:
                self.assertTrue(f.read().endswith("# edited by the operator\n"))

    def test_dpkg_installs_into_a_fresh_root_and_the_binaries_relay(self):
        root = os.path.join(self.tmp, "root")
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
        # Maintainer scripts run outside the root with DPKG_ROOT set (there is no
        # shell inside it); dependencies are this host's, not the empty root's.
        cp = run(["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends",
                  "--log=/dev/null", "-i", *self.debs.values()], timeout=300)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        status = run(["dpkg-query", f"--root={root}", "-W", "-f=${Package} ${Status}\n"]).stdout
        self.assertIn("mxegress-server install ok installed", status)
        self.assertIn("mxegress-client install ok installed", status)
        # postinst: the system user (sysusers.d) and the trail's directory (tmpfiles.d).
        with open(os.path.join(root, "etc/passwd")) as f:
            user = [l for l in f if l.startswith("mxegress:")]
        self.assertEqual(len(user), 1, "the mxegress user")
        uid = int(user[0].split(":")[2])
        logdir = os.stat(os.path.join(root, "var/log/mxegress"))
        self.assertEqual((logdir.st_uid, oct(logdir.st_mode & 0o777)), (uid, "0o750"))

        server = os.path.join(root, PROGRAMS["server"])
        client = os.path.join(root, PROGRAMS["client"])
        for binary in (server, client):
            cp = run([binary, "--version"])
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertIn("mxegress", cp.stdout)
        # The commands of docs/install.md, into the root's /etc/mxegress.
        etc = os.path.join(root, "etc/mxegress")
        cp = run([server, "init", etc, "egress.example.net"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        pin = re.search(r'pin = "(sha256/[A-Za-z0-9+/=]+)"', cp.stdout).group(1)
        cp = run([server, "pin", os.path.join(etc, "server.crt")])
        self.assertEqual(cp.stdout.strip(), f'pin = "{pin}"', cp.stderr)
        keydir = os.path.join(self.tmp, "gateway", "keys")
        cp = run([client, "keygen", os.path.join(keydir, "client.key")])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        cp = run([client, "keygen", os.path.join(etc, "client.key")])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        pubkey = cp.stdout.strip().split()[-1]
        self.assertEqual(oct(os.stat(keydir).st_mode & 0o777), "0o750")
        self.assertEqual(oct(os.stat(os.path.join(keydir, "client.key")).st_mode & 0o777),
                         "0o600")
        # Then the shipped example configurations, edited as install.md says (the
        # tunnel port, the tenant's key and source; the server's pin), carry a
        # session end to end: server and client from the root, as the units run them.
        tunnel, socks = mxtest.listen_port(), mxtest.listen_port()
        with EchoServer() as echo:
            edit(os.path.join(etc, "server.toml"), {
                r'listen = \["0\.0\.0\.0:8443"\]': f'listen = ["127.0.0.1:{tunnel}"]',
                r'keys = \[\n  "[^"]+",\n  "[^"]+",\n\]': f'keys = ["{pubkey}"]',
                r'source = \["203\.0\.113\.10"[^\]]*\]': 'source = ["127.0.0.1"]',
                r'(?m)^ports = \[25, 587\]': f"ports = [{echo.port}]",
                r'(?m)^tunnel_from = \[[^\]]*\]\n': "",
                r'(?m)^ports = \[25\]$': f"ports = [{echo.port}]",
                r'(?m)^allow = \[\]$': 'allow = ["127.0.0.0/8"]',
                r'file = "/var/log/mxegress/trail\.jsonl"':
                    f'file = "{root}/var/log/mxegress/trail.jsonl"',
            })
            edit(os.path.join(etc, "client.toml"), {
                r'address = "egress\.example\.net:8443"': f'address = "127.0.0.1:{tunnel}"',
                r'pin = "sha256/[^"]+"': f'pin = "{pin}"',
                r'listen = \["127\.0\.0\.1:1080"\]': f'listen = ["127.0.0.1:{socks}"]',
            })
            configs = {"server": os.path.join(etc, "server.toml"),
                       "client": os.path.join(etc, "client.toml")}
            for program, binary in (("server", server), ("client", client)):
                cp = run([binary, "--check", "-c", configs[program]])
                self.assertEqual(cp.returncode, 0, f"{program} --check: {cp.stderr}")
            procs = []
            try:
                for program, binary, port in (("server", server, tunnel),
                                              ("client", client, socks)):
                    log = open(os.path.join(self.tmp, f"{program}.log"), "w")
                    procs.append((subprocess.Popen([binary, "-c", configs[program]],
                                                   stdout=log, stderr=log), log))
                    wait_listening(port, procs[-1][0], log.name)
                self.session_through(socks, echo.port)
                trail = os.path.join(root, "var/log/mxegress/trail.jsonl")
                wait_lines(trail, 1)
                rotated = self.rotate_with_the_shipped_logrotate(root, trail, procs[0][0].pid)
                self.session_through(socks, echo.port)
                wait_lines(trail, 1)
            finally:
                for proc, log in reversed(procs):
                    proc.terminate()
                    proc.wait(30)
                    log.close()
            for proc, _ in procs:
                self.assertEqual(proc.returncode, 0, "a clean stop on SIGTERM")
        # Each session's trail line, where the shipped config puts it (in the root):
        # the first in the file logrotate moved away, the second in the new one.
        for path in (rotated, trail):
            with open(path) as f:
                lines = [json.loads(l) for l in f]
            self.assertEqual([(l["tenant"], l["target"]) for l in lines],
                             [("acme", f"127.0.0.1:{echo.port}")], path)

    def session_through(self, socks: int, port: int) -> None:
        with mxtest.socks5_connect(("127.0.0.1", socks), "127.0.0.1", port) as r:
            self.assertEqual(r.reply, REP_OK, r.describe())
            r.sock.sendall(b"hello through the packages")
            self.assertEqual(recv_exact(r.sock, 26), b"hello through the packages")

    def rotate_with_the_shipped_logrotate(self, root: str, trail: str, server_pid: int) -> str:
        """Runs logrotate on the packaged /etc/logrotate.d/mxegress-server, with only
        what cannot work here replaced: the path (into the root), the owner of the
        new file (the mxegress user exists in the root only) and the signal's
        target (no systemd here; pidof could find other servers). Returns the
        rotated file's path."""
        conf = os.path.join(self.tmp, "logrotate.conf")
        shutil.copy(os.path.join(root, "etc/logrotate.d/mxegress-server"), conf)
        edit(conf, {
            r"(?m)^/var/log/mxegress/trail\.jsonl \{": f"{trail} {{",
            r"create 0640 mxegress mxegress": "create 0640 root root",
            r"systemctl kill -s USR1 --kill-whom=main mxegress-server\.service 2>/dev/null "
            r'\|\| \\\n\s*kill -USR1 "\$\(pidof mxegress-server\)" 2>/dev/null \|\| true':
                f"kill -USR1 {server_pid}",
        })
        cp = run(["logrotate", "--force", "--state", os.path.join(self.tmp, "lr.state"), conf])
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        rotated = glob.glob(trail + "-*")
        self.assertEqual(len(rotated), 1, rotated)
        self.assertFalse(rotated[0].endswith(".gz"), "delaycompress")
        return rotated[0]

if __name__ == "__main__":
    unittest.main()
