"""docs/install.md, run as written (issue 20): every command of its egress host,
gateway and test message blocks, in a fresh root, from `apt install` of the
packages to a message delivered by a real MX over STARTTLS and its line in the
trail.

The fresh root is an overlay over this host's / in a private mount namespace
(so apt, dpkg, the mxegress user and /etc/mxegress change nothing outside), in
the test's own network namespace (tests/run_isolated). Around it, as a real
deployment has them: a DNS server (dnsmasq: egress.example.net is the egress
host, 127.0.0.1; mx.example.org is the MX, 127.0.0.25), and the MX (a private
Postfix for example.org with STARTTLS, its certificate trusted by the root, as
a public MX's would be).

What cannot run as written here, and what the test does instead:
- the `# edit …` lines: the edits install.md describes, made by the test
  (the tenant's key and source, the server's pin), plus two this network needs
  (the MX is on loopback, which the deny-list refuses unless allowed; the
  gateway is 127.0.0.1, outside the example's `tunnel_from`);
- `systemctl enable --now` and `systemctl reload`: systemd is not PID 1 here, so
  they fail after enabling; the test checks that failure is exactly that, then
  runs the installed unit's own ExecStartPre/ExecStart (as its User=) and
  ExecReload lines, as systemd would.
"""

from __future__ import annotations

import ctypes
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from debs import ROOT, build_packages, edit
from dnslab import Dnsmasq
from mta import PostfixMX

INSTALL_MD = os.path.join(ROOT, "docs", "install.md")
NO_SYSTEMD = "System has not been booted with systemd"


