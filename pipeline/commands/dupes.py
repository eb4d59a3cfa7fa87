"""``pipeline dupes [--json] [--lockfile PATH] [--exclude-dev] [--target TRIPLE]``: duplicate dependency versions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.deps.duplicates import DupesReport, find_duplicates
from pipeline.deps.graph import DepGraph, lock_view, metadata_view
from pipeline.deps.lockfile import check_members, lockfile_path, read_lockfile
from pipeline.foundation.errors import CheckFailed, PipelineError, UsageError
from pipeline.foundation.output import emit_json, log
from pipeline.project import load_project

CONFIG_HINT = "accept it with a `skip`/`skip-tree` entry in [workspace.metadata.pipeline.dupes], or unify the versions"


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--json", action="store_true", help="the report as JSON (shape in docs/deps.md)")
    parser.add_argument("--lockfile", metavar="PATH", help="Cargo.lock to read (default: the workspace's)")
    parser.add_argument(
        "--exclude-dev", action="store_true",
        help="leave out crates reached only through dev-dependencies (needs `cargo metadata` offline)",
    )
    parser.add_argument(
        "--target", metavar="TRIPLE", help="only dependencies built for this target (needs `cargo metadata` offline)"
    )


def report_to_json(report: DupesReport, graph: DepGraph, lock: Path, lock_version: int, policy: str) -> dict[str, Any]:
    return {
        "lockfile": str(lock),
        "lockfile_version": lock_version,
        "view": graph.view,
        "packages": report.packages,
        "multiple_versions": policy,
        "duplicates": [
            {
                "name": d.name,
                "finding": d.is_finding,
                "versions": [
                    {
                        "version": v.version,
                        "source": v.source,
                        "accepted": v.accepted,
                        "path": [{"name": s.name, "version": s.version} for s in v.path],
                        "why": v.why(),
                    }
                    for v in d.versions
                ],
            }
            for d in report.duplicates
        ],
        "unmatched_skips": [
            {"table": u.table, "name": u.name, "version": u.version, "reason": u.reason} for u in report.unmatched
        ],
        "summary": {
            "duplicated": len(report.duplicates),
            "findings": len(report.findings),
            "accepted": len(report.accepted),
        },
    }


def _graph(args: argparse.Namespace, root: Path, lock_graph: DepGraph) -> DepGraph:
    if not (args.exclude_dev or args.target):
        return lock_graph
    wanted = " and ".join(f for f, on in (("--exclude-dev", args.exclude_dev), ("--target", args.target)) if on)
    if args.lockfile and Path(args.lockfile).expanduser().resolve() != (root / "Cargo.lock").resolve():
        log(f"note: {wanted} not applied: --lockfile names another file than {root / 'Cargo.lock'}, "
            "which `cargo metadata` cannot read; using the lock-only view")
        return lock_graph
    try:
        return metadata_view(root, exclude_dev=args.exclude_dev, target=args.target)
    except PipelineError as exc:
        if args.target and "error loading target specification" in exc.message:
            # A typo, not an offline problem: counting every locked crate would answer another question.
            raise UsageError(
                f"--target {args.target}: cargo does not know this target",
                "run `rustc --print target-list` for the built-in target triples",
            ) from None
        log(f"note: {wanted} not applied: {exc.message}\nnote: using the lock-only view (every locked crate counts)")
        return lock_graph


def run(args: argparse.Namespace) -> int:
    project = load_project(args.workspace)
    settings = project.config.dupes
    lock = lockfile_path(project.root, args.lockfile)
    lockfile = read_lockfile(lock)
    if lock.resolve() == (project.root / "Cargo.lock").resolve():
        check_members(lockfile, ((m.name, m.version) for m in project.workspace.members))
    graph = _graph(args, project.root, lock_view(lockfile, (m.name for m in project.workspace.members)))
    report = find_duplicates(graph.packages, graph.roots, settings)

    if args.json:
        emit_json(report_to_json(report, graph, lock, lockfile.version, settings.multiple_versions))
    else:
        for dup in report.duplicates:
            state = "" if dup.is_finding else " (accepted)"
            print(f"{dup.name}: {len(dup.versions)} versions{state}")
            for v in dup.versions:
                note = f"  [{v.accepted}]" if v.accepted else ""
                print(f"  {v.why()}{note}")
    if settings.unmatched_skip != "allow":
        for entry in report.unmatched:
            log(f"{'error' if settings.unmatched_skip == 'deny' else 'warning'}: unmatched-skip: {entry.render()}")

    findings = report.findings
    summary = (
        f"dupes: {len(findings)} crate(s) locked at several versions, {len(report.accepted)} accepted, "
        f"{report.packages} packages ({graph.view} view of {lock})"
    )
    if findings and settings.multiple_versions == "deny":
        raise CheckFailed(summary.removeprefix("dupes: "), CONFIG_HINT)
    if report.unmatched and settings.unmatched_skip == "deny":
        raise CheckFailed(
            f"{len(report.unmatched)} skip entr(y/ies) in [workspace.metadata.pipeline.dupes] match nothing",
            "remove the stale entries (or set `unmatched-skip = \"warn\"`)",
        )
    if findings and settings.multiple_versions == "warn":
        summary = "warning: " + summary
    if not args.json:
        print(summary)
    elif findings and settings.multiple_versions == "warn":
        log(summary)
    return 0
