"""``pipeline affected [--base REF] [--json]``: crates touched by a change, plus their dependents."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.changes import affected as affected_mod
from pipeline.foundation import git
from pipeline.foundation.output import emit_json, log
from pipeline.project import load_project
from pipeline.stages import registry


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        "--base", metavar="REF", default=None,
        help="compare HEAD with its merge base with REF (default: the upstream of the current branch, "
        "else origin/HEAD, else main)",
    )
    parser.add_argument("--head", metavar="REF", default="HEAD", help="the changed side (default: HEAD)")
    parser.add_argument("--json", action="store_true", help="machine-readable output (documented in docs/hooks.md)")


def default_base(workspace_root: Path, configured: str | None) -> str:
    """The upstream of the current branch, else the remote's default branch, else main/master."""
    top = git.toplevel(workspace_root)
    candidates = ["@{upstream}", "origin/HEAD"]
    if configured:
        candidates.insert(0, f"origin/{configured}")
        candidates.append(configured)
    candidates += ["origin/main", "main", "origin/master", "master"]
    for ref in candidates:
        if git.resolve(top, ref) is not None:
            return ref
    return "main"  # does not exist: require_commit reports it clearly


def run(args: argparse.Namespace) -> int:
    project = load_project(args.workspace)
    base = args.base or default_base(project.root, project.config.hooks.default_branch)
    result = affected_mod.affected_since(
        project.workspace, base, affected_mod.rules_from(project.config, registry.inputs_by_stage()), head_ref=args.head
    )
    if args.json:
        emit_json(result.to_json())
        return 0
    log(f"pipeline affected: {args.head} against its merge base with {base}")
    print(render(result))
    return 0


def render(result: affected_mod.Affected) -> str:
    lines = [f"changed files: {len(result.files)}"]
    for impact in result.files:
        shown = f"{impact.change.old_path} -> {impact.change.path}" if impact.change.old_path else impact.change.path
        what = impact.effect + (f" ({impact.crate})" if impact.crate else "")
        lines.append(f"  {impact.change.status} {shown}: {what}")
    if result.whole_workspace:
        lines.append("whole workspace: yes (" + ", ".join(result.whole_workspace) + ")")
    lines.append(f"affected crates ({len(result.crates)}): " + (", ".join(result.crates) or "none"))
    lines.append(f"crates to test ({len(result.test_crates)}): " + (", ".join(result.test_crates) or "none"))
    if result.removed_crates:
        lines.append("removed crates: " + ", ".join(result.removed_crates))
    if result.generate_check:
        lines.append("generate --check: yes (" + ", ".join(result.generate_check) + ")")
    if result.cuda_kernels:
        kernels = ", ".join(result.cuda_kernels)
        lines.append(f"CUDA kernels: {kernels} (crates: {', '.join(result.cuda_crates)})")
    if result.stages:
        lines.append("stages with a changed input: " + ", ".join(result.stages))
    if result.nothing:
        lines.append("nothing to check")
    return "\n".join(lines)
