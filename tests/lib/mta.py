"""A private Postfix instance used as the destination MX in real-MTA tests.

Standard library and mxtest only; run with /usr/bin/python3 as root
(Postfix's master must start as root). Nothing here touches the system Postfix: the instance
has its own config, queue, data, mail and log directories under `workdir`,
listens on one address:port only, and does no DNS at all.

    from mta import PostfixMX, make_client_cert, cert_sha256_from_pem

    with PostfixMX("127.0.0.1", 25, workdir) as mx:
        ...                                  # send mail to rcpt@example.test
        text = mx.wait_for_message(20, contains=token)
        mx.cert_sha256()                     # the certificate it presents
        mx.logged_client_cert_sha256s()      # client certs it saw (maillog)

    SocksSMTP(proxy, host, port, local_hostname=...)   # smtplib through SOCKS5

What the instance does:
- SMTP on ip:port (`master -c DIR/etc -s` run directly, stopped with SIGTERM).
- STARTTLS offered (`smtpd_tls_security_level = may`) with a self-signed
  certificate made here (EC P-256; SAN = the MX host name and `ip`).
- Asks every TLS client for a certificate (`smtpd_tls_ask_ccert = yes`) and,
  with `smtpd_tls_loglevel = 2`, logs it:
      postfix/smtpd[N]: localhost[127.0.0.1]: subject_CN=client.example.test,
        issuer=client.example.test, fingerprint=AB:CD:..., pkey_fingerprint=...
  The fingerprint digest is SHA-256 (`smtpd_tls_fingerprint_digest`).
  `smtpd_tls_received_header = yes` adds the TLS details (protocol, cipher,
  client CN) to the delivered message's Received header.
- Accepts mail for any recipient in `domain` (default example.test) from
  `mynetworks` (loopback) and delivers it into one Maildir (virtual(8)).
- Logs to DIR/log/maillog (`maillog_file`, via postlogd).

All fingerprints returned by this module are lowercase hex without colons;
`normalize_fingerprint()` turns any "AB:CD:.." or "sha256/.." spelling into it.
"""

import glob
import hashlib
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time

from mxtest import REP_OK, socks5_connect

POSTFIX = "/usr/sbin/postfix"
MASTER = "/usr/lib/postfix/sbin/master"
OPENSSL = "openssl"

# Only the services this MX needs; chroot off everywhere (the instance dirs
# are not chroot jails), the smtpd listener on the one address:port given.
# master.cf pieces: every instance (the MX, and netns.SenderPostfix) has the
# header, the common services and the log services; the MX adds its smtpd
# listener and the delivery agents.
MASTER_CF_HEADER = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
"""

MASTER_CF_COMMON_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
"""

