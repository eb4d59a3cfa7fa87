"""``pipeline workspace [--json]``: members, versions (inheritance resolved), dependency graph."""

from __future__ import annotations

import argparse

from pipeline.format.workspace import workspace_json
from pipeline.foundation.output import emit_json
from pipeline.project import resolve_root
from pipeline.workspace.load import load_workspace


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output (documented in the README)")


def run(args: argparse.Namespace) -> int:
    workspace = load_workspace(resolve_root(args.workspace))
    if args.json:
        emit_json(workspace_json(workspace))
        return 0
    order = workspace.topological_order()
    reverse = workspace.reverse_dependencies()
    print(f"workspace {workspace.root}  ({len(workspace.members)} members"
          + (f", shared version {workspace.version})" if workspace.version else ")"))
    for name in order:
        package = workspace.package(name)
        inherited = " (workspace)" if package.version_inherited else ""
        flags = "" if package.publish else "  [publish = false]"
        print(f"  {name} {package.version}{inherited}{flags}")
        internal = sorted(
            {f"{d.member}" + ("" if d.kind == "normal" else f" ({d.kind})") for d in package.dependencies if d.member}
        )
        if internal:
            print(f"    depends on: {', '.join(internal)}")
        if reverse[name]:
            print(f"    used by:    {', '.join(reverse[name])}")
        external = [d for d in package.dependencies if d.external_path]
        for dep in external:
            print(f"    path dependency outside the workspace: {dep.name} ({dep.path})")
    return 0
