"""Timing helpers shared by the benchmark scripts.

Machines here are shared and noisy, so every figure is a ratio against a
baseline measured in the same run, interleaved with it, taking the median.
"""

from __future__ import annotations

import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT))

# Measure the installed state: `pip install` compiles the package's bytecode, and Python
# writes it on first import, unless PYTHONDONTWRITEBYTECODE is set (as on some CI
# machines), where every `python -m pipeline` would otherwise compile every module again.
compileall.compile_dir(str(REPO_ROOT / "pipeline"), quiet=1)


def timed(argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
          cpu: list[float] | None = None) -> float:
    """Wall seconds of one run of ``argv``; with ``cpu``, its CPU seconds (user + system, children
    included) are appended there: on a loaded machine they say what the command itself costs."""
    full_env = dict(os.environ, **(env or {}))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(list(argv), cwd=cwd, env=full_env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if cpu is not None:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed


def interleaved(runs: int, **commands: Callable[[], float]) -> dict[str, float]:
    """Median of ``runs`` timings of each command, run in turn so drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(command())
    return {name: statistics.median(values) for name, values in samples.items()}


def interpreter_start() -> float:
    return timed([sys.executable, "-c", "pass"])


def table(title: str, rows: Sequence[tuple[str, str, str]]) -> None:
    print(f"\n{title}")
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
