#!/usr/bin/python3
"""The mxegress demo: one real SMTP message, with STARTTLS and a client
certificate, from curl through mxegress-client (SOCKS5) and the TLS tunnel to
mxegress-server, and from there to a real Postfix MX, all on loopback.

Run by scripts/demo after the build; needs root (Postfix's master starts as
root). Standard library only. See docs/demo.md for how to read the output.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import mta  # noqa: E402  (the Postfix test-MX harness, shared with the tests)

SERVER_ADDR = ("127.0.0.1", 18443)
SOCKS_ADDR = ("127.0.0.1", 11080)
MX_ADDR = ("127.0.0.1", 12525)

USE_COLOR = sys.stdout.isatty()


def heading(n, title):
    line = "== %d. %s " % (n, title)
    line += "=" * max(3, 72 - len(line))
    if USE_COLOR:
        line = "\033[1m%s\033[0m" % line
    print("\n" + line, flush=True)


def say(text=""):
    print(text, flush=True)


def indent(text, prefix="    "):
    return "\n".join(prefix + l for l in text.rstrip("\n").splitlines())


class DemoFailure(Exception):
    pass


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise DemoFailure("%s exited %d:\n%s%s" % (" ".join(argv), r.returncode,
                                                   r.stdout, r.stderr))
    return r.stdout


def port_free(ip, port):
    """Nobody listens on ip:port (TIME_WAIT leftovers of an earlier run are fine:
    the daemons set SO_REUSEADDR, as this probe does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((ip, port)) != 0  # nobody (e.g. SO_REUSEPORT) listening


class Daemon:
    """One of the pair, in the foreground, stderr to a log file."""

    def __init__(self, name, argv, logpath):
        self.name, self.argv, self.logpath = name, argv, logpath
        self.proc = None
        self._log = None

    def start(self, ready_pattern, timeout=15.0):
        self._log = open(self.logpath, "w")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready_pattern in self.log():
                return
            if self.proc.poll() is not None:
                raise DemoFailure("%s exited with %s at start; its log:\n%s"
                                  % (self.name, self.proc.returncode, indent(self.log())))
            time.sleep(0.05)
        raise DemoFailure("%s did not log %r within %.0fs; its log:\n%s"
                          % (self.name, ready_pattern, timeout, indent(self.log())))

    def log(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def curl_transcript(verbose):
    """curl -v output without the '{ [5 bytes data]' noise."""
    keep = []
    for line in verbose.splitlines():
        if re.match(r"^[{}] \[\d+ bytes data\]$", line.strip()):
            continue
        if line.startswith(("  % Total", "                                 Dload")):
            continue
        keep.append(line)
    return "\n".join(keep)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server-bin", default=os.path.join(ROOT, "build/proxy-server/mxegress-server"))
    ap.add_argument("--client-bin", default=os.path.join(ROOT, "build/proxy-client/mxegress-client"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()

    if os.geteuid() != 0:
        say("demo: run as root (the test MX is a real Postfix, whose master starts as root)")
        return 2
    for b in (args.server_bin, args.client_bin):
        if not os.access(b, os.X_OK):
            say("demo: %s not found; build first (scripts/demo does)" % b)
            return 2
    busy = ["%s:%d" % a for a in (SERVER_ADDR, SOCKS_ADDR, MX_ADDR) if not port_free(*a)]
    if busy:
        say("demo: these loopback ports are in use, stop what holds them and retry: "
            + ", ".join(busy))
        return 2

    # SIGTERM/SIGHUP end the demo the same way Ctrl-C does: via the finally below.
    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    tmp = tempfile.mkdtemp(prefix="mxegress-demo-")
    os.chmod(tmp, 0o755)  # Postfix's users must be able to enter it
    server = client = mx = None
    ok = False
    try:
        # ------------------------------------------------------------------
        heading(1, "Throwaway keys")
        srvdir = os.path.join(tmp, "server")
        clidir = os.path.join(tmp, "client")
        os.makedirs(clidir)
        out = run([args.server_bin, "init", srvdir])
        m = re.search(r'pin\s*=\s*"(sha256/[^"]+)"', out)
        if not m:
            raise DemoFailure("mxegress-server init printed no pin:\n" + out)
        pin = m.group(1)
        say("mxegress-server init %s" % srvdir)
        say("    server TLS key + self-signed certificate; the client pins it as")
        say("    %s" % pin)
        out = run([args.client_bin, "keygen", os.path.join(clidir, "client.key")])
        pub = [l.strip() for l in out.splitlines() if l.strip()][-1]
        say("mxegress-client keygen %s" % os.path.join(clidir, "client.key"))
        say("    the tenant's Ed25519 key; its public half goes into the server's tenant table:")
        say("    %s" % pub)

        # ------------------------------------------------------------------
        heading(2, "Configuration")
        server_toml = os.path.join(srvdir, "server.toml")
        client_toml = os.path.join(clidir, "client.toml")
        with open(server_toml, "w") as f:
            f.write('[server]\nlisten = ["%s:%d"]\ncert = "%s"\nkey = "%s"\n'
                    'connect_timeout = "10s"\n\n'
                    '[policy]\nports = [%d]\nallow = ["127.0.0.0/8"]\n\n'
                    '[[tenant]]\nname = "demo"\nkeys = ["%s"]\nsource = "any"\n'
                    % (SERVER_ADDR + (os.path.join(srvdir, "server.crt"),
                                      os.path.join(srvdir, "server.key"), MX_ADDR[1], pub)))
        with open(client_toml, "w") as f:
            f.write('[client]\nkey = "%s"\n\n[[server]]\naddress = "%s:%d"\npin = "%s"\n\n'
                    '[socks5]\nlisten = ["%s:%d"]\n'
                    % ((os.path.join(clidir, "client.key"),) + SERVER_ADDR + (pin,) + SOCKS_ADDR))
        say("server.toml:")
        say(indent(open(server_toml).read()))
        say("client.toml:")
        say(indent(open(client_toml).read()))
        say("Why port %d and not 25: this demo runs on your machine's own loopback, where a"
            % MX_ADDR[1])
        say("system MTA may already hold port 25. The pair does not care which port the MX")
        say("uses; a real server keeps the default policy ports = [25], and the built-in")
        say("deny-list (loopback, private ranges, ...) is lifted here only because")
        say("allow = [\"127.0.0.0/8\"] says so. The test suite uses port 25 inside a private")
        say("network namespace.")

        # ------------------------------------------------------------------
        heading(3, "Starting the pair and a test MX")
        server = Daemon("mxegress-server", [args.server_bin, "-c", server_toml],
                        os.path.join(tmp, "server.log"))
        server.start("listening on %s:%d" % SERVER_ADDR)
        say("mxegress-server  tunnel listener   %s:%d" % SERVER_ADDR)
        client = Daemon("mxegress-client", [args.client_bin, "-c", client_toml],
                        os.path.join(tmp, "client.log"))
        client.start("listening on %s:%d" % SOCKS_ADDR)
        say("mxegress-client  SOCKS5 listener   %s:%d   (where a mail gateway connects)"
            % SOCKS_ADDR)
        mx = mta.PostfixMX(MX_ADDR[0], MX_ADDR[1], tmp)
        mx.start()
        say("Postfix test MX  SMTP + STARTTLS   %s:%d   (asks senders for a client certificate)"
            % MX_ADDR)
        gw = mta.make_client_cert(os.path.join(tmp, "gateway"), cn="gateway.example.test",
                                  name="gateway")
        say("sender's TLS client certificate: CN=gateway.example.test (what e.g. Exchange")
        say("Online uses to recognise a tenant; it must reach the MX untouched)")

        # ------------------------------------------------------------------
        heading(4, "Sending one message with curl through the SOCKS5 port")
        token = uuid.uuid4().hex[:12]
        msg = os.path.join(tmp, "message.eml")
        rcpt = mx.address("postmaster")
        with open(msg, "w") as f:
            f.write("From: Demo Sender <sender@gateway.example.test>\r\n"
                    "To: <%s>\r\n"
                    "Subject: mxegress demo %s\r\n"
                    "Message-ID: <%s@gateway.example.test>\r\n"
                    "\r\n"
                    "This message travelled SOCKS5 -> TLS 1.3 tunnel -> TCP to the MX.\r\n"
                    "STARTTLS and the client certificate were end to end.\r\n" % (rcpt, token, token))
        cmd = ["curl", "-v", "-sS", "--socks5-hostname", "%s:%d" % SOCKS_ADDR,
               "smtp://%s:%d/gateway.example.test" % MX_ADDR, "--ssl-reqd",
               "--cacert", mx.cert_pem_path, "--cert", gw.cert_path, "--key", gw.key_path,
               "--mail-from", "sender@gateway.example.test", "--mail-rcpt", rcpt,
               "--upload-file", msg, "-w", "%{certs}", "--max-time", "30"]
        say("$ " + " ".join(c if " " not in c else "'%s'" % c for c in cmd).replace(tmp, "$TMP"))
        say("  ($TMP = %s)" % tmp)
        say()
        marks = (len(client.log()), len(server.log()), len(mx.log()))
        r = subprocess.run(cmd, capture_output=True, text=True)
        say("curl's transcript ('*' = curl's notes, '>' = sent, '<' = received;")
        say("everything after STARTTLS travelled encrypted end to end, sender <-> MX):")
        say(indent(curl_transcript(r.stderr)))
        if r.returncode != 0:
            raise DemoFailure("curl exited %d" % r.returncode)
        say("curl exited 0: the MX accepted the message.")

        # ------------------------------------------------------------------
        heading(5, "Certificates: what each end saw")
        pem = mta.pem_from_curl_certs(r.stdout)
        if pem is None:
            raise DemoFailure("curl reported no server certificate (-w '%{certs}' empty)")
        seen = mta.cert_sha256_from_pem(pem)
        own = mta.openssl_sha256(mx.cert_pem_path)
        say("MX certificate, as the sender saw it:   sha256 %s" % seen)
        say("MX certificate, as the MX presents it:  sha256 %s" % own)
        if seen != own:
            raise DemoFailure("the sender saw a different certificate than the MX's own: "
                              "something in the path terminated TLS")
        say("  -> equal: the TLS session ran from curl to Postfix; the proxy pair only")
        say("     carried bytes and could not read or alter them.")
        logged = []
        deadline = time.monotonic() + 10
        while not logged and time.monotonic() < deadline:
            logged = mx.logged_client_cert_sha256s()
            time.sleep(0.1)
        say("Sender's client certificate:            sha256 %s" % gw.sha256)
        say("Client certificate the MX logged:       sha256 %s"
            % (logged[-1] if logged else "(none)"))
        if gw.sha256 not in logged:
            raise DemoFailure("the MX did not log the sender's client certificate")
        say("  -> equal: the client certificate reached the MX untouched.")
        say("Postfix's log line (smtpd_tls_loglevel = 2):")
        say(indent("\n".join(mx.client_cert_log_lines()[-1:])))

        # ------------------------------------------------------------------
        heading(6, "The delivered message (Postfix Maildir)")
        text = mx.wait_for_message(20, contains=token)
        say(indent(text))
        say("The Received: header is Postfix's own: 'using TLSv1.3 ...' and 'Client CN'")
        say("show it negotiated TLS with the sender itself.")

        # ------------------------------------------------------------------
        heading(7, "The pair's log for this session")
        time.sleep(0.3)  # let the session-end lines land
        say("mxegress-client (lines logged since curl started):")
        say(indent(client.log()[marks[0]:] or "(nothing)"))
        say("mxegress-server (lines logged since curl started):")
        say(indent(server.log()[marks[1]:] or "(nothing)"))
        say("The MX's view of the connection (maillog):")
        mxlines = [l for l in mx.log()[marks[2]:].splitlines()
                   if re.search(r"postfix/smtpd\[\d+\]: (connect from|disconnect from)", l)
                   or "TLS connection established" in l]
        say(indent("\n".join(mxlines) or "(none)"))
        ok = True
    except DemoFailure as e:
        say("\nDEMO FAILED: %s" % e)
    except KeyboardInterrupt:
        say("\ninterrupted")
    except Exception as e:  # anything else: still clean up, still say why
        say("\nDEMO FAILED: %s: %s" % (type(e).__name__, e))
    finally:
        heading(8, "Stopping everything")
        for d in (client, server):
            if d is not None:
                d.stop()
                say("stopped %s" % d.name)
        if mx is not None:
            mx.stop()
            say("stopped the Postfix test MX")
        if args.keep or not ok:
            say("kept %s (logs, configs, keys) for inspection" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            say("removed %s" % tmp)
    if ok:
        say("\nDemo OK: the message arrived, and the certificates each end saw are the other's own.")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
