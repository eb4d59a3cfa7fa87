"""``pipeline profile [--tool perf|nsys|ncu] [--gpus N] -- CMD...``: a profile of one command, on leased GPUs."""

from __future__ import annotations

import argparse

from pipeline.foundation.errors import CheckFailed, UsageError
from pipeline.foundation.output import emit_json, log


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--tool", choices=("perf", "nsys", "ncu"), default="perf",
                        help="profiler: perf (CPU sampling + flamegraph, default), nsys (timeline), ncu (kernels)")
    parser.add_argument("--gpus", type=int, default=None, metavar="N",
                        help="GPUs to lease for the command (default: 1 where NVML sees a GPU, else 0)")
    parser.add_argument("--require", action="store_true",
                        help="fail (exit 1) instead of skipping when the profiler or its permission is missing")
    parser.add_argument("--json", action="store_true", help="the summary as JSON (also written as summary.json)")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD...", help="the command to profile")


def run(args: argparse.Namespace) -> int:
    from pipeline.gpu.nvml import read_inventory
    from pipeline.project import load_project
    from pipeline.runner.profile import run_profile

    command = list(args.cmd)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("profile: no command given",
                         "write it after `--`: pipeline profile --tool perf -- cargo bench -p CRATE")
    if args.gpus is not None and args.gpus < 0:
        raise UsageError(f"profile: --gpus {args.gpus}: must be >= 0", "pass --gpus 0 (no GPU) or more")
    project = load_project(args.workspace)
    inventory = read_inventory()
    gpus = args.gpus
    if gpus is None:
        gpus = 1 if inventory.available else 0
        if not inventory.available:
            log(f"profile: no GPU leased ({inventory.reason})")
    result = run_profile(args.tool, command, project.root, gpus, inventory, project.config.gpu,
                         quiet_stdout=args.json)
    if args.json:
        emit_json(result.to_json())
    else:
        _print(result)
    if result.status == "skipped":
        if args.require:
            raise CheckFailed(f"profile: --require, but {result.reason}", result.hint)
        return 0
    return result.exit_code or 0


def _print(result) -> None:  # type: ignore[no-untyped-def]
    if result.status == "skipped":
        print(f"profile: skipped: {result.reason}")
        print(f"hint: {result.hint}")
        return
    print(f"profile: {result.tool} report in {result.directory} ({', '.join(result.files)})")
    for note in result.notes:
        print(f"  note: {note}")
    if result.top:
        print("  top kernels:" if result.tool != "perf" else "  top functions (self time):")
    for spot in result.top:
        extra = ""
        occupancy = spot.detail.get("achieved_occupancy_pct")
        if occupancy is not None:
            extra = f"  occupancy {occupancy:g}% (theoretical {spot.detail.get('theoretical_occupancy_pct')}%)"
        print(f"  {spot.percent:6.2f}%  {spot.name}{extra}")
    print(f"profile: command exited {result.exit_code} after {result.seconds:.1f} s")
