"""History benchmark (issue 13).

`pipeline changelog` and `pipeline release auto` (dry run) on a repository of 20,000
commits over 50 crates with independent versions (each crate tagged
`{crate}-v{version}` at its own points; one crate never released, so the range is
the whole history), against `git log --format=... --name-only` over the same range,
interleaved in one run (target: within 1.5x). The repository is built in the run
with `git fast-import`. The in-process row is the history core alone
(`pipeline.release.unreleased.read_release_history`: the tags, the logs, attribution and
each crate's range; the crate never tagged makes it read the history in parts). CPU
rows: user + system seconds of each command and its children, which on a shared,
loaded machine say more than wall time.

    python bench/bench_history.py [--commits N] [--crates N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REPO_ROOT, interleaved, table, timed
from history_factory import make_history

RUNS = 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--crates", type=int, default=50)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    env = {"PYTHONPATH": str(REPO_ROOT)}
    from pipeline.release import unreleased as history

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "history"
        start = time.perf_counter()
        shape = make_history(root, crates=args.crates, commits=args.commits,
                             untagged=(f"hist-crate-{args.crates - 1:02d}",))
        built = time.perf_counter() - start
        from pipeline.project import load_project

        project = load_project(str(root))

        def core() -> float:
            begin = time.perf_counter()
            history.read_release_history(root, project.workspace, project.config.release)
            return time.perf_counter() - begin

        pipeline = [sys.executable, "-m", "pipeline", "--workspace", str(root)]
        cpu: dict[str, list[float]] = {"git": [], "changelog": [], "auto": []}
        times = interleaved(
            args.runs,
            git=lambda: timed(["git", "log", "--format=%x00%H%x00%s%x00%b%x00", "--name-only", "HEAD"], cwd=root,
                              cpu=cpu["git"]),
            changelog=lambda: timed([*pipeline, "changelog"], cwd=root, env=env, cpu=cpu["changelog"]),
            auto=lambda: timed([*pipeline, "release", "auto"], cwd=root, env=env, cpu=cpu["auto"]),
            core=core,
        )
    cpu_median = {name: statistics.median(values) for name, values in cpu.items()}
    rows = [("command", "seconds", "ratio"),
            (f"git log --format=... --name-only ({shape.commits} commits)", f"{times['git']:.3f}", "1.00")]
    for key, label in (("changelog", "pipeline changelog"), ("auto", "pipeline release auto (dry run)")):
        ratio = times[key] / times["git"]
        rows.append((label, f"{times[key]:.3f}", f"{ratio:.2f}  target <= 1.50: " + ("met" if ratio <= 1.5 else
                                                                                     "NOT met")))
    rows.append(("  history core in-process (tags, logs, attribution, ranges)", f"{times['core']:.3f}",
                 f"{times['core'] / times['git']:.2f}"))
    for key, label in (("git", "CPU seconds: git log"), ("changelog", "CPU seconds: pipeline changelog"),
                       ("auto", "CPU seconds: pipeline release auto")):
        rows.append((f"  {label}", f"{cpu_median[key]:.3f}", f"{cpu_median[key] / cpu_median['git']:.2f}"))
    table(f"history of {shape.commits} commits over {len(shape.crates)} crates (median of {args.runs}; "
          f"repository built in {built:.1f} s with git fast-import; load {os.getloadavg()[0]:.1f})", rows)


if __name__ == "__main__":
    main()