def sh_blocks(section: str) -> list[list[str]]:
    """The ```sh blocks of the '## SECTION' of install.md, as lists of commands
    (comments stripped, backslash continuations joined)."""
    with open(INSTALL_MD) as f:
        text = f.read()
    m = re.search(rf"(?ms)^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text)
    assert m, f"install.md has no section {section!r}"
    blocks = []
    for body in re.findall(r"(?ms)^```sh\n(.*?)^```", m.group(1)):
        joined = re.sub(r"\\\n\s*", " ", body)
        commands = []
        for line in joined.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
        blocks.append(commands)
    return blocks


def private_mounts() -> None:
    """This process into a mount namespace of its own (before any thread starts),
    with nothing propagated back to the host."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)


class FreshRoot:
    """An overlay of / at DIR/merged (writes go to a tmpfs), with /proc, /dev and
    /sys of the host; run() runs a shell command chrooted into it."""

    def __init__(self, directory: str):
        self.base = directory
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", directory], check=True)
        for d in ("upper", "work", "merged"):
            os.mkdir(os.path.join(directory, d))
        self.path = os.path.join(directory, "merged")
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir=/,upperdir={directory}/upper,workdir={directory}/work",
                        self.path], check=True)
        for d in ("proc", "dev", "sys"):
            subprocess.run(["mount", "--rbind", f"/{d}", os.path.join(self.path, d)], check=True)
        # The chroot's /tmp is its own, empty (the host's holds this test's files).
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", os.path.join(self.path, "tmp")],
                       check=True)

    def file(self, path: str) -> str:
        return os.path.join(self.path, path.lstrip("/"))

    def run(self, command: str, *, cwd: str = "/root", user: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        argv = ["chroot"] + ([f"--userspec={user}:{user}"] if user else []) + [
            self.path, "sh", "-c", f"cd {shlex.quote(cwd)} && {command}"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                                   "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive"})

    def popen(self, argv: list[str], user: str, log: str) -> subprocess.Popen:
        out = open(log, "w")
        try:
            return subprocess.Popen(["chroot", f"--userspec={user}:{user}", self.path, *argv],
                                    stdout=out, stderr=subprocess.STDOUT,
                                    env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        finally:
            out.close()




def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def unit_lines(unit_text: str, key: str) -> list[str]:
    return [l.split("=", 1)[1] for l in unit_text.splitlines() if l.startswith(key + "=")]


class InstallMdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        private_mounts()
        cls.tmp = tempfile.mkdtemp(prefix="mxinstall-")
        _, debs = build_packages(os.path.join(cls.tmp, "dist"))
        cls.debs = sorted(debs.values())

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["umount", "-R", os.path.join(cls.tmp, "root")], capture_output=True)
        shutil.rmtree(cls.tmp, True)

    def setUp(self):
        os.mkdir(os.path.join(self.tmp, "root"))
        self.root = FreshRoot(os.path.join(self.tmp, "root"))
        for deb in self.debs:
            shutil.copy(deb, self.root.file("/root"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.addCleanup(self.stop_all)

    def stop_all(self):
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()

    def run_as_written(self, commands: list[str], cwd: str = "/root") -> dict[str, str]:
        """Each command in the root; returns {command: stdout}. A systemctl that
        starts or reloads must fail only because systemd is not PID 1."""
        outputs = {}
        for command in commands:
            cp = self.root.run(command, cwd=cwd)
            if command.startswith("systemctl ") and cp.returncode != 0:
                self.assertIn(NO_SYSTEMD, cp.stderr, f"{command}:\n{cp.stderr}")
            else:
                self.assertEqual(cp.returncode, 0, f"{command}:\n{cp.stdout}\n{cp.stderr}")
            outputs[command] = cp.stdout
        return outputs

    def unit(self, name: str) -> str:
        with open(self.root.file(f"/lib/systemd/system/{name}.service")) as f:
            return f.read()

    def start_as_systemd_would(self, name: str, ready_port: int) -> None:
        """`systemctl enable` happened (the symlink); the start is the unit's own
        ExecStartPre and ExecStart, as its User=."""
        self.assertTrue(os.path.islink(self.root.file(
            f"/etc/systemd/system/multi-user.target.wants/{name}.service")), name)
        unit = self.unit(name)
        user = unit_lines(unit, "User")[0]
        for pre in unit_lines(unit, "ExecStartPre"):
            cp = self.root.run(pre, user=user, cwd="/")
            self.assertEqual(cp.returncode, 0, f"{name} ExecStartPre as {user}:\n{cp.stderr}")
        log = os.path.join(self.tmp, f"{name}.log")
        proc = self.root.popen(shlex.split(unit_lines(unit, "ExecStart")[0]), user, log)
        self.procs[name] = proc
        deadline = time.monotonic() + 30
        while not listening(ready_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(log) as f:
                    self.fail(f"{name} did not start ({proc.poll()}):\n{f.read()[-3000:]}")
            time.sleep(0.1)

    def reload_as_systemd_would(self, name: str) -> None:
        unit = self.unit(name)
        pid = self.procs[name].pid
        for line in unit_lines(unit, "ExecReload"):
            cp = self.root.run(line.replace("$MAINPID", str(pid)), cwd="/")
            self.assertEqual(cp.returncode, 0, f"{name} ExecReload {line}:\n{cp.stderr}")

    # ------------------------------------------------------------------
    def test_install_md_as_written(self):
        version = re.search(r"_(\d[\d.]*)_", os.path.basename(self.debs[0])).group(1)
        with open(INSTALL_MD) as f:
            self.assertIn(f"mxegress-server_{version}_amd64.deb", f.read(),
                          "install.md names the version scripts/package builds")
        with open(self.root.file("/etc/resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.53\n")
        with PostfixMX("127.0.0.25", 25, self.tmp, hostname="mx.example.org",
                       domain="example.org") as mx, \
                Dnsmasq(self.tmp, answers={"example.net": "127.0.0.1",
                                           "example.org": "127.0.0.25"}):
            # The MX's certificate is trusted as a public MX's would be.
            shutil.copy(mx.cert_pem_path, self.root.file("/usr/local/share/ca-certificates/mx.crt"))
            self.assertEqual(self.root.run("update-ca-certificates").returncode, 0)

            egress, gateway, message = (sh_blocks(s) for s in (
                "On the egress host", "On the gateway", "A test message"))
            # The egress host.
            out = self.run_as_written(egress[0])
            pin = re.search(r'pin = "(sha256/[^"]+)"', "".join(out.values())).group(1)
            server_toml = self.root.file("/etc/mxegress/server.toml")
            edit(server_toml, {
                r'source = \["203\.0\.113\.10"[^\]]*\]': 'source = ["127.0.0.1"]',
                r'(?m)^tunnel_from = \[[^\]]*\]\n': "",
                r'(?m)^allow = \[\]$': 'allow = ["127.0.0.0/8"]',
            })
            self.run_as_written(egress[1])
            self.start_as_systemd_would("mxegress-server", 8443)

            # The gateway; its key goes into the tenant, and the server reloads.
            out = self.run_as_written(gateway[0])
            public_key = next(v for k, v in out.items() if "keygen" in k).strip()
            edit(server_toml, {r'keys = \[\n  "[^"]+",\n  "[^"]+",\n\]':
                               f'keys = ["{public_key}"]'})
            self.run_as_written(["systemctl reload mxegress-server"])
            self.reload_as_systemd_would("mxegress-server")
            edit(self.root.file("/etc/mxegress/client.toml"),
                 {r'pin = "sha256/[^"]+"': f'pin = "{pin}"'})
            self.run_as_written(gateway[1])
            self.start_as_systemd_would("mxegress-client", 1080)

            # The test message, and its line in the trail.
            out = self.run_as_written(message[0], cwd="/tmp")
            delivered = mx.wait_for_message(30, contains="mxegress test")
            self.assertIn("Hello.", delivered)
            self.assertRegex(mx.log(), r"connect from \S+\[127\.0\.0\.1\]")
            self.assertRegex(delivered, r"(?m)^Received: from .*\n?.*TLS")
            out = self.run_as_written(message[1])
            trail = "".join(out.values())
            self.assertIn("mx.example.org:25", trail)
            self.assertIn("tenant", trail)
