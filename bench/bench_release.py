"""Release benchmark (issue 3).

`pipeline bump minor --execute` (workspace load, planning, byte-preserving edits of
every manifest and Cargo.lock, atomic fsynced writes) on a generated 500-crate
workspace over `cargo metadata --no-deps --offline` on the same, interleaved in
one run (target: within 3x). The bump runs as a user runs it, in a new process;
the in-process row leaves the interpreter start out. Each bump moves the
workspace on by a minor version, so every run writes all 500 manifests.

    python bench/bench_release.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO_ROOT, interleaved, interpreter_start, table, timed
from factory import make_workspace

RUNS = 7
CRATES = 500


def main() -> None:
    env = {"PYTHONPATH": str(REPO_ROOT)}
    from pipeline import cli

    def in_process(root: Path) -> float:
        saved = sys.stdout, sys.stderr
        with open(os.devnull, "w") as devnull:
            sys.stdout = sys.stderr = devnull
            try:
                start = time.perf_counter()
                code = cli.main(["bump", "minor", "--execute", "--workspace", str(root)])
                elapsed = time.perf_counter() - start
            finally:
                sys.stdout, sys.stderr = saved
        assert code == 0
        return elapsed

    def plan_only(root: Path) -> float:
        # Load + plan + every edit computed in memory (what --execute does before writing).
        from pipeline.project import load_project
        from pipeline.release.facts import gather
        from pipeline.release.prepare import prepare
        from pipeline.release.request import Request

        start = time.perf_counter()
        request = Request(target="minor", execute=True, full=False)
        project = load_project(str(root))
        prepare(gather(project.workspace, project.config.release, request), request)
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws500"
        make_workspace(root, CRATES, lockfile=True)
        times = interleaved(
            RUNS,
            cargo=lambda: timed(["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"], cwd=root),
            bump=lambda: timed([sys.executable, "-m", "pipeline", "bump", "minor", "--execute", "--workspace",
                                str(root)], cwd=root, env=env),
            inproc=lambda: in_process(root),
            plan=lambda: plan_only(root),
            python=interpreter_start,
        )
        # After 2 x RUNS bumps cargo still accepts the edited lock without re-resolving.
        subprocess.run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"], cwd=root, check=True,
                       capture_output=True)
    ratio = times["bump"] / times["cargo"]
    table(
        f"pipeline bump minor --execute vs cargo metadata --no-deps, {CRATES} crates (median of {RUNS})",
        [
            ("command", "seconds", "ratio"),
            ("cargo metadata --no-deps --offline", f"{times['cargo']:.3f}", "1.00"),
            ("pipeline bump minor --execute", f"{times['bump']:.3f}",
             f"{ratio:.2f}  target <= 3.00: " + ("met" if ratio <= 3 else "NOT met")),
            ("  same, in-process (no interpreter start)", f"{times['inproc']:.3f}",
             f"{times['inproc'] / times['cargo']:.2f}"),
            ("  load + plan + edits in memory (no writes)", f"{times['plan']:.3f}",
             f"{times['plan'] / times['cargo']:.2f}"),
            ("  python -c pass (interpreter start)", f"{times['python']:.3f}",
             f"{times['python'] / times['cargo']:.2f}"),
        ],
    )


if __name__ == "__main__":
    main()
