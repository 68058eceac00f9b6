"""Shared set-up of the scenario tests: one Scenario (topology.py) per test file,
built in setUpClass and taken down at class clean-up even when a test or the set-up
fails (namespaces, their /etc/netns dirs, every program).

Namespaces are named ``mxt<pid>-cloud`` etc., like netns.Netns names them, so that
netns.sweep_stale_namespaces() removes those of a killed test run; the
/etc/netns/mxt<pid>-* dirs of such runs are removed here too.
"""

from __future__ import annotations

import collections
import glob
import os
import re
import shutil
import time
import unittest

import mxtest
from exim_gateway import fetch_exim
from netns import sweep_stale_namespaces
from topology import Scenario


def sweep_stale_etc_netns() -> None:
    for path in glob.glob("/etc/netns/mxt*-*"):
        m = re.fullmatch(r"mxt(\d+)-[a-z0-9]+", os.path.basename(path))
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            shutil.rmtree(path, ignore_errors=True)


def message_ids(mx) -> collections.Counter:
    """How many times each Message-ID was delivered into MX's Maildir."""
    ids = collections.Counter()
    for text in mx.messages():
        m = re.search(r"^Message-ID:\s*<([^>]+)>", text, re.M | re.I)
        if m:
            ids[m.group(1)] += 1
    return ids


def client_certs_by_peer(mx, since: int = 0) -> dict[str, set[str]]:
    """{peer address: {fingerprints of the client certificates it presented}} from
    MX's maillog after byte SINCE (lowercase hex, no colons)."""
    out: dict[str, set[str]] = {}
    for m in re.finditer(r"\[([0-9.]+)\]: subject_CN=[^,]*, issuer=[^,]*, "
                         r"fingerprint=([0-9A-F:]+)", mx.log()[since:]):
        out.setdefault(m.group(1), set()).add(m.group(2).replace(":", "").lower())
    return out


@unittest.skipUnless(mxtest.isolated() and os.geteuid() == 0,
                     "needs root inside tests/run_isolated (namespaces, nftables, MTAs)")
class ScenarioTest(mxtest.ScratchDirTest):
    """Base class: ``cls.sc`` is the running Scenario."""

    @classmethod
    def setUpClass(cls):
        fetch_exim()  # first: without it nothing else is worth building
        cls.make_tmp("mxscenario-", "scenario")
        sweep_stale_namespaces()
        sweep_stale_etc_netns()
        cls.sc = Scenario(cls.tmp, f"mxt{os.getpid()}-")
        cls.addClassCleanup(lambda: cls.sc.down(in_error=cls.failed))
        cls.sc.up()
        cls.failed = False

    def setUp(self):
        self.sc.dep.check()

    def context(self) -> str:
        return self.sc.context()

    def wait_message_ids(self, mx, ids, timeout: float) -> collections.Counter:
        """Wait until every Message-ID of IDS was delivered to MX; the counts."""
        deadline = time.monotonic() + timeout
        while True:
            got = message_ids(mx)
            missing = [i for i in ids if got[i] == 0]
            if not missing:
                return got
            if time.monotonic() > deadline:
                self.fail(f"not delivered to {mx.hostname} within {timeout}s: {missing}"
                          + self.context())
            time.sleep(0.2)

    def unique_id(self, label: str, domain: str) -> str:
        return f"{label}.{time.time_ns()}@{domain}"
