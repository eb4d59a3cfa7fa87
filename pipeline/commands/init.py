"""``pipeline init [--execute] [--hook]``: adopt cargo-gpu-pipeline in a workspace (dry run by default).

Detects the default branch, the tag scheme of existing tags, CUDA kernels and GPUs, and plans the
`[workspace.metadata.pipeline]` settings, a `noxfile.py` and `.gitignore` entries; the dry run
prints the diff, `--execute` writes all of it or nothing, `--hook` also installs the pre-push hook.
A second run finds nothing to add.
"""

from __future__ import annotations

import argparse
import difflib
import os
from pathlib import Path

import tomlkit

from pipeline.foundation.errors import UsageError
from pipeline.foundation.output import log


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--execute", action="store_true", help="write the files (default: show the diff)")
    parser.add_argument("--hook", action="store_true", help="with --execute: also install the pre-push hook")


def _root(explicit: str | None) -> Path:
    from pipeline.project import WORKSPACE_ENV, resolve_root
    from pipeline.workspace.load import find_workspace_root

    if explicit or os.environ.get(WORKSPACE_ENV):
        return resolve_root(explicit)
    found = find_workspace_root(Path.cwd())
    if found is None:  # never the bundled example: init adopts *your* workspace
        raise UsageError("pipeline init: no Cargo workspace at or above the current directory",
                         "run it in the workspace (the directory of the root Cargo.toml) or pass --workspace PATH")
    return found


def run(args: argparse.Namespace) -> int:
    from pipeline.adopt.detect import gather
    from pipeline.adopt.plan import NOXFILE, make_plan

    root = _root(args.workspace)
    facts = gather(root)
    files = {}
    for name in ("Cargo.toml", NOXFILE, ".gitignore"):
        path = root / name
        files[name] = path.read_text(encoding="utf-8") if path.is_file() else None
    plan = make_plan(facts, files)
    for dotted, value, why in plan.settings:
        log(f"pipeline init: {dotted} = {tomlkit.item(value).as_string()}  ({why})")  # TOML, as written
    for note in plan.notes:
        log(f"note: {note}")
    if not plan.changes:
        print(f"pipeline init: {root} is set up already: nothing to change")
    for name, (old, new) in plan.changes.items():
        print("".join(difflib.unified_diff((old or "").splitlines(keepends=True), new.splitlines(keepends=True),
                                           "/dev/null" if old is None else f"a/{name}", f"b/{name}")), end="")
    if not args.execute:
        if plan.changes:
            log("pipeline init: dry run, nothing written; `pipeline init --execute` writes it")
        if args.hook:
            log("pipeline init: --hook applies with --execute")
        return 0
    if plan.changes:
        from pipeline.foundation.fs import write_all

        write_all({root / name: new.encode() for name, (_, new) in plan.changes.items()},
                  what="the adoption files")
        log(f"pipeline init: wrote {', '.join(plan.changes)}")
    if args.hook:
        from pipeline.hooks.install import install

        result = install(root)
        log(f"pipeline init: pre-push hook {getattr(result, 'path', result)}")
    return 0
