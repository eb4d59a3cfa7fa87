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
    if name != "fmt":
        parser.add_argument("cargo_args", nargs="*", metavar="CARGO_ARGS",
                            help="extra arguments passed to cargo (after `--`)")


def run(args: argparse.Namespace) -> int:
    project = load_project(args.workspace)
    for name in args.package:
        project.workspace.package(name)  # unknown crate -> clear error
    if args.command == "fmt":
        argv = stages.fmt_argv(fix=args.fix, packages=args.package)
    elif args.command == "clippy":
        argv = stages.clippy_argv(project.config, project.workspace, args.package, args.cargo_args)
    else:
        argv = stages.test_argv(project.config, project.workspace, args.package, args.cargo_args)
    log(f"pipeline {args.command}: {' '.join(argv)}  (in {project.root})")
    stages.run_stage(args.command, argv, project.root)
    return 0
