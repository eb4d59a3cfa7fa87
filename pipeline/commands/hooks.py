"""``pipeline hooks install|uninstall|run``: the git pre-push hook."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.foundation.errors import UsageError
from pipeline.foundation.output import log

ACTIONS = ("install", "uninstall", "run")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("action", choices=ACTIONS,
                        help="install: write the pre-push hook; uninstall: remove it (restoring a backup); "
                        "run: what the hook runs (reads git's pre-push lines on stdin)")
    parser.add_argument("git_args", nargs="*", metavar="REMOTE [URL]",
                        help="for `run`: the remote name and URL git passes to pre-push hooks")
    parser.add_argument("--force", action="store_true",
                        help="for `install`: replace an existing hook of another tool (kept as a backup)")


def run(args: argparse.Namespace) -> int:
    from pipeline.project import load_project

    project = load_project(args.workspace)
    if args.action in ("install", "uninstall"):
        _refuse_bundled_fallback(args, project.root)
    if args.action == "install":
        from pipeline.hooks.install import install

        result = install(project.root, force=args.force)
        if result.backup is not None:
            log(f"pipeline hooks: kept the previous hook as {result.backup}")
        verb = "updated" if result.replaced_own else "installed"
        print(f"{verb} the pre-push hook at {result.path} (interpreter {sys.executable})")
        return 0
    if args.action == "uninstall":
        from pipeline.hooks.install import uninstall

        removed, restored = uninstall(project.root)
        if removed is None:
            print("no pre-push hook of cargo-gpu-pipeline is installed")
        else:
            print(f"removed the pre-push hook at {removed}" + (f" (restored {restored.name})" if restored else ""))
        return 0
    if args.force:
        raise UsageError("--force applies to `hooks install` only", "drop --force")
    from pipeline.hooks.prepush import run_pre_push

    remote = args.git_args[0] if args.git_args else os.environ.get("PRE_COMMIT_REMOTE_NAME", "origin")
    stdin_text = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    return run_pre_push(project, remote, stdin_text)


def _refuse_bundled_fallback(args: argparse.Namespace, root: Path) -> None:
    """Refuse to write into the bundled example's repository by accident.

    With no workspace at or above the current directory, the target falls back to the
    bundled example, whose repository is this tool's own checkout: run in a fresh clone
    or a stray directory, `hooks install` would put the hook there instead of here.
    """
    from pipeline.foundation import git
    from pipeline.project import WORKSPACE_ENV, bundled_example
    from pipeline.workspace.load import find_workspace_root

    if args.workspace or os.environ.get(WORKSPACE_ENV) or root != bundled_example().resolve():
        return
    cwd = Path.cwd()
    if find_workspace_root(cwd) is not None:
        return
    here = git.find_toplevel(cwd)
    there = git.toplevel(root)
    if here == there:
        return  # inside this tool's own checkout: the example is the intended target
    raise UsageError(
        f"no Cargo workspace at or above {cwd}: `pipeline hooks {args.action}` would act on the bundled "
        f"example and the git repository at {there}",
        "run it inside your workspace, or pass --workspace PATH",
    )
