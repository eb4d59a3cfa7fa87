"""Foundation benchmarks (issue 2).

1. `nox -s fmt` on the example over raw `cargo fmt --all --check` (target: overhead < 0.3 s).
2. `pipeline workspace --json` on a generated 500-crate workspace over
   `cargo metadata --no-deps --offline` on the same (target: within 2x).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import REPO_ROOT, interleaved, table, timed
from factory import make_workspace

EXAMPLE = REPO_ROOT / "examples" / "prism4d"
RUNS = 7


def main() -> None:
    env = {"PIPELINE_WORKSPACE": str(EXAMPLE), "PYTHONPATH": str(REPO_ROOT)}
    fmt = interleaved(
        RUNS,
        cargo=lambda: timed(["cargo", "fmt", "--all", "--check"], cwd=EXAMPLE),
        nox=lambda: timed([sys.executable, "-m", "nox", "-s", "fmt"], cwd=REPO_ROOT, env=env),
    )
    overhead = fmt["nox"] - fmt["cargo"]
    table(
        f"nox -s fmt vs cargo fmt --all --check on examples/prism4d (median of {RUNS})",
        [
            ("command", "seconds", "ratio"),
            ("cargo fmt --all --check", f"{fmt['cargo']:.3f}", "1.00"),
            ("nox -s fmt", f"{fmt['nox']:.3f}", f"{fmt['nox'] / fmt['cargo']:.2f}"),
            ("overhead", f"{overhead:.3f}", "target < 0.300 s: " + ("met" if overhead < 0.3 else "NOT met")),
        ],
    )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws500"
        make_workspace(root, 500)
        times = interleaved(
            RUNS,
            cargo=lambda: timed(["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"], cwd=root),
            pipeline=lambda: timed([sys.executable, "-m", "pipeline", "workspace", "--json"], cwd=root,
                                   env={"PYTHONPATH": str(REPO_ROOT)}),
        )
    ratio = times["pipeline"] / times["cargo"]
    table(
        f"pipeline workspace --json vs cargo metadata --no-deps, 500 crates (median of {RUNS})",
        [
            ("command", "seconds", "ratio"),
            ("cargo metadata --no-deps --offline", f"{times['cargo']:.3f}", "1.00"),
            ("pipeline workspace --json", f"{times['pipeline']:.3f}",
             f"{ratio:.2f}  target <= 2.00: " + ("met" if ratio <= 2 else "NOT met")),
        ],
    )


if __name__ == "__main__":
    main()
