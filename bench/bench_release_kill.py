"""Random-kill loop for the release journal (issue 16).

`pipeline release patch --execute --push` on a small git workspace with a Cargo.lock and a bare
remote, killed with SIGKILL at a random moment of its run, KILLS times; each killed state is then
finished with `release --resume` on one copy and undone with `release --abort` on another, and both
are checked: resume ends in a complete, pushed release; abort in the repository exactly as before
(or, once pushed, a refusal); never a journal left, a stray temporary file, or a tree that
`cargo metadata --locked` refuses. Runs that finish before their kill are counted apart.
The baseline is the uninterrupted release, timed in the same run: the table gives the median
time of a resume and of an abort as ratios of it.

    python bench/bench_release_kill.py [KILLS]
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import table
from journal_support import (
    copy_state,
    journal_file,
    make_template,
    problems_at_end,
    problems_at_start,
    start_release,
)
from release_support import git, snapshot

KILLS = int(sys.argv[1]) if len(sys.argv) > 1 else 50


def _quiet(argv: list[str]) -> tuple[int, float]:
    from pipeline import cli

    saved = sys.stdout, sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stdout = sys.stderr = devnull
        try:
            start = time.perf_counter()
            code = cli.main(argv)
            return code, time.perf_counter() - start
        finally:
            sys.stdout, sys.stderr = saved


def main() -> None:
    rng = random.Random(int(os.environ.get("SEED", "16")))
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        template = make_template(base / "template")
        before = snapshot(template / "ws")
        head = git(template / "ws", "rev-parse", "HEAD").strip()
        baseline = []
        for i in range(3):
            state = copy_state(template, base / f"baseline{i}")
            start = time.perf_counter()
            release = start_release(state)
            release.communicate()
            baseline.append(time.perf_counter() - start)
            assert release.returncode == 0 and not problems_at_end(state, head)
        full = statistics.median(baseline)

        kills = completed = inconsistent = refused_pushed = 0
        resume_times: list[float] = []
        abort_times: list[float] = []
        failures: list[str] = []
        attempt = 0
        while kills < KILLS:
            attempt += 1
            state = copy_state(template, base / f"k{attempt}")
            release = start_release(state)
            time.sleep(rng.uniform(0.0, full))
            # The whole process group, as a killed CI job or a power cut ends it: git's children too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(release.pid, signal.SIGKILL)
            release.communicate()
            if release.returncode == 0:
                completed += 1
                continue
            kills += 1
            if not journal_file(state / "ws").exists():
                # Killed before the journal (nothing may have changed) or after the release removed it
                # (everything must be done): one of the two end states, exactly.
                problems = problems_at_start(state, before, head)
                if problems and problems_at_end(state, head):
                    inconsistent += 1
                    failures.append(f"kill {kills} (no journal): {problems}")
                continue
            resumed = copy_state(state, base / f"k{attempt}r")
            code, seconds = _quiet(["release", "--resume", "--workspace", str(resumed / "ws")])
            resume_times.append(seconds)
            problems = [f"resume exit {code}"] if code else []
            problems += problems_at_end(resumed, head)
            aborted = copy_state(state, base / f"k{attempt}a")
            code, seconds = _quiet(["release", "--abort", "--workspace", str(aborted / "ws")])
            abort_times.append(seconds)
            if code == 1 and git(aborted / "remote.git", "tag").strip():
                refused_pushed += 1  # already pushed: refused, the journal kept for --resume
            else:
                problems += [f"abort exit {code}"] if code else []
                problems += [f"abort: {p}" for p in problems_at_start(aborted, before, head)]
            if problems:
                inconsistent += 1
                failures.append(f"kill {kills}: {problems}")

    table(f"release killed at random ({KILLS} kills, seed {os.environ.get('SEED', '16')})", [
        ("", "count", ""),
        ("kills", str(kills), f"{completed} more runs finished before their kill"),
        ("inconsistent end states", str(inconsistent), "resume or abort left a broken repository"),
        ("abort refused (already pushed)", str(refused_pushed), "resume finished them"),
    ])
    median = statistics.median
    table("time (ratio of an uninterrupted release, measured in this run)", [
        ("", "seconds", "ratio"),
        ("uninterrupted release", f"{full:.2f}", "1.00"),
        ("release --resume (median)", f"{median(resume_times):.2f}" if resume_times else "-",
         f"{median(resume_times) / full:.2f}" if resume_times else "-"),
        ("release --abort (median)", f"{median(abort_times):.2f}" if abort_times else "-",
         f"{median(abort_times) / full:.2f}" if abort_times else "-"),
    ])
    for failure in failures:
        print(failure)
    sys.exit(1 if inconsistent else 0)


if __name__ == "__main__":
    main()
