"""A real redis-server for the fleet's integration tests: on a Unix socket in a
private temp dir, no persistence; start, SIGKILL, start again on the same socket,
pause (CLIENT PAUSE), and commands over a plain socket (RESP, no client library).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def available() -> bool:
    return os.access(REDIS_SERVER, os.X_OK)


class RedisLab:
    def __init__(self, prefix: str = "mxredis-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.socket = os.path.join(self.dir, "redis.sock")
        self.log_path = os.path.join(self.dir, "redis.log")
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """The ``[fleet] redis`` value."""
        return "unix:" + self.socket

    def start(self, timeout: float = 10.0) -> "RedisLab":
        argv = [REDIS_SERVER, "--port", "0", "--unixsocket", self.socket,
                "--unixsocketperm", "777", "--save", "", "--appendonly", "no",
                "--dir", self.dir, "--logfile", self.log_path]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.command("PING") == "PONG":
                    return self
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start; log {self.log_path}")

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def pause(self, ms: int) -> None:
        """Every other client's commands wait MS milliseconds."""
        self.command("CLIENT", "PAUSE", str(ms), "ALL")

    def command(self, *args: str):
        """One command; the reply as str, int, list or None (errors raise)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.socket)
            out = f"*{len(args)}\r\n".encode()
            for a in args:
                b = a.encode()
                out += b"$%d\r\n%s\r\n" % (len(b), b)
            s.sendall(out)
            f = s.makefile("rb")
            return _read_reply(f)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _read_reply(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2].decode()
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError("redis: " + rest)
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise OSError(f"redis: unexpected reply {line!r}")
