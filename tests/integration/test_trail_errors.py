"""The trail cannot silently stop (issue 20 item 3).

A trail file that cannot be written stops `--check`, the start and a reload
that would switch to it. At run time a full disk (a small tmpfs, filled) makes
the server refuse new sessions as the limit `trail` (the SOCKS5 reply, the log
line, the metric, /readyz 503) while a running session goes on; lines that
could not be written wait in the backlog and, beyond it, are counted and noted
in the trail once it is writable again, and every session is accounted for
exactly. With on_trail_error = "continue" sessions go on and the lost lines
are counted. (Rotation: test_trail_rotation.py.)

Root ignores file modes, so "unwritable" is made with mounts: the module moves
itself into a private mount namespace first (before any thread exists), so its
tmpfs mounts are seen by this process and the servers it starts, and vanish
with it.
"""

import ctypes
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from mxtest import (REP_NOT_ALLOWED, REP_OK, EchoServer, Fleet, close_at_cleanup,
                    free_port, recv_exact, recv_until_eof, run_server, server_bin)
from test_metrics import get, metrics_table, parse_metrics, value, wait_until

CLONE_NEWNS = 0x00020000


def _private_mounts() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)


_private_mounts()


class Tmpfs:
    """A tmpfs of SIZE at a fresh directory; fill() uses up its space, free() gives
    it back; close() unmounts."""

    def __init__(self, size: str = "256k", options: str = ""):
        self.dir = tempfile.mkdtemp(prefix="mxtest-trailfs-")
        opts = f"size={size}" + (f",{options}" if options else "")
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", self.dir], check=True)
        self.filler = os.path.join(self.dir, "filler")

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def fill(self) -> None:
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
            try:  # the last partial page
                while True:
                    f.write(b"\0")
            except OSError:
                pass

    def free(self) -> None:
        os.unlink(self.filler)

    def close(self) -> None:
        subprocess.run(["umount", self.dir], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def trail_table(path: str, **more) -> str:
    lines = [f'file = "{path}"'] + [f'{k} = {json.dumps(v)}' for k, v in more.items()]
    return "[trail]\n" + "\n".join(lines) + "\n"


class StartAndReload(unittest.TestCase):
    """An unwritable trail file: --check fails, the server does not start, a
    reload to it is refused."""

    def setUp(self):
        self.ro = Tmpfs(options="ro")
        self.addCleanup(self.ro.close)

    def unstarted_fleet(self, extra: str) -> Fleet:
        fleet = Fleet({"acme": {"source": ["127.0.0.2"]}}, trail=False, server_extra=extra,
                      start=False)
        close_at_cleanup(self, fleet)
        return fleet

    def test_check_and_start_refuse_a_read_only_trail(self):
        path = self.ro.path("trail.jsonl")
        fleet = self.unstarted_fleet(trail_table(path))
        why = f"trail.file: cannot write {path}: Read-only file system"
        cp = run_server("--check", "-c", fleet.server_config)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn(why, cp.stderr)
        self.assertNotIn("configuration OK", cp.stdout)
        # The server itself: refuses before READY=1 (before it says it runs).
        cp = subprocess.run([server_bin(), "-c", fleet.server_config], capture_output=True,
                            text=True, timeout=60, cwd=fleet.dir)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn(why, cp.stderr)
        self.assertNotIn("running", cp.stdout + cp.stderr)
        self.assertFalse(os.path.exists(path))

    def test_check_names_a_directory_that_is_a_file(self):
        fleet = self.unstarted_fleet("")
        not_a_dir = fleet.path("not-a-dir")
        open(not_a_dir, "w").close()
        path = os.path.join(not_a_dir, "trail.jsonl")
        fleet.write_server_config(extra=trail_table(path))
        cp = run_server("--check", "-c", fleet.server_config)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn(f"trail.file: cannot write {path}: Not a directory", cp.stderr)
        # A missing file in a writable directory is fine, and --check creates nothing.
        ok = fleet.path("trail.jsonl")
        fleet.write_server_config(extra=trail_table(ok))
        cp = run_server("--check", "-c", fleet.server_config)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertFalse(os.path.exists(ok), "--check leaves no trail file behind")

    def test_reload_to_an_unwritable_trail_is_refused_and_the_old_stays(self):
        echo = EchoServer("127.0.0.1")
        self.addCleanup(echo.close)
        fleet = Fleet({"acme": {"source": ["127.0.0.2"]}}, ports=[echo.port])
        close_at_cleanup(self, fleet)
        bad = fleet.render_server_config(fleet.tenants, fleet.socks5_users).replace(
            'file = "trail.jsonl"', f'file = "{self.ro.path("trail.jsonl")}"')
        self.assertIn(self.ro.dir, bad)
        log = fleet.reload(raw=bad, expect="refused")
        self.assertIn(f"cannot write {self.ro.path('trail.jsonl')}: Read-only file system", log)
        since = fleet.trail_mark()
        s = fleet.clients["acme"].open("127.0.0.1", echo.port)
        s.sendall(b"x")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"x")
        s.close()
        self.assertEqual(fleet.wait_trail(since)[0]["end"], "closed", "the old trail goes on")


