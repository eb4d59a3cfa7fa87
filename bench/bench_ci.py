"""Benchmark of `pipeline generate`: a 500-crate workspace with a 3-arch x 4-feature-set matrix.

Prints wall times (median of several runs) against `python -c pass` measured in the same run,
the work beyond interpreter start (target: under 0.5 s), and the critical path of the generated
pipeline (the longest chain of dependent jobs, by timeout minutes).

    python bench/bench_ci.py [--crates 500] [--runs 7]
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from factory import make_workspace  # noqa: E402

CONFIG = """
[workspace.metadata.pipeline.ci]
cuda-archs = ["sm_80", "sm_90", "sm_120"]
feature-sets = { default = [], gpu = ["gpu"], tensorcore = ["gpu", "tensorcore"], full = ["gpu", "tensorcore", "onnx"] }

[[workspace.metadata.pipeline.ci.extra-sessions]]
name = "tests"
"""


def _median_wall(argv: list[str], runs: int, cwd: Path, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _median_call(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crates", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ci-") as tmp:
        root = Path(tmp) / "ws"
        make_workspace(root, crates=args.crates)
        manifest = root / "Cargo.toml"
        manifest.write_text(manifest.read_text() + CONFIG)
        (root / ".git").mkdir()  # the repository root for the generated files
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("PIPELINE_WORKSPACE", None)
        generate = [sys.executable, "-m", "pipeline", "--workspace", str(root), "generate"]
        subprocess.run(generate, env=env, check=True, capture_output=True)  # write once; then measure --check

        baseline = _median_wall([sys.executable, "-c", "pass"], args.runs, root, env)
        check = _median_wall([*generate, "--check"], args.runs, root, env)
        write = _median_wall(generate, args.runs, root, env)

        from pipeline.ci.generate import load_target, pipeline_for
        from pipeline.ci.model import build_pipeline, critical_path
        from pipeline.ci.render import render_all
        from pipeline.project import load_project

        load = _median_call(lambda: load_target(root), args.runs)
        full = _median_call(lambda: load_project(root), args.runs)
        project = load_target(root)
        pipeline, _ = pipeline_for(project)
        model = _median_call(lambda: build_pipeline(project.config.ci, pipeline.context), args.runs)
        render_all(pipeline)  # templates compiled once per process
        render = _median_call(lambda: render_all(pipeline), args.runs)

    ci_jobs = sum(max(1, len(j.matrix_entries)) for j in pipeline.ci_jobs)
    print(f"pipeline generate: {args.crates}-crate workspace, 3 archs x 4 feature sets, {ci_jobs} CI job instances")
    print(f"median of {args.runs} runs; baseline = `python -c pass` measured in this run\n")
    rows = [
        ("python -c pass (baseline)", baseline),
        ("pipeline generate --check", check),
        ("pipeline generate (write)", write),
        ("  in-process: read root manifest + config", load),
        ("  (for scale: load all member manifests)", full),
        ("  in-process: build job model", model),
        ("  in-process: render 4 files (warm)", render),
    ]
    print(f"{'measurement':<40} {'seconds':>9} {'x baseline':>11}")
    for name, seconds in rows:
        print(f"{name:<40} {seconds:>9.4f} {seconds / baseline:>10.2f}x")
    beyond = check - baseline
    verdict = "OK" if beyond < 0.5 else "OVER TARGET"
    print(f"\nwork beyond interpreter start (generate --check - baseline): {beyond:.3f} s  [target < 0.5 s: {verdict}]")

    for title, jobs in (("CI", pipeline.ci_jobs), ("release", pipeline.release_jobs)):
        chain, minutes = critical_path(jobs)
        print(f"critical path ({title}, by timeout minutes): {' -> '.join(chain)}  ({minutes} min worst case, "
              f"{len(chain)} jobs deep)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
