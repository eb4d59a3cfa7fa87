"""Dependency-health benchmarks (issue 4).

1. `pipeline dupes --json` on a generated 3,000-package Cargo.lock (40 duplicated crates)
   over a bare `tomllib` parse of the same file, both as fresh processes and in-process
   (target: within 3x).
2. `pipeline audit` (Rust half) on the same lockfile with a generated 1,000-advisory
   database, minus interpreter start (`python -c pass`) measured in the same run
   (target: under 1 s of work).
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from common import REPO_ROOT, interleaved, table, timed
from deps_support import generated_advisories, large_lockfile, minimal_workspace, render_lockfile, write_advisory_db

from pipeline import cli

RUNS = 7


def timed_any(argv: list[str], env: dict[str, str]) -> float:
    """Like common.timed, but a non-zero exit (audit found advisories) is expected."""
    start = time.perf_counter()
    subprocess.run(argv, env=dict(os.environ, **env), check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def in_process(func, runs: int = RUNS) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def quiet_main(argv: list[str]) -> int:
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        return cli.main(argv)


def main() -> None:
    env = {"PYTHONPATH": str(REPO_ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        large = large_lockfile(3000, 40)
        ws = minimal_workspace(root / "ws", large.members)
        lock = ws / "Cargo.lock"
        lock.write_text(render_lockfile(large.packages, 3))
        db = write_advisory_db(root / "advisory-db", generated_advisories(1000, large.packages))
        size_kib = lock.stat().st_size / 1024

        dupes_argv = [sys.executable, "-m", "pipeline", "--workspace", str(ws), "dupes", "--json"]
        parse_argv = [sys.executable, "-c", f"import tomllib; tomllib.load(open({str(lock)!r}, 'rb'))"]
        procs = interleaved(
            RUNS,
            toml=lambda: timed(parse_argv),
            dupes=lambda: timed(dupes_argv, env=env),
        )
        work_toml = in_process(lambda: tomllib.loads(lock.read_text()))
        work_dupes = in_process(lambda: quiet_main(["--workspace", str(ws), "dupes", "--json"]))
        ratio = procs["dupes"] / procs["toml"]
        table(
            f"pipeline dupes --json vs bare tomllib parse, {len(large.packages)} packages ({size_kib:.0f} KiB), "
            f"40 duplicated crates (median of {RUNS})",
            [
                ("measurement", "seconds", "ratio"),
                ("python -c 'tomllib.load(Cargo.lock)'", f"{procs['toml']:.3f}", "1.00"),
                ("python -m pipeline dupes --json", f"{procs['dupes']:.3f}",
                 f"{ratio:.2f}  target <= 3x: " + ("met" if ratio <= 3 else "NOT met")),
                ("in-process tomllib.loads", f"{work_toml:.3f}", "1.00"),
                ("in-process cli.main(dupes --json)", f"{work_dupes:.3f}", f"{work_dupes / work_toml:.2f}"),
            ],
        )

        audit_argv = [sys.executable, "-m", "pipeline", "--workspace", str(ws), "audit", "--skip-python",
                      "--db", str(db)]
        audit = interleaved(
            RUNS,
            start=lambda: timed([sys.executable, "-c", "pass"]),
            audit=lambda: timed_any(audit_argv, env),
        )
        work = audit["audit"] - audit["start"]
        table(
            f"pipeline audit (Rust half), {len(large.packages)} packages x 1000 advisories (median of {RUNS})",
            [
                ("measurement", "seconds", "note"),
                ("python -c pass", f"{audit['start']:.3f}", "interpreter start"),
                ("python -m pipeline audit --skip-python", f"{audit['audit']:.3f}", ""),
                ("work beyond interpreter start", f"{work:.3f}",
                 "target < 1 s: " + ("met" if work < 1 else "NOT met")),
            ],
        )


if __name__ == "__main__":
    main()
