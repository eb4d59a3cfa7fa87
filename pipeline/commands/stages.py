"""``pipeline fmt|clippy|test``: the cargo stages (nox sessions of the same names call these)."""

from __future__ import annotations

import argparse

from pipeline import stages
from pipeline.output import log
from pipeline.project import load_project


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    if name == "fmt":
        parser.add_argument("--fix", action="store_true", help="format the code instead of checking it")
    parser.add_argument("-p", "--package", action="append", default=[], metavar="CRATE",
                        help="only this member crate (repeatable)")
    if name == "test":
        parser.add_argument("--gpu", action="store_true",
                            help="run the GPU tests ([workspace.metadata.pipeline.gpu]) under GPU leases, "
                            "sharded across the GPUs")
        parser.add_argument("--require-gpu", action="store_true",
                            help="with --gpu: fail instead of skipping without a GPU")
    if name != "fmt":
        parser.add_argument("cargo_args", nargs="*", metavar="CARGO_ARGS",
                            help="extra arguments passed to cargo (after `--`)")


def run(args: argparse.Namespace) -> int:
    project = load_project(args.workspace)
    for name in args.package:
        project.workspace.package(name)  # unknown crate -> clear error
    if args.command == "test" and args.gpu:
        from pipeline.gpu.nvml import read_inventory
        from pipeline.gpu.testing import run_gpu_tests

        return run_gpu_tests(project.root, project.config, read_inventory(), packages=args.package,
                             extra=args.cargo_args, require_gpu=args.require_gpu)
    if args.command == "fmt":
        argv = stages.fmt_argv(fix=args.fix, packages=args.package)
    elif args.command == "clippy":
        argv = stages.clippy_argv(project.config, args.package, args.cargo_args)
    else:
        argv = stages.test_argv(project.config, args.package, args.cargo_args)
    log(f"pipeline {args.command}: {' '.join(argv)}  (in {project.root})")
    stages.run_stage(args.command, argv, project.root)
    return 0
