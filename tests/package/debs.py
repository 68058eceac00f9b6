"""debs: what the package tests share: building the .debs with scripts/package,
and editing a shipped configuration as an operator would.

MX_PACKAGE_BUILD_DIR names the Release build tree scripts/package uses (kept
between runs, so that only a change rebuilds).
"""

from __future__ import annotations

import glob
import os
import re
import subprocess

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def build_packages(out: str) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Runs scripts/package OUT; returns its CompletedProcess and {"server": deb,
    "client": deb}. AssertionError with its output when it fails."""
    build = os.environ.get("MX_PACKAGE_BUILD_DIR", os.path.join(ROOT, "build-package"))
    made = subprocess.run([os.path.join(ROOT, "scripts", "package"), out],
                          env=dict(os.environ, MX_PACKAGE_BUILD_DIR=build),
                          capture_output=True, text=True, timeout=3000)
    if made.returncode != 0:
        raise AssertionError(f"scripts/package failed ({made.returncode}):\n"
                             f"{made.stdout[-4000:]}\n{made.stderr[-4000:]}")
    return made, {p: glob.glob(os.path.join(out, f"mxegress-{p}_*.deb"))[0]
                  for p in ("server", "client")}


def edit(path: str, substitutions: dict[str, str]) -> None:
    """Edit PATH as an operator would: each pattern must match exactly once (so a
    change to the example configuration fails here, not somewhere later)."""
    with open(path) as f:
        text = f.read()
    for pattern, replacement in substitutions.items():
        text, n = re.subn(pattern, replacement, text)
        if n != 1:
            raise AssertionError(f"{path}: {pattern!r} matched {n} times")
    with open(path, "w") as f:
        f.write(text)