MASTER_CF_LOG_SERVICES = """\
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

_MASTER_CF = (MASTER_CF_HEADER
              + "{listen} inet  n       -       n       -       -       smtpd\n"
              + MASTER_CF_COMMON_SERVICES + """\
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
""" + MASTER_CF_LOG_SERVICES)

# main.cf lines every private instance starts with (its own directories and log).
MAIN_CF_INSTANCE = """\
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {base}
maillog_file = {log}
"""

_MAIN_CF = MAIN_CF_INSTANCE + """\
# one address (the smtpd line in master.cf names it; "all" here because Postfix
# refuses an inet_interfaces address that is not on an interface, e.g.
# 127.0.0.2), no DNS, nothing leaves this host
inet_interfaces = all
inet_protocols = {protocols}
myhostname = {hostname}
mydomain = {domain}
myorigin = {hostname}
mydestination =
mynetworks = 127.0.0.0/8 [::1]/128
relayhost =
default_transport = error:this test MX relays nothing
relay_transport = error:this test MX relays nothing
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# deliver everything for {domain} into one Maildir
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
# STARTTLS (unless made without it), and ask the client for its certificate
smtpd_tls_security_level = {tls_level}
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_ask_ccert = yes
smtpd_tls_loglevel = 2
smtpd_tls_received_header = yes
smtpd_tls_fingerprint_digest = sha256
smtpd_tls_session_cache_database =
smtpd_banner = $myhostname ESMTP mxegress-test-mx
# tests send quickly and may reconnect at once
smtpd_client_connection_rate_limit = 0
anvil_rate_time_unit = 60s
"""

# With refuse_clients: the client restrictions are judged at connect time
# (smtpd_delay_reject = no), so a listed client's greeting itself is the
# rejection ("554 5.7.1 <...>: Client host rejected: ..."), not a 220 with a
# refusal later; a cidr table is read as it is (no postmap).
_MAIN_CF_REFUSE = """\
smtpd_delay_reject = no
smtpd_client_restrictions = check_client_access cidr:{table}
"""

_FPR_LINE = re.compile(r"subject_CN=.*?, fingerprint=([0-9A-Fa-f:]+)")


def normalize_fingerprint(text):
    """'AB:CD:..', 'sha256/ab..', 'SHA256 Fingerprint=AB:..' -> 'abcd..'."""
    text = text.strip()
    if "=" in text:
        text = text.rsplit("=", 1)[1]
    if text.lower().startswith("sha256/"):
        text = text[len("sha256/"):]
    return text.replace(":", "").strip().lower()


def cert_sha256_from_pem(pem_text):
    """SHA-256 (lowercase hex) of the DER of the first certificate in pem_text."""
    pems = split_pem_certs(pem_text)
    if not pems:
        raise ValueError("no PEM certificate found")
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pems[0])).hexdigest()


def cert_sha256_from_file(path):
    with open(path) as f:
        return cert_sha256_from_pem(f.read())


def split_pem_certs(text):
    """Every '-----BEGIN CERTIFICATE-----' block in text, in order."""
    return re.findall(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----",
                      text, re.S)


def openssl_sha256(path):
    """The same fingerprint as cert_sha256_from_file, computed by the openssl CLI."""
    out = subprocess.run([OPENSSL, "x509", "-in", path, "-noout", "-fingerprint",
                          "-sha256"], check=True, capture_output=True, text=True).stdout
    return normalize_fingerprint(out)


def make_self_signed(key_path, cert_path, cn, sans=()):
    """EC P-256 key + self-signed certificate (valid 30 days) via openssl req."""
    cmd = [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-keyout", key_path, "-out",
           cert_path, "-days", "30", "-subj", "/CN=" + cn]
    if sans:
        cmd += ["-addext", "subjectAltName=" + ",".join(sans)]
    subprocess.run(cmd, check=True, capture_output=True)
    os.chmod(key_path, 0o600)
    os.chmod(cert_path, 0o644)


class ClientCert:
    """A TLS client certificate for an SMTP client: .key_path, .cert_path, .sha256."""

    def __init__(self, key_path, cert_path):
        self.key_path = key_path
        self.cert_path = cert_path
        self.sha256 = cert_sha256_from_file(cert_path)

    def __repr__(self):
        return "ClientCert(%r, sha256=%s)" % (self.cert_path, self.sha256)


def make_client_cert(directory, cn="client.example.test", name="client"):
    """Writes directory/NAME.key and directory/NAME.crt (self-signed, EC P-256)."""
    os.makedirs(directory, exist_ok=True)
    key = os.path.join(directory, name + ".key")
    crt = os.path.join(directory, name + ".crt")
    make_self_signed(key, crt, cn, sans=("DNS:" + cn,))
    return ClientCert(key, crt)


def _addr_literal(ip):
    return "[%s]" % ip if ":" in ip else ip


# ---- pieces of a private Postfix instance (PostfixMX, netns.SenderPostfix) ----

def wait_in_log(what, read_log, log_tail, proc, pattern, timeout, since=0, flags=re.M,
                error=AssertionError):
    """Wait until regex PATTERN is in READ_LOG()[SINCE:] of a mail program (WHAT names it
    in errors) and return the match. ERROR, with LOG_TAIL(), when PROC (its daemon, or
    None) exited first or TIMEOUT seconds passed."""
    rx = re.compile(pattern, flags)
    deadline = time.monotonic() + timeout
    while True:
        m = rx.search(read_log()[since:])
        if m:
            return m
        if proc is not None and proc.poll() is not None:
            raise error(f"{what} exited ({proc.returncode}):\n{log_tail()}")
        if time.monotonic() > deadline:
            raise error(f"{what}: no /{pattern}/ within {timeout}s:\n{log_tail()}")
        time.sleep(0.1)


def read_maillog(path):
    """The instance's maillog so far ('' if nothing logged yet)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def make_instance_dirs(directory, subdirs, data_dir):
    """A fresh DIRECTORY (removed first) with SUBDIRS, all mode 0755, its parent
    made and opened to others (postfix must walk down to its directories);
    DATA_DIR (one of SUBDIRS) owned by postfix, mode 0700."""
    if os.path.exists(directory):
        shutil.rmtree(directory)
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    os.chmod(parent, os.stat(parent).st_mode | 0o755)
    for sub in (directory, *subdirs):
        os.makedirs(sub, exist_ok=True)
        os.chmod(sub, 0o755)
    import pwd
    pf = pwd.getpwnam("postfix")
    os.chown(data_dir, pf.pw_uid, pf.pw_gid)
    os.chmod(data_dir, 0o700)


