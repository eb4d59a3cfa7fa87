"""``pipeline fmt|clippy|test``: the cargo stages (nox sessions of the same names call these)."""

from __future__ import annotations

import argparse

from pipeline.foundation.errors import CheckFailed, PipelineError, UsageError
from pipeline.foundation.output import log
from pipeline.foundation.progress import Progress
from pipeline.project import Project, load_project
from pipeline.stages import cargo as stages


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    if name == "fmt":
        parser.add_argument("--fix", action="store_true", help="format the code instead of checking it")
    parser.add_argument("-p", "--package", action="append", default=[], metavar="CRATE",
                        help="only this member crate (repeatable)")
    parser.add_argument("--changed-since", metavar="REF", default=None,
                        help="only the crates a change since REF affects (see `pipeline affected`)")
    if name == "test":
        parser.add_argument("--gpu", action="store_true",
                            help="run the GPU tests ([workspace.metadata.pipeline.gpu]) under GPU leases, "
                            "sharded across the GPUs")
        parser.add_argument("--require-gpu", action="store_true",
                            help="with --gpu: fail instead of skipping without a GPU")
        prebuilt = parser.add_mutually_exclusive_group()
        prebuilt.add_argument("--prebuilt", metavar="DIR", default=None,
                              help="with --gpu: run the test binaries in DIR (from --save-prebuilt) instead of "
                              "building them; no cargo needed")
        prebuilt.add_argument("--save-prebuilt", metavar="DIR", default=None,
                              help="with --gpu: build the GPU test binaries and copy them into DIR; runs nothing")
        parser.add_argument("--lease-record", metavar="FILE", default=None,
                            help="with --gpu: write one JSON line per test binary (GPU, start, end, lease holder)")
    if name != "fmt":
        matrix = parser.add_mutually_exclusive_group()
        matrix.add_argument("--each-feature", action="store_true",
                            help="run once per crate with no default features, each feature alone, all features")
        matrix.add_argument("--feature-powerset", action="store_true",
                            help="run once per combination of features (limit the size with --depth)")
        parser.add_argument("--depth", type=int, default=None, metavar="N",
                            help="largest feature combination for --feature-powerset")
        parser.add_argument("cargo_args", nargs="*", metavar="CARGO_ARGS",
                            help="extra arguments passed to cargo (after `--`)")


def _changed_packages(project: Project, args: argparse.Namespace) -> list[str] | None:
    """The ``-p`` selection; None when nothing is affected (the stage has nothing to do)."""
    if not args.changed_since:
        return list(args.package)
    from pipeline.changes import affected

    result = affected.affected_since(project.workspace, args.changed_since, affected.rules_from(project.config))
    selection = result.packages(tests=args.command == "test", changed_only=args.command == "fmt")
    if selection is None:
        log(f"pipeline {args.command}: whole workspace affected since {args.changed_since} "
            f"({', '.join(result.whole_workspace)})")
        return list(args.package)
    if args.package:
        selection = tuple(name for name in selection if name in args.package)
    if not selection:
        log(f"pipeline {args.command}: no crate affected since {args.changed_since}: nothing to check")
        return None
    log(f"pipeline {args.command}: crates affected since {args.changed_since}: {', '.join(selection)}")
    return list(selection)


def run(args: argparse.Namespace) -> int:
    project = load_project(args.workspace)
    for name in args.package:
        project.workspace.package(name)  # unknown crate -> clear error
    if args.command == "test" and args.require_gpu and not args.gpu:
        raise UsageError("--require-gpu applies to the GPU tests only", "run `pipeline test --gpu --require-gpu`")
    packages = _changed_packages(project, args)
    if packages is None:
        return 0
    if args.command == "test" and (args.prebuilt or args.save_prebuilt or args.lease_record) and not args.gpu:
        raise UsageError("--prebuilt, --save-prebuilt and --lease-record apply to the GPU tests only",
                         "add --gpu: `pipeline test --gpu --prebuilt DIR`")
    if args.command == "test" and args.gpu:
        from pipeline.gpu.nvml import read_inventory
        from pipeline.gpu.testing import run_gpu_tests

        return run_gpu_tests(project.workspace, project.config, read_inventory(), packages=packages,
                             extra=args.cargo_args, require_gpu=args.require_gpu, prebuilt=args.prebuilt,
                             save_prebuilt=args.save_prebuilt, lease_record=args.lease_record)
    if args.command != "fmt" and (args.each_feature or args.feature_powerset):
        return _run_matrix(project, args, packages)
    if args.command != "fmt" and args.depth is not None:
        raise UsageError("--depth applies to --feature-powerset only", "add --feature-powerset or drop --depth")
    if args.command == "fmt":
        argv = stages.fmt_argv(fix=args.fix, packages=packages)
    elif args.command == "clippy":
        argv = stages.clippy_argv(project.config, project.workspace, packages, args.cargo_args)
    else:
        argv = stages.test_argv(project.config, project.workspace, packages, args.cargo_args)
    log(f"pipeline {args.command}: {' '.join(argv)}  (in {project.root})")
    stages.run_stage(args.command, argv, project.root)
    return 0


def _run_matrix(project: Project, args: argparse.Namespace, packages: list[str]) -> int:
    """One cargo run per crate and feature set; every set runs, failures are summed up at the end."""
    from pipeline.stages.matrix import feature_sets

    mode = "powerset" if args.feature_powerset else "each-feature"
    if args.depth is not None and mode != "powerset":
        raise UsageError("--depth applies to --feature-powerset only", "use --feature-powerset --depth N")
    if args.depth is not None and args.depth < 1:
        raise UsageError(f"--depth must be at least 1, got {args.depth}", "pass --depth 1 or more")
    crates = packages or list(project.workspace.names)
    build = stages.clippy_argv if args.command == "clippy" else stages.test_argv
    planned = [(crate, feature_set) for crate in crates
               for feature_set in feature_sets(project.workspace.package(crate), mode, args.depth)]
    failed: list[str] = []
    runs = len(planned)
    with Progress(f"pipeline {args.command} feature sets", runs, verb="passed", live=False) as progress:
        for crate, feature_set in planned:
            argv = build(project.config, project.workspace, [crate], args.cargo_args, feature_set.cargo_args())
            label = f"{crate} [{feature_set.label}]"
            log(f"pipeline {args.command} [{crate}: {feature_set.label}]: {' '.join(argv)}")
            progress.started(label)
            try:
                stages.run_stage(args.command, argv, project.root)
            except PipelineError as exc:
                if not isinstance(exc, CheckFailed):
                    raise
                failed.append(f"{label}: {' '.join(argv)}")
                progress.finished(label, ok=False)
            else:
                progress.finished(label)
    if failed:
        raise CheckFailed(
            f"stage `{args.command}` failed for {len(failed)} of {runs} feature sets:\n  " + "\n  ".join(failed),
            f"rerun one of the commands above in {project.root} to see its errors",
        )
    log(f"pipeline {args.command}: {runs} feature sets passed")
    return 0
