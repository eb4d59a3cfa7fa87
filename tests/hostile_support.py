"""Running code as throwaway non-root users (setpriv), for the hostile-local-user tests.

The tests need root to switch to two unprivileged uids (a victim and an attacker);
elsewhere they skip with the reason. Files they share live in a world-traversable
directory under the temporary directory (pytest's own tmp_path is 0700 root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VICTIM = 61001
ATTACKER = 61002


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "hostile-user tests switch between two throwaway uids: they need root (setpriv)"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    probe = subprocess.run(["setpriv", f"--reuid={VICTIM}", f"--regid={VICTIM}", "--clear-groups", sys.executable,
                            "-c", "import pipeline"], env=as_env(), capture_output=True, text=True, cwd="/")
    if probe.returncode != 0:
        return f"a throwaway uid cannot run this checkout's Python: {probe.stderr.strip()[-200:]}"
    return None


def as_env(**extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), "HOME": "/nonexistent",
           "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def run_as(uid: int, argv: list[str], *, env: dict[str, str] | None = None,
           cwd: Path | str = "/") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv],
                          env=env or as_env(), capture_output=True, text=True, cwd=cwd)


def shared_dir() -> Iterator[Path]:
    """For a fixture: a fresh directory both throwaway users can reach (0755 root; subdirectories are the test's)."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    path = Path(tempfile.mkdtemp(prefix="pipeline-hostile-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
