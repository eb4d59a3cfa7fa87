"""``pipeline gpu info|run|smoke``: NVML inventory, commands under GPU leases, the load test."""

from __future__ import annotations

import argparse
import json

from pipeline.foundation.errors import CheckFailed, UsageError
from pipeline.foundation.output import emit_json, log


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    sub = parser.add_subparsers(dest="gpu_command", metavar="SUBCOMMAND", parser_class=type(parser))
    sub.required = True
    info = sub.add_parser("info", help="GPUs, driver and CUDA version as NVML sees them")
    info.add_argument("--json", action="store_true", help="the inventory as JSON")
    run = sub.add_parser("run", help="run a command on N leased GPUs (CUDA_VISIBLE_DEVICES set to their UUIDs)")
    run.add_argument("--gpus", type=int, default=1, metavar="N", help="number of GPUs to lease (default 1)")
    run.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="seconds to wait for free GPUs (default: configuration lease-timeout)")
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD...", help="the command to run")
    smoke = sub.add_parser("smoke", help="load every fatbin on every GPU and launch the smoke cases (pycuda)")
    smoke.add_argument("--require-gpu", action="store_true", help="fail (exit 1) instead of skipping without a GPU")
    smoke.add_argument("--no-build", action="store_true", help="use target/cuda as it is instead of building first")
    smoke.add_argument("--json", action="store_true", help="the report as JSON")
    for sub_parser in (info, run, smoke):
        sub_parser.add_argument("--workspace", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from pipeline.gpu.nvml import read_inventory

    if args.gpu_command == "info":
        return _info(args, read_inventory())
    if args.gpu_command == "run":
        return _run(args, read_inventory())
    return _smoke(args, read_inventory())


def _info(args: argparse.Namespace, inventory) -> int:  # type: ignore[no-untyped-def]
    if args.json:
        emit_json(inventory.to_json())
        return 0
    if not inventory.available:
        print(inventory.reason)
        return 0
    print(f"NVIDIA driver {inventory.driver_version}, supports CUDA {inventory.cuda_driver_version or '?'}")
    for gpu in inventory.gpus:
        persistence = {True: "on", False: "off", None: "?"}[gpu.persistence_mode]
        print(f"  GPU {gpu.index}  {gpu.name}  {gpu.arch} (compute {gpu.compute_capability})  "
              f"{gpu.memory_total_mib} MiB  persistence {persistence}  {gpu.uuid}")
    return 0


def _run(args: argparse.Namespace, inventory) -> int:  # type: ignore[no-untyped-def]
    from pipeline.gpu.runner import run_command
    from pipeline.project import load_project

    command = list(args.cmd)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("gpu run: no command given", "write it after `--`: pipeline gpu run --gpus 1 -- cargo test")
    if args.timeout is not None and args.timeout < 0:
        raise UsageError(f"gpu run: --timeout {args.timeout}: must be >= 0", "pass seconds, e.g. --timeout 600")
    project = load_project(args.workspace)
    return run_command(command, args.gpus, inventory, project.config.gpu, args.timeout)


def _smoke(args: argparse.Namespace, inventory) -> int:  # type: ignore[no-untyped-def]
    from pipeline.cuda.build import BuildOptions, build, output_dir
    from pipeline.gpu.nvml import local_archs
    from pipeline.gpu.smoke import SmokeReport, plan_problems, run_smoke
    from pipeline.project import load_project

    project = load_project(args.workspace)
    cases = project.config.cuda.smoke
    if not inventory.available:
        report = SmokeReport("skipped", inventory.reason)
    else:
        out = output_dir(project.workspace)
        if args.no_build:
            try:
                manifest = json.loads((out / "manifest.json").read_text())
            except (OSError, ValueError) as exc:
                raise CheckFailed(f"gpu smoke: cannot read {out / 'manifest.json'}: {exc}",
                                  "run `pipeline cuda` first, or drop --no-build") from None
        else:
            manifest = build(project.workspace, project.config.cuda, BuildOptions(), gpu_archs=local_archs).manifest
        problems = plan_problems(manifest, cases)
        if problems:
            raise CheckFailed("gpu smoke: " + "; ".join(problems),
                              "fix [[workspace.metadata.pipeline.cuda.smoke]] in the workspace's Cargo.toml")
        report = run_smoke(manifest, out, cases, inventory)
    _print_smoke(report, args.json)
    if report.status == "failed":
        raise CheckFailed("gpu smoke: failed" + (f": {report.reason}" if report.reason else " (see above)"),
                          "a module that does not load usually lacks this GPU's architecture: "
                          "check `architectures` and `pipeline gpu info`")
    if report.status == "skipped" and args.require_gpu:
        raise CheckFailed(f"gpu smoke: --require-gpu, but {report.reason}",
                          "run it on a GPU runner with the driver and the `gpu` extra (pycuda) installed")
    return 0


def _print_smoke(report, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        emit_json(report.to_json())
        return
    if report.status == "skipped":
        print(f"gpu smoke: skipped: {report.reason}")
        return
    for device in report.devices:
        print(f"GPU {device.ordinal}: {device.name} ({device.arch}, PCI {device.pci_bus_id})")
        for module in device.modules:
            state = "ok  " if module.ok else "FAIL"
            detail = ", ".join(module.kernels) + (f"  {module.error}" if module.error else "")
            print(f"  {state} load {module.module}: {detail}")
        for case in device.cases:
            state = "ok  " if case.ok else "FAIL"
            detail = f"max relative error {case.max_error:g}" if case.max_error is not None else ""
            print(f"  {state} launch {case.kernel} (n={case.n}, grid={case.grid}, block={case.block}) "
                  f"{detail}{'  ' + case.error if case.error else ''}")
    modules = sum(len(d.modules) for d in report.devices)
    launches = sum(len(d.cases) for d in report.devices)
    summary = (f"gpu smoke: {report.status} on {len(report.devices)} GPU(s): {modules} module load(s), "
               f"{launches} launch(es)")
    print(summary if not report.reason else f"{summary}: {report.reason}")
    if report.status != "passed":
        log("gpu smoke: see the FAIL lines above")
