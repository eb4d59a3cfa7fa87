"""Command line: argparse, dispatch, and the one place that maps errors to exit codes.

Each subcommand lives in ``pipeline/commands/<name>.py`` with
``add_arguments(parser)`` and ``run(args) -> int``. Only the module of the
command being run is imported, which keeps start-up fast for the hook and for
``--json`` calls made by other tools.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pipeline import __version__
from pipeline.foundation.errors import EXIT_INTERNAL, EXIT_USAGE, PipelineError
from pipeline.stages import registry  # pure data (no command module): cheap at start-up, which the hook needs


def _stage(command: str) -> tuple[str, str]:
    """A stage command's module and help: the registry's, the one description of a stage."""
    stage = next(s for s in registry.stages() if s.command == command and not s.args)
    return stage.module, f"stage: {stage.summary}"


# name -> (module, one-line help). Keep in the order `pipeline --help` shows them.
COMMANDS: dict[str, tuple[str, str]] = {
    "workspace": ("pipeline.commands.workspace", "members, versions and the dependency graph"),
    "fmt": _stage("fmt"),
    "clippy": _stage("clippy"),
    "test": _stage("test"),
    "lint": _stage("lint"),
    "dupes": _stage("dupes"),
    "audit": _stage("audit"),
    "doctor": ("pipeline.commands.doctor", "tools, versions, driver/toolkit match, GPUs"),
    "bump": ("pipeline.commands.release", "bump versions (dry run unless --execute)"),
    "release": ("pipeline.commands.release", "the whole release: versions, changelog, tag, artifacts"),
    "changelog": ("pipeline.commands.release", "unreleased changes from conventional commits"),
    "affected": ("pipeline.commands.affected", "crates touched by a change, plus their dependents"),
    "hooks": ("pipeline.commands.hooks", "install (or run) the pre-push hook that checks affected crates"),
    "config": ("pipeline.commands.config", "the effective configuration, or the reference of every key"),
    "generate": _stage("generate"),
    "cuda": _stage("cuda"),
    "gpu": ("pipeline.commands.gpu", "GPUs: `info` (NVML inventory), `run` (under GPU leases), `smoke` (load test)"),
    "report": ("pipeline.commands.report", "HTML (or --markdown) report: job graph, kernels, duplicates, release plan"),
    "init": ("pipeline.commands.init", "adopt: configuration, noxfile.py, .gitignore (dry run unless --execute)"),
    "runner": ("pipeline.commands.runner", "GPU runner host: `check` readiness, `setup` a reviewed setup script"),
    "profile": ("pipeline.commands.profile", "profile a command (perf, nsys, ncu) on leased GPUs into target/profile/"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"error: {message}\nhint: {_usage_hint(self.prog, message)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _usage_hint(prog: str, message: str) -> str:
    """A "did you mean" for a misspelled command or choice, else where the usage is."""
    import re

    from pipeline.foundation.suggest import did_you_mean

    invalid = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if invalid:
        suggestion = did_you_mean(invalid.group(1), re.findall(r"'([^']*)'", invalid.group(2)))
        if suggestion:
            return f"{suggestion} (`{prog} --help` lists them)"
    return f"run `{prog} --help` for usage"


def _add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    parser.add_argument(
        "--workspace",
        metavar="PATH",
        default=None if top else argparse.SUPPRESS,
        help="workspace root (default: $PIPELINE_WORKSPACE, the nearest [workspace] "
        "Cargo.toml above the current directory, else the bundled examples/prism4d)",
    )


def build_parser(selected: str | None) -> argparse.ArgumentParser:
    parser = _Parser(prog="pipeline", description="Release engineering for Rust + CUDA Cargo workspaces.")
    parser.add_argument("--version", action="version", version=f"cargo-gpu-pipeline {__version__}")
    _add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            _add_common(command_parser, top=False)
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser, name)
            command_parser.set_defaults(_run=module.run)
    return parser


def _selected_command(argv: Sequence[str]) -> str | None:
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
            continue
        if arg == "--workspace":
            skip_next = True
            continue
        if arg.startswith("-"):
            continue
        return arg if arg in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (never raises, never exits)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_selected_command(args_list))
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args._run(args))
    except PipelineError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception:  # noqa: BLE001 - the single place that reports bugs
        import traceback

        traceback.print_exc()
        print(
            "error: internal error in cargo-gpu-pipeline (this is a bug)\n"
            "hint: please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def entry() -> None:
    from pipeline.foundation import memory

    memory.one_shot()
    code = main()
    memory.settle()  # the process ends here: the collector's last pass over what is alive is skipped
    sys.exit(code)
