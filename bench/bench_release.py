"""Release benchmark (issues 3 and 13).

`pipeline bump minor --execute` (workspace load, planning, byte-preserving edits of
every manifest and Cargo.lock, atomic durable writes, then `cargo metadata --offline
--locked` on the written tree) on a generated 500-crate workspace over `cargo metadata
--no-deps --offline` on the same, interleaved in one run (target: within 2x, issue 13).
The bump runs as a user runs it, in a new process; the in-process row leaves the
interpreter start out. Each bump moves the workspace on by a minor version, so every
run writes all 500 manifests. The `--locked` row is the check every bump now ends with
(it resolves the whole graph, so it costs more than the `--no-deps` baseline alone);
the last row is the bump less that check, what this tool itself adds.

    python bench/bench_release.py
"""

from __future__ import annotations

import os
import statistics
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
        cpu: dict[str, list[float]] = {"cargo": [], "locked": [], "bump": []}
        times = interleaved(
            RUNS,
            cargo=lambda: timed(["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"], cwd=root,
                                cpu=cpu["cargo"]),
            locked=lambda: timed(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"], cwd=root,
                                 cpu=cpu["locked"]),
            bump=lambda: timed([sys.executable, "-m", "pipeline", "bump", "minor", "--execute", "--workspace",
                                str(root)], cwd=root, env=env, cpu=cpu["bump"]),
            inproc=lambda: in_process(root),
            plan=lambda: plan_only(root),
            python=interpreter_start,
        )
        # After 2 x RUNS bumps cargo still accepts the edited lock without re-resolving.
        subprocess.run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"], cwd=root, check=True,
                       capture_output=True)
    ratio = times["bump"] / times["cargo"]
    cpu_median = {name: statistics.median(values) for name, values in cpu.items()}
    table(
        f"pipeline bump minor --execute vs cargo metadata --no-deps, {CRATES} crates (median of {RUNS}; load "
        f"{os.getloadavg()[0]:.1f})",
        [
            ("command", "seconds", "ratio"),
            ("cargo metadata --no-deps --offline", f"{times['cargo']:.3f}", "1.00"),
            ("pipeline bump minor --execute", f"{times['bump']:.3f}",
             f"{ratio:.2f}  target <= 2.00: " + ("met" if ratio <= 2 else "NOT met")),
            ("  of which cargo metadata --locked --offline (the check after writing)", f"{times['locked']:.3f}",
             f"{times['locked'] / times['cargo']:.2f}"),
            ("  bump less that check", f"{times['bump'] - times['locked']:.3f}",
             f"{(times['bump'] - times['locked']) / times['cargo']:.2f}"),
            ("  same, in-process (no interpreter start)", f"{times['inproc']:.3f}",
             f"{times['inproc'] / times['cargo']:.2f}"),
            ("  load + plan + edits in memory (no writes)", f"{times['plan']:.3f}",
             f"{times['plan'] / times['cargo']:.2f}"),
            ("  python -c pass (interpreter start)", f"{times['python']:.3f}",
             f"{times['python'] / times['cargo']:.2f}"),
            *((f"  CPU seconds: {label}", f"{cpu_median[key]:.3f}", f"{cpu_median[key] / cpu_median['cargo']:.2f}")
              for key, label in (("cargo", "cargo metadata --no-deps"), ("locked", "cargo metadata --locked"),
                                 ("bump", "pipeline bump minor --execute (cargo check included)"))),
        ],
    )


if __name__ == "__main__":
    main()