class FullDisk(unittest.TestCase):
    """The trail on a small tmpfs that the test fills and frees."""

    def setUp(self):
        self.fs = Tmpfs("256k")
        self.addCleanup(self.fs.close)
        self.echo = EchoServer("127.0.0.1")
        self.addCleanup(self.echo.close)
        self.metrics = ("127.0.0.1", free_port())
        self.trail = self.fs.path("trail.jsonl")

    def start(self, **trail) -> Fleet:
        fleet = Fleet({"acme": {"source": ["127.0.0.2"]}}, ports=[self.echo.port], trail=False,
                      server_extra=trail_table(self.trail, backlog="1KiB", **trail)
                      + metrics_table(self.metrics[1]))
        fleet.trail_path = self.trail
        close_at_cleanup(self, fleet)
        self.fleet = fleet
        self.acme = fleet.clients["acme"]
        return fleet

    def scrape(self) -> dict:
        status, _, body = get(self.metrics, "/metrics")
        self.assertEqual(status, 200)
        return parse_metrics(body)

    def session(self) -> tuple[str, int]:
        """A short echo session; returns its source (BND) as the trail names it."""
        r = self.acme.connect("127.0.0.1", self.echo.port)
        self.assertEqual(r.reply, REP_OK, r.describe())
        r.sock.sendall(b"hello")
        r.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(r.sock), b"hello")
        r.close()
        return "%s:%d" % tuple(r.bound)

    def open_session(self):
        r = self.acme.connect("127.0.0.1", self.echo.port)
        self.assertEqual(r.reply, REP_OK, r.describe())
        return r

    def close_session(self, r) -> str:
        r.sock.shutdown(socket.SHUT_WR)
        recv_until_eof(r.sock)
        r.close()
        return "%s:%d" % tuple(r.bound)

    def fill_until_failing(self, mark: int) -> tuple[list[str], int]:
        """Fill the disk, then end short sessions until the server says it cannot
        write the trail (the last page of the file may still take a few lines).
        Returns the sources of those sessions and how many sessions were refused
        on the way (in refuse mode, one may start before the test read the error)."""
        self.fs.fill()
        sources = []
        error = r"cannot write .*No space left on device"
        for _ in range(40):
            r = self.acme.connect("127.0.0.1", self.echo.port)
            if r.reply == REP_NOT_ALLOWED:  # the trail failed: the error is logged
                r.close()
                self.fleet.server.wait_for(error, since=mark)
                return sources, 1
            self.assertEqual(r.reply, REP_OK, r.describe())
            sources.append(self.close_session(r))
            if re.search(error, self.fleet.server.since(mark)):
                return sources, 0
            time.sleep(0.05)
        self.fail("the trail never failed on a full disk\n" + self.fleet.logs_tail())

    def accounted(self, sources: list[str], records: list[dict]) -> int:
        """Each of SOURCES has at most one line; returns how many have none."""
        seen = [r.get("source") for r in records]
        for src in sources:
            self.assertLessEqual(seen.count(src), 1, src)
        return sum(1 for src in sources if src not in seen)

    def note_lines(self, records: list[dict]) -> list[dict]:
        return [r for r in records if "lost_lines" in r]

    def test_refuse_mode_refuses_new_sessions_until_the_disk_has_room(self):
        fleet = self.start()
        running = self.open_session()
        held = [self.open_session() for _ in range(5)]
        mark = fleet.server.mark()
        short, refused = self.fill_until_failing(mark)
        wait_until("/readyz 503", lambda: get(self.metrics, "/readyz")[0] == 503)
        status, _, body = get(self.metrics, "/readyz")
        self.assertIn("trail not writable (cannot write " + self.trail, body)
        # New sessions: refused as the limit "trail", logged and counted.
        for _ in range(2):
            r = self.acme.connect("127.0.0.1", self.echo.port)
            r.close()
            self.assertEqual(r.reply, REP_NOT_ALLOWED, r.describe())
        fleet.server.wait_for(r"refused tenant=acme via=tunnel .*reason=\"?trail not writable "
                              r"\(cannot write .*No space left on device\)", since=mark)
        samples = self.scrape()
        self.assertEqual(value(samples, "mxegress_server_limit_refusals_total", tenant="acme",
                               limit="trail"), 2 + refused)
        self.assertEqual(value(samples, "mxegress_server_trail_writable"), 0)
        # The running session is not cut.
        running.sock.sendall(b"still here")
        self.assertEqual(recv_exact(running.sock, 10), b"still here")
        # Sessions that end now: held (1 KiB of backlog), the rest lost and counted.
        ended = [self.close_session(r) for r in held]
        wait_until("lost lines counted", lambda: value(
            self.scrape(), "mxegress_server_trail_lost_lines_total") >= 1)
        # Room again: within the retry interval, written, and sessions accepted.
        self.fs.free()
        fleet.server.wait_for(r"trail writable again: \d+ held lines written, (\d+) lines lost",
                              timeout=10, since=mark)
        wait_until("/readyz 200", lambda: get(self.metrics, "/readyz")[0] == 200)
        after = self.session()
        records = fleet.wait_trail_match(source=after)  # every line parses as JSON
        records = fleet.trail_records()
        notes = self.note_lines(records)
        self.assertEqual(len(notes), 1, notes)
        lost = self.accounted(short + ended, records)
        self.assertGreaterEqual(lost, 1)
        self.assertEqual(notes[0]["lost_lines"], lost, "the note counts exactly the missing")
        self.assertEqual(value(self.scrape(), "mxegress_server_trail_lost_lines_total"), lost)
        self.assertEqual(value(self.scrape(), "mxegress_server_trail_writable"), 1)
        # Order: the held lines before the note, the note before the new session.
        index = {r.get("source"): i for i, r in enumerate(records)}
        note_at = records.index(notes[0])
        self.assertLess(note_at, index[after])
        m = re.search(r"trail writable again: \d+ held lines written, (\d+) lines lost",
                      fleet.server.since(mark))
        self.assertEqual(int(m.group(1)), lost)
        # The running one ends normally, with its line.
        src = self.close_session(running)
        self.assertEqual(fleet.wait_trail_match(source=src)["end"], "closed")
        # The query reads the trail and says what was lost.
        cp = run_server("trail", self.trail, "--tenant", "acme", "--json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(f"{lost} trail lines were lost", cp.stderr)
        self.assertNotIn("malformed", cp.stderr)

    def test_continue_mode_relays_and_counts_lost_lines(self):
        fleet = self.start(on_trail_error="continue")
        mark = fleet.server.mark()
        short, refused = self.fill_until_failing(mark)
        self.assertEqual(refused, 0, "continue mode refuses nothing")
        more = [self.session() for _ in range(5)]  # not refused
        self.assertEqual(get(self.metrics, "/readyz")[0], 200, "relaying: ready")
        samples = self.scrape()
        self.assertEqual(value(samples, "mxegress_server_limit_refusals_total", tenant="acme",
                               limit="trail"), 0)
        self.assertEqual(value(samples, "mxegress_server_trail_writable"), 0)
        wait_until("lost lines counted", lambda: value(
            self.scrape(), "mxegress_server_trail_lost_lines_total") >= 1)
        self.assertRegex(fleet.server.since(mark), r'sessions go on \(on_trail_error = '
                                                   r'"continue"\)')
        self.fs.free()
        fleet.server.wait_for(r"trail writable again", timeout=10, since=mark)
        after = self.session()
        fleet.wait_trail_match(source=after)
        records = fleet.trail_records()
        lost = self.accounted(short + more, records)
        notes = self.note_lines(records)
        self.assertEqual([n["lost_lines"] for n in notes], [lost])
        self.assertEqual(value(self.scrape(), "mxegress_server_trail_lost_lines_total"), lost)


if __name__ == "__main__":
    unittest.main()