def run_on_tty(argv):
    """Runs ARGV under script(1): `postfix check` reports problems on a terminal only."""
    cmd = " ".join(_shquote(a) for a in argv)
    return subprocess.run(["script", "-qec", cmd, "/dev/null"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, errors="replace")


def postfix_check(etc, error=RuntimeError):
    """`postfix -c ETC check` (creates the queue directories with the right owners);
    raises ERROR with its output if it fails."""
    r = run_on_tty([POSTFIX, "-c", etc, "check"])
    if r.returncode != 0 or "fatal" in r.stdout:
        raise error("postfix check failed for %s:\n%s" % (etc, r.stdout))


def start_master(etc, directory):
    """`master -c ETC -s`, its output in DIRECTORY/master.out: (Popen, that file)."""
    out = open(os.path.join(directory, "master.out"), "w")
    proc = subprocess.Popen([MASTER, "-c", etc, "-s"], stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT)
    return proc, out


def stop_master(p, timeout=10.0):
    """SIGTERM to master P (which stops its children), then wait for it; SIGKILL to
    its process group if it does not go or a daemon of it survives."""
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # master made its own group
            except ProcessLookupError:
                pass
            p.wait(5)
    # master's children get SIGTERM from master; give them a moment, then
    # make sure none of this instance's daemons survive (its own group only)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(p.pid, 0)
        except (ProcessLookupError, PermissionError):
            break
        time.sleep(0.05)
    else:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class PostfixMX:
    """A private Postfix MX on ip:port, rooted at workdir/postfix-IP-PORT.

    Context manager: starts on enter (returns once the 220 banner is served),
    stops on exit (SIGTERM to master, waits; SIGKILL to its process group if
    it does not go), whatever happened inside the block.

    Attributes: ip, port, hostname, domain, dir, cert_pem_path, key_path,
    maildir (the Maildir every message goes to), log_path.

    Variants (for tests of what a sender learns from an MX's answers):
    - `starttls=False`: no STARTTLS in the EHLO answer
      (`smtpd_tls_security_level = none`).
    - `refuse_clients=("127.0.0.5", "10.0.0.0/8")`: those client addresses
      (or CIDR blocks) are refused at connect time: their greeting itself is
      `554 5.7.1 <unknown[127.0.0.5]>: Client host rejected: Access denied`
      (`smtpd_delay_reject = no` and `check_client_access` in
      `smtpd_client_restrictions`; every command after it gets 503), the
      others get the usual `220 mx.example.test ESMTP ...`.
    """

    def __init__(self, ip, port, workdir, hostname="mx.example.test",
                 domain="example.test", start_timeout=20.0, starttls=True,
                 refuse_clients=()):
        self.ip = ip
        self.port = int(port)
        self.hostname = hostname
        self.domain = domain
        self.start_timeout = start_timeout
        self.starttls = starttls
        self.refuse_clients = tuple(refuse_clients)
        self.dir = os.path.join(os.path.abspath(workdir),
                                "postfix-%s-%d" % (ip.replace(":", "_"), self.port))
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.mail = os.path.join(self.dir, "mail")
        self.logdir = os.path.join(self.dir, "log")
        self.log_path = os.path.join(self.logdir, "maillog")
        self.cert_pem_path = os.path.join(self.dir, "tls", "mx.crt")
        self.key_path = os.path.join(self.dir, "tls", "mx.key")
        self.maildir = os.path.join(self.mail, "inbox")
        self.proc = None
        self._seen = set()

    # ---- public API -------------------------------------------------------

    def address(self, local="rcpt"):
        """A recipient address this MX accepts and delivers."""
        return "%s@%s" % (local, self.domain)

    def cert_sha256(self):
        """SHA-256 of this MX's own certificate (lowercase hex)."""
        return cert_sha256_from_file(self.cert_pem_path)

    def log(self):
        """The instance's maillog so far ('' if nothing logged yet)."""
        return read_maillog(self.log_path)

    def logged_client_cert_sha256s(self):
        """Fingerprints (lowercase hex) of every client certificate smtpd logged."""
        return [normalize_fingerprint(m) for m in _FPR_LINE.findall(self.log())]

    def client_cert_log_lines(self):
        """The maillog lines that record a client certificate and its fingerprint."""
        return [l for l in self.log().splitlines() if _FPR_LINE.search(l)]

    def messages(self):
        """Texts of all delivered messages, oldest first."""
        files = []
        for sub in ("new", "cur"):
            files += glob.glob(os.path.join(self.maildir, sub, "*"))
        files.sort(key=lambda p: (os.path.getmtime(p), p))
        out = []
        for p in files:
            with open(p, errors="replace") as f:
                out.append(f.read())
        return out

    def wait_for_message(self, timeout=20.0, contains=None):
        """Waits for a delivered message and returns its text.

        With `contains`, the first message containing that string; without it,
        the oldest message not yet returned by an earlier call. Raises
        TimeoutError (with the maillog tail) if none arrives in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            for sub in ("new", "cur"):
                for p in sorted(glob.glob(os.path.join(self.maildir, sub, "*")),
                                key=lambda p: (os.path.getmtime(p), p)):
                    name = os.path.basename(p).split(":")[0]
                    if contains is None and name in self._seen:
                        continue
                    try:
                        with open(p, errors="replace") as f:
                            text = f.read()
                    except FileNotFoundError:
                        continue  # moved new/ -> cur/ meanwhile
                    if contains is not None and contains not in text:
                        continue
                    self._seen.add(name)
                    return text
            if time.monotonic() > deadline:
                raise TimeoutError(
                    "no message%s delivered to %s within %.0fs; maillog tail:\n%s"
                    % ("" if contains is None else " containing %r" % contains,
                       self.maildir, timeout, self._log_tail()))
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("postfix master exited (%s); maillog tail:\n%s"
                                   % (self.proc.returncode, self._log_tail()))
            time.sleep(0.1)

    def start(self):
        try:
            self._prepare()
            self._launch()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout=10.0):
        """SIGTERM to master (which stops its children), then wait for it."""
        p, self.proc = self.proc, None
        if p is None:
            return
        stop_master(p, timeout)
        if self._master_out is not None:
            self._master_out.close()
            self._master_out = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- internals --------------------------------------------------------

    _master_out = None

    def _log_tail(self, n=40):
        lines = self.log().splitlines()
        return "\n".join(lines[-n:]) or "(maillog empty)"

    def _prepare(self):
        if os.geteuid() != 0:
            raise RuntimeError("PostfixMX needs root (postfix master starts as root)")
        make_instance_dirs(self.dir, (self.etc, self.queue, self.data, self.mail,
                                      self.logdir, os.path.dirname(self.cert_pem_path)),
                           self.data)
        # mkdtemp() makes 0700 directories: make_instance_dirs() opened up workdir
        # (the caller's scratch dir); any ancestor that is closed is an error, not
        # ours to change.
        d = os.path.dirname(os.path.dirname(self.dir))
        while True:
            if os.stat(d).st_mode & 0o001 == 0:
                raise RuntimeError("PostfixMX: %s is not searchable by others; the postfix "
                                   "user cannot reach %s (use a workdir under /tmp)"
                                   % (d, self.dir))
            if os.path.dirname(d) == d:
                break
            d = os.path.dirname(d)
        make_self_signed(self.key_path, self.cert_pem_path, self.hostname,
                         sans=("DNS:" + self.hostname, "IP:" + self.ip))
        import pwd
        nobody = pwd.getpwnam("nobody")
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        os.chmod(self.mail, 0o700)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(_MAIN_CF.format(
                etc=self.etc, queue=self.queue, data=self.data, base=self.dir,
                log=self.log_path, ip=self.ip,
                protocols="ipv6" if ":" in self.ip else "ipv4",
                hostname=self.hostname, domain=self.domain, mail=self.mail,
                uid=nobody.pw_uid, gid=nobody.pw_gid, cert=self.cert_pem_path,
                key=self.key_path, tls_level="may" if self.starttls else "none"))
            if self.refuse_clients:
                table = os.path.join(self.etc, "refused-clients.cidr")
                f.write(_MAIN_CF_REFUSE.format(table=table))
                with open(table, "w") as t:
                    t.writelines("%s REJECT\n" % (c if "/" in c else
                                                   c + ("/128" if ":" in c else "/32"))
                                 for c in self.refuse_clients)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(_MASTER_CF.format(
                listen="%s:%d" % (_addr_literal(self.ip), self.port)))
        postfix_check(self.etc)

    def _launch(self):
        self.proc, self._master_out = start_master(self.etc, self.dir)

    def _wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        family = socket.AF_INET6 if ":" in self.ip else socket.AF_INET
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                why = run_on_tty([POSTFIX, "-c", self.etc, "check"]).stdout
                raise RuntimeError(
                    "postfix master exited with %s before serving %s:%d\n"
                    "postfix check says:\n%s\nmaillog:\n%s"
                    % (self.proc.returncode, self.ip, self.port, why, self._log_tail()))
            try:
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.settimeout(5)
                    s.connect((self.ip, self.port))
                    banner = s.recv(512)
                    # a greeting, whatever it says: this client may be refused
                    if re.match(rb"[25]\d\d[ -]", banner):
                        s.sendall(b"QUIT\r\n")
                        try:
                            s.recv(512)
                        except OSError:
                            pass
                        return
                    last = banner
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise TimeoutError("postfix on %s:%d not ready within %.0fs (%r); maillog:\n%s"
                           % (self.ip, self.port, self.start_timeout, last, self._log_tail()))


def _shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def curl_smtp(url, *, cacert, cert, sender, rcpt, upload, max_time, timeout,
              proxy_args=(), extra=()):
    """`curl -v -sS` sending the file UPLOAD from SENDER to RCPT over SMTP to URL, with
    STARTTLS required (the MX certificate checked against CACERT) and the ClientCert
    CERT; PROXY_ARGS go before the URL, EXTRA last. The CompletedProcess (text)."""
    cmd = ["curl", "-v", "-sS", "--max-time", str(max_time), *proxy_args, url,
           "--ssl-reqd", "--cacert", cacert,
           "--cert", cert.cert_path, "--key", cert.key_path,
           "--mail-from", sender, "--mail-rcpt", rcpt, "--upload-file", upload, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class SocksSMTP(smtplib.SMTP):
    """smtplib.SMTP whose TCP connection is a SOCKS5 CONNECT through PROXY; the
    SocksResult (reply, bound = the source address the MX sees) is
    `socks_result`. Give `local_hostname` (smtplib would call getfqdn(): DNS).
    Made with host "" it does not connect: `connect(host, port)` then returns
    the greeting's (code, text) whatever the code (the constructor raises
    SMTPConnectError for anything but 220)."""

    def __init__(self, proxy, host, port, **kw):
        self._proxy = proxy
        self.socks_result = None
        super().__init__(host, port, **kw)

    def _get_socket(self, host, port, timeout):
        r = socks5_connect(self._proxy, host, port, timeout=timeout)
        self.socks_result = r
        if r.reply != REP_OK:
            r.close()
            raise OSError("SOCKS5 CONNECT %s:%d failed: %s" % (host, port, r.describe()))
        return r.sock


def pem_from_curl_certs(text):
    """The first certificate in curl's -w '%{certs}' output (PEM), or None."""
    pems = split_pem_certs(text)
    return pems[0] if pems else None


if __name__ == "__main__":
    # Manual check: python3 mta.py IP PORT WORKDIR -> runs until Ctrl-C.
    import sys
    ip, port, wd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with PostfixMX(ip, port, wd) as mx:
        print("MX on %s:%d, cert sha256 %s; Ctrl-C to stop" % (ip, port, mx.cert_sha256()))
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
