"""The dependency graph that duplicate detection walks: from Cargo.lock, or from `cargo metadata`.

The lock-only view is fast and needs nothing but the file; it cannot tell
dev-dependencies or target-specific ones apart. `cargo metadata --offline
--locked` can, when everything it needs is already on disk: then
``--exclude-dev`` and ``--target`` filter the graph before duplicates are
counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.deps.lockfile import LockedPackage, Lockfile
from pipeline.foundation import proc
from pipeline.foundation.errors import OperationFailed


@dataclass(frozen=True)
class DepGraph:
    packages: tuple[LockedPackage, ...]
    roots: tuple[int, ...]  # workspace members
    view: str  # "lockfile" or "cargo-metadata"


def lock_view(lockfile: Lockfile, members: Iterable[str]) -> DepGraph:
    """Roots are the source-less packages named like workspace members (all source-less ones if none is)."""
    names = set(members)
    local = [i for i, p in enumerate(lockfile.packages) if p.is_local]
    roots = [i for i in local if lockfile.packages[i].name in names] or local
    return DepGraph(lockfile.packages, tuple(roots), "lockfile")


def metadata_view(root: Path, *, exclude_dev: bool, target: str | None) -> DepGraph:
    """Graph from `cargo metadata --offline --locked`; raises a PipelineError when it cannot resolve offline."""
    argv = ["cargo", "metadata", "--format-version", "1", "--offline", "--locked",
            "--manifest-path", str(root / "Cargo.toml")]
    if target:
        argv += ["--filter-platform", target]
    result = proc.run(argv, cwd=root, check=False)
    if not result.ok:
        reason = proc.tail(result.stderr, 3) or f"exit code {result.returncode}"
        raise OperationFailed(f"`cargo metadata --offline --locked` could not resolve {root}: {reason}")
    return graph_from_metadata(json.loads(result.stdout), exclude_dev=exclude_dev)


def graph_from_metadata(metadata: dict[str, Any], *, exclude_dev: bool) -> DepGraph:
    """Packages reachable from the workspace members, dev-only edges dropped when asked."""
    info = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in (metadata.get("resolve") or {}).get("nodes", [])}
    members: Sequence[str] = metadata.get("workspace_members", [])

    def edges(node_id: str) -> list[str]:
        out = []
        for dep in nodes[node_id].get("deps", []):
            kinds = [k.get("kind") for k in dep.get("dep_kinds", [])] or [None]
            if exclude_dev and all(k == "dev" for k in kinds):
                continue
            out.append(dep["pkg"])
        return sorted(out, key=lambda i: (info[i]["name"], info[i]["version"]))

    order: list[str] = []
    seen: set[str] = set()
    stack = [m for m in members if m in nodes]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        order.append(current)
        stack.extend(e for e in edges(current) if e not in seen)
    order.sort(key=lambda i: (info[i]["name"], info[i]["version"], info[i].get("source") or ""))
    index = {pid: n for n, pid in enumerate(order)}
    packages = tuple(
        LockedPackage(
            info[pid]["name"], info[pid]["version"], info[pid].get("source"), None,
            tuple(index[e] for e in edges(pid) if e in index),
        )
        for pid in order
    )
    roots = tuple(index[m] for m in members if m in index)
    return DepGraph(packages, roots, "cargo-metadata")
