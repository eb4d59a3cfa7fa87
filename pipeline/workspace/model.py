"""The workspace model: members, versions, every dependency edge, and the graph over them.

Pure, frozen data; :mod:`pipeline.workspace.load` builds it from the manifests
and :mod:`pipeline.format.workspace` turns it into the ``--json`` shape.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pipeline.foundation.errors import ManifestError
from pipeline.foundation.graph import reachable


class DepKind(StrEnum):
    NORMAL = "normal"
    DEV = "dev"
    BUILD = "build"


DEP_TABLES: dict[str, DepKind] = {
    "dependencies": DepKind.NORMAL,
    "dev-dependencies": DepKind.DEV,
    "dev_dependencies": DepKind.DEV,
    "build-dependencies": DepKind.BUILD,
    "build_dependencies": DepKind.BUILD,
}

# Kinds that make cargo refuse a cycle (dev-dependency cycles are allowed).
ORDERING_KINDS = frozenset({DepKind.NORMAL, DepKind.BUILD})


@dataclass(frozen=True)
class Dependency:
    """One entry of a dependency table of a member manifest."""

    key: str
    name: str
    kind: DepKind
    table: tuple[str, ...]
    target: str | None = None
    requirement: str | None = None
    path: Path | None = None
    workspace: bool = False
    optional: bool = False
    member: str | None = None
    external_path: bool = False
    # The `registry` key: where cargo looks for the version when the path is stripped on
    # publish (none means crates.io, whatever registry the dependent goes to).
    registry: str | None = None
    # Reaches ``member`` through a `[patch.<source>]` or `[replace]` entry of the root manifest,
    # not by path: `macros = "~2.7.0"` with `[patch.crates-io] macros = { path = "macros" }`.
    patched: bool = False

    @property
    def renamed(self) -> bool:
        return self.key != self.name


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    manifest_path: Path
    version_inherited: bool = False
    publish: bool = True
    edition: str | None = None
    edition_inherited: bool = False
    license: str | None = None
    license_file: str | None = None
    description: str | None = None
    repository: str | None = None
    features: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    dependencies: tuple[Dependency, ...] = ()
    has_binary: bool = False
    has_build_script: bool = False
    # `publish = ["name", ...]`: the only registries cargo lets it go to; None allows any.
    publish_registries: tuple[str, ...] | None = None
    # False: the manifest has no `version` (cargo reads 0.0.0, never published); no bump moves it.
    version_declared: bool = True
    # `[package.metadata.release]` (cargo-release's table), kept so it is not parsed twice.
    release_metadata: Any = None

    @property
    def directory(self) -> Path:
        return self.manifest_path.parent


@dataclass(frozen=True)
class WorkspaceDependency:
    key: str
    name: str
    requirement: str | None
    path: Path | None
    registry: str | None = None


@dataclass(frozen=True)
class Workspace:
    root: Path
    manifest_path: Path
    members: tuple[Package, ...]
    version: str | None = None
    edition: str | None = None
    excluded: tuple[Path, ...] = ()
    dependencies: Mapping[str, WorkspaceDependency] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    virtual: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {p.name: p for p in self.members})

    # -- lookups -------------------------------------------------------------
    def package(self, name: str) -> Package:
        by_name: dict[str, Package] = self.__dict__["_by_name"]
        try:
            return by_name[name]
        except KeyError:
            from pipeline.foundation.suggest import did_you_mean

            close = did_you_mean(name, by_name)
            raise ManifestError(
                f"{self.manifest_path}: no workspace member is named `{name}`",
                (f"{close} " if close else "") + "members are: " + ", ".join(sorted(by_name)),
            ) from None

    def has(self, name: str) -> bool:
        return name in self.__dict__["_by_name"]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.members)

    def internal_edges(self, kinds: Iterable[DepKind] = tuple(DepKind)) -> Iterator[tuple[str, Dependency]]:
        """(dependent, dependency) for every edge between two members."""
        wanted = frozenset(kinds)
        for package in self.members:
            for dep in package.dependencies:
                if dep.member is not None and dep.kind in wanted:
                    yield package.name, dep

    def member_dirs(self, top: Path | None = None) -> dict[str, str]:
        """Member name -> its directory relative to ``top`` (default: the workspace root), posix, "" for ``top``.

        Both sides are resolved, so a checkout reached through a symlink (git reports real paths) matches.
        """
        base = os.path.realpath(top if top is not None else self.root)
        result = {}
        for package in self.members:
            rel = os.path.relpath(os.path.realpath(package.directory), base).replace(os.sep, "/")
            result[package.name] = "" if rel == "." else rel
        return result

    def reverse_dependencies(self, kinds: Iterable[DepKind] = tuple(DepKind)) -> dict[str, tuple[str, ...]]:
        """member -> the members that depend on it directly."""
        reverse: dict[str, set[str]] = {p.name: set() for p in self.members}
        for dependent, dep in self.internal_edges(kinds):
            assert dep.member is not None
            if dep.member != dependent:
                reverse[dep.member].add(dependent)
        return {name: tuple(sorted(users)) for name, users in reverse.items()}

    def dependents_closure(self, names: Iterable[str], kinds: Iterable[DepKind] = ORDERING_KINDS) -> frozenset[str]:
        """``names`` plus every member that depends on them, transitively."""
        reverse = self.reverse_dependencies(kinds)
        return reachable(names, lambda name: reverse.get(name, ()))

    def topological_order(self) -> tuple[str, ...]:
        """Members with dependencies first; a cycle through normal/build deps is an error."""
        deps: dict[str, set[str]] = {p.name: set() for p in self.members}
        for dependent, dep in self.internal_edges(ORDERING_KINDS):
            assert dep.member is not None
            if dep.member != dependent:
                deps[dependent].add(dep.member)
        users: dict[str, set[str]] = {name: set() for name in deps}
        for name, needed in deps.items():
            for other in needed:
                users[other].add(name)
        remaining = {name: len(needed) for name, needed in deps.items()}
        ready = sorted(name for name, count in remaining.items() if count == 0)
        order: list[str] = []
        while ready:
            name = ready.pop(0)
            order.append(name)
            newly = []
            for user in users[name]:
                remaining[user] -= 1
                if remaining[user] == 0:
                    newly.append(user)
            if newly:
                ready = sorted([*ready, *newly])
        if len(order) != len(deps):
            cycle = _find_cycle({n: d for n, d in deps.items() if n not in order})
            first = self.package(cycle[0])
            raise ManifestError(
                f"{first.manifest_path}: dependency cycle between workspace members: " + " -> ".join(cycle),
                "cargo allows cycles only through dev-dependencies; break the cycle by moving one edge "
                "to [dev-dependencies] or extracting the shared code into a new crate",
            )
        return tuple(order)


def _find_cycle(deps: Mapping[str, set[str]]) -> list[str]:
    for start in sorted(deps):
        path = [start]
        seen = {start}
        node = start
        while True:
            following = sorted(d for d in deps[node] if d in deps)
            if not following:
                break
            node = following[0]
            if node in seen:
                return [*path[path.index(node) :], node]
            seen.add(node)
            path.append(node)
    return sorted(deps)
