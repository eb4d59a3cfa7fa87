"""Duplicate dependency versions and who pulls each one in (pure: data in, data out).

A duplicate is a crate name locked at more than one version (or from more than
one source). For each version the report gives the shortest dependency path
from a workspace member, read the way ``cargo tree -d -i`` prints it:
``syn 1.0.109 <- darling_core 0.13.4 <- darling 0.13.4 <- prism-core``.

The policy is shaped like cargo-deny's ``[bans]``: ``skip`` accepts given
versions, ``skip-tree`` accepts everything a crate pulls in (to a depth), and a
duplicate stays a finding only while at least two of its versions are not
accepted. Entries that no longer match anything are reported so they do not
outlive their reason.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.deps.lockfile import LockedPackage
from pipeline.deps.settings import DupesSettings, SkipEntry, SkipTreeEntry, version_matcher
from pipeline.workspace.cargo_semver import SemverError, Version, VersionReq


@dataclass(frozen=True)
class PathStep:
    name: str
    version: str


@dataclass(frozen=True)
class DuplicateVersion:
    name: str
    version: str
    source: str | None
    path: tuple[PathStep, ...]  # this version first, the workspace member last
    accepted: str | None  # why a skip / skip-tree entry accepts it, else None

    def why(self) -> str:
        if not self.path:
            return f"{self.name} {self.version} (not reachable from a workspace member)"
        *inner, root = self.path
        return " <- ".join([*(f"{s.name} {s.version}" for s in inner), root.name])


@dataclass(frozen=True)
class Duplicate:
    name: str
    versions: tuple[DuplicateVersion, ...]  # ascending by version

    @property
    def is_finding(self) -> bool:
        """At least two versions remain after skip / skip-tree."""
        return sum(1 for v in self.versions if v.accepted is None) >= 2


@dataclass(frozen=True)
class UnmatchedSkip:
    table: str  # "skip" or "skip-tree"
    name: str
    version: str | None
    reason: str  # why it matches nothing

    def render(self) -> str:
        spec = self.name + (f" {self.version}" if self.version else "")
        return f"{self.table} entry `{spec}` matches nothing: {self.reason}"


@dataclass(frozen=True)
class DupesReport:
    packages: int
    duplicates: tuple[Duplicate, ...]  # every duplicated name, findings and accepted ones, by name
    unmatched: tuple[UnmatchedSkip, ...]

    @property
    def findings(self) -> tuple[Duplicate, ...]:
        return tuple(d for d in self.duplicates if d.is_finding)

    @property
    def accepted(self) -> tuple[Duplicate, ...]:
        return tuple(d for d in self.duplicates if not d.is_finding)


def _version_key(text: str) -> tuple[int, object]:
    try:
        return (0, Version.parse(text))
    except SemverError:
        return (1, text)


def _sort_key(package: LockedPackage) -> tuple[object, ...]:
    # Semantic versions in order first; anything unparsable after them, by text.
    return (*_version_key(package.version), package.source or "")


def _matches(matcher: VersionReq | Version | None, version: str) -> bool:
    if matcher is None:
        return True
    try:
        parsed = Version.parse(version)
    except SemverError:
        return False
    if isinstance(matcher, Version):
        # Version equality ignores build metadata; a pattern that names one must match it too.
        return parsed == matcher and (not matcher.build or parsed.build == matcher.build)
    return matcher.matches(parsed)


def _locked_matching(
    name: str, version: str | None, by_name: Mapping[str, list[int]], packages: Sequence[LockedPackage]
) -> list[int]:
    """Indexes of the locked packages called ``name`` whose version a policy entry's ``version`` accepts."""
    matcher = version_matcher(version)
    return [i for i in by_name.get(name, ()) if _matches(matcher, packages[i].version)]


def shortest_parents(packages: Sequence[LockedPackage], roots: Sequence[int]) -> list[int | None]:
    """BFS from all roots at once: ``parent[i]`` is i's predecessor on a shortest path (roots: -1).

    Roots are visited in name order and dependencies in lockfile order, so ties
    break the same way on every run.
    """
    parent: list[int | None] = [None] * len(packages)
    queue: deque[int] = deque()
    for root in sorted(roots, key=lambda i: (packages[i].name, packages[i].version)):
        if parent[root] is None:
            parent[root] = -1
            queue.append(root)
    while queue:
        current = queue.popleft()
        for dep in packages[current].dependencies:
            if parent[dep] is None:
                parent[dep] = current
                queue.append(dep)
    return parent


