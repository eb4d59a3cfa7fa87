"""Benchmark: `pipeline bump minor --execute` on a 500-crate workspace vs `cargo metadata --no-deps`.

Both are measured in this run, on the same generated workspace (tests/factory.py):

    python bench/bench_release.py [--crates 500] [--repeat 5]

The bump is run as a user runs it (a fresh `python -m pipeline` process: interpreter
start, workspace load, planning, byte-preserving edits of every manifest and
Cargo.lock, atomic writes). The in-process row leaves the interpreter start out.
Target: the bump within 3x of `cargo metadata --no-deps --offline`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from factory import make_workspace  # noqa: E402


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crates", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        make_workspace(ws, crates=args.crates, lockfile=True)
        metadata = ["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"]
        timed(metadata, ws, env)  # warm the file cache for both sides
        base = [timed(metadata, ws, env) for _ in range(args.repeat)]
        bump = [
            timed([sys.executable, "-m", "pipeline", "bump", "minor", "--execute", "--workspace", str(ws)], ws, env)
            for _ in range(args.repeat)
        ]
        from pipeline import cli

        devnull = open(os.devnull, "w")
        saved = sys.stdout, sys.stderr
        in_process = []
        try:
            for _ in range(args.repeat):
                sys.stdout = sys.stderr = devnull
                start = time.perf_counter()
                code = cli.main(["bump", "minor", "--execute", "--workspace", str(ws)])
                in_process.append(time.perf_counter() - start)
                sys.stdout, sys.stderr = saved
                assert code == 0
        finally:
            sys.stdout, sys.stderr = saved
            devnull.close()
        locked = timed(["cargo", "metadata", "--locked", "--offline", "--format-version", "1"], ws, env)

    baseline = statistics.median(base)
    rows = [
        ("cargo metadata --no-deps --offline (baseline)", baseline),
        ("pipeline bump minor --execute (new process)", statistics.median(bump)),
        ("pipeline bump minor --execute (in-process)", statistics.median(in_process)),
    ]
    print(f"release bench: {args.crates} crates, median of {args.repeat} runs")
    print(f"{'what':<52} {'seconds':>8} {'ratio':>7}")
    for name, seconds in rows:
        print(f"{name:<52} {seconds:>8.3f} {seconds / baseline:>6.2f}x")
    print(f"(after {2 * args.repeat} bumps, `cargo metadata --locked --offline` still accepts the lock: "
          f"{locked:.3f} s)")


if __name__ == "__main__":
    main()
