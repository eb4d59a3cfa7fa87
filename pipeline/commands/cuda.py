"""``pipeline cuda [--arch sm_XX]... [--toolkit X.Y] [--jobs N] [--no-cache] [--json] [--werror]
[--emit-cargo DIR]``: compile."""

from __future__ import annotations

import argparse

from pipeline.cuda.build import BuildOptions, build
from pipeline.format.cuda import build_json
from pipeline.foundation.errors import UsageError
from pipeline.foundation.output import emit_json, log
from pipeline.gpu.nvml import local_archs
from pipeline.project import load_project


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--arch", action="append", default=[], metavar="sm_XX",
                        help="build for this architecture (repeatable; default: configuration, else auto)")
    parser.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help="parallel nvcc jobs (default: configuration, else the CPU count)")
    parser.add_argument("--no-cache", action="store_true", help="compile everything (results still fill the cache)")
    parser.add_argument("--werror", action="store_true", help="treat nvcc warnings as errors")
    parser.add_argument("--json", action="store_true", help="the build result and manifest as JSON")
    parser.add_argument("--emit-cargo", metavar="OUT_DIR", default=None,
                        help="for build.rs: copy the fatbins into OUT_DIR and print cargo: directives "
                        "(rerun-if-changed for every source and header) on stdout")
    parser.add_argument("--toolkit", default=None, metavar="X.Y",
                        help="build with this configured CUDA toolkit (`toolkits`; default: $PIPELINE_CUDA_TOOLKIT, "
                        "else the newest configured); other than the newest, into target/cuda-X.Y")
    parser.add_argument("--crate", default=None, metavar="NAME",
                        help="with --emit-cargo: only the kernels of this crate")


def run(args: argparse.Namespace) -> int:
    if args.crate is not None and args.emit_cargo is None:
        raise UsageError("--crate needs --emit-cargo", "pass --emit-cargo OUT_DIR --crate NAME (from build.rs)")
    if args.emit_cargo is not None and args.json:
        raise UsageError("--emit-cargo and --json both want stdout", "pass one of them")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1", "pass --jobs N with N >= 1, or leave it out")
    project = load_project(args.workspace)
    options = BuildOptions(archs=tuple(args.arch), jobs=args.jobs, use_cache=not args.no_cache, werror=args.werror,
                           toolkit=args.toolkit)
    result = build(project.workspace, project.config.cuda, options, gpu_archs=local_archs)
    for warning in result.warnings:
        log(warning.render())
    kernels = len(result.manifest["kernels"])
    toolkit = f" with toolkit {result.toolkit.version}" if result.toolkit and result.toolkit.version else ""
    summary = (
        f"cuda: {kernels} kernel(s){toolkit} x {', '.join(result.architectures.archs)}"
        f"{' + PTX ' + result.manifest['ptx'] if result.manifest['ptx'] else ''}"
        f" ({result.architectures.origin}): {len(result.compiled)} compiled, {len(result.cached)} cached"
        f" in {result.seconds:.2f} s with {result.jobs} job(s) -> {result.manifest_path}"
    )
    if kernels == 0:
        summary = f"cuda: no .cu kernel files found in {project.root} (configure kernel-sets to add some)"
    if args.emit_cargo:
        from pathlib import Path

        from pipeline.cuda import cargo

        log(summary)
        selected = cargo.selected_kernels(result.manifest, args.crate)
        cargo.export(Path(args.emit_cargo), result.output_dir, selected)
        print("\n".join(cargo.directives(result.manifest, project.root, selected, Path(args.emit_cargo),
                                         result.cudart_dir)))
    elif args.json:
        log(summary)
        emit_json(build_json(result))
    else:
        print(summary)
    return 0