def path_to(index: int, packages: Sequence[LockedPackage], parent: Sequence[int | None]) -> tuple[PathStep, ...]:
    if parent[index] is None:
        return ()
    steps = []
    current: int = index
    while current != -1:
        steps.append(PathStep(packages[current].name, packages[current].version))
        current = parent[current]  # type: ignore[assignment]
    return tuple(steps)


def _skip_tree_members(
    packages: Sequence[LockedPackage], entry: SkipTreeEntry, tops: Sequence[int]
) -> dict[int, int]:
    """Package index -> depth below the nearest matching top, within the entry's depth."""
    seen: dict[int, int] = {}
    queue: deque[tuple[int, int]] = deque((t, 0) for t in tops)
    while queue:
        current, depth = queue.popleft()
        if current in seen:
            continue
        seen[current] = depth
        if entry.depth is not None and depth >= entry.depth:
            continue
        for dep in packages[current].dependencies:
            if dep not in seen:
                queue.append((dep, depth + 1))
    return seen


def find_duplicates(
    packages: Sequence[LockedPackage], roots: Sequence[int], settings: DupesSettings
) -> DupesReport:
    """Every crate name present at more than one version, with paths and the skip policy applied."""
    by_name: dict[str, list[int]] = {}
    for i, package in enumerate(packages):
        by_name.setdefault(package.name, []).append(i)
    duplicated = {name: idx for name, idx in by_name.items() if len(idx) > 1}

    accepted: dict[int, str] = {}
    unmatched: list[UnmatchedSkip] = []

    for entry in settings.skip:
        hits = _locked_matching(entry.name, entry.version, by_name, packages)
        if not hits:
            reason = _no_match_reason(entry, by_name, packages)
            unmatched.append(UnmatchedSkip("skip", entry.name, entry.version, reason))
            continue
        if entry.name not in duplicated:
            unmatched.append(
                UnmatchedSkip(
                    "skip", entry.name, entry.version,
                    f"`{entry.name}` is no longer duplicated (only {packages[hits[0]].version} is locked)",
                )
            )
            continue
        for i in hits:
            accepted.setdefault(i, f"skip: {entry.reason}" if entry.reason else "skip")

    for tree in settings.skip_tree:
        tops = _locked_matching(tree.name, tree.version, by_name, packages)
        if not tops:
            reason = _no_match_reason(tree, by_name, packages)
            unmatched.append(UnmatchedSkip("skip-tree", tree.name, tree.version, reason))
            continue
        label = f"skip-tree {tree.name}" + (f": {tree.reason}" if tree.reason else "")
        covered = _skip_tree_members(packages, tree, tops)
        if not any(packages[i].name in duplicated for i in covered):
            unmatched.append(
                UnmatchedSkip("skip-tree", tree.name, tree.version, "no duplicated crate is left in its tree")
            )
        for i in covered:
            if packages[i].name in duplicated:
                accepted.setdefault(i, label)

    parent = shortest_parents(packages, roots) if duplicated else []
    duplicates = []
    for name in sorted(duplicated):
        ordered = sorted(duplicated[name], key=lambda i: _sort_key(packages[i]))
        versions = tuple(
            DuplicateVersion(
                name, packages[i].version, packages[i].source, path_to(i, packages, parent), accepted.get(i)
            )
            for i in ordered
        )
        duplicates.append(Duplicate(name, versions))
    return DupesReport(len(packages), tuple(duplicates), tuple(unmatched))


def _no_match_reason(
    entry: SkipEntry | SkipTreeEntry, by_name: dict[str, list[int]], packages: Sequence[LockedPackage]
) -> str:
    present = by_name.get(entry.name)
    if not present:
        return f"no crate named `{entry.name}` is locked"
    locked = ", ".join(packages[i].version for i in present)
    return f"no locked version of `{entry.name}` matches `{entry.version}` (locked: {locked})"
