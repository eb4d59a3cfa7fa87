"""Release planning: which crates move to which version, and which requirements change.

Pure: a :class:`~pipeline.workspace.model.Workspace` and the user's choice in,
a frozen :class:`Plan` out. Nothing here reads or writes files, so every rule
is tested with tables of data.

Rules (cargo-release's, with the ones the issue adds):

* The shared version (``[workspace.package].version``) moves as one: when any
  selected crate inherits it, every inheriting member moves with it.
* Crates with their own version move by the same level when selected.
* Every requirement on a moved crate is rewritten wherever it appears, matched
  by the dependency's path (so renamed dependencies are found), keeping the
  operator and precision (``"0.4"`` -> ``"0.5"``, ``"=0.4.2"`` -> ``"=0.5.0"``).
  Path-only entries and ``x.workspace = true`` entries have nothing to rewrite.
  Ranges and wildcards are left alone, with a warning when they no longer match.
* A crate whose normal or build requirement on a moved crate no longer matches
  is itself moved (its published manifest changes), transitively.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.foundation.errors import ManifestError, UsageError
from pipeline.release.findings import Finding
from pipeline.release.levels import PRE_KINDS, Target, apply
from pipeline.workspace.cargo_semver import Comparator, Op, SemverError, Version, VersionReq
from pipeline.workspace.manifest import locate_key_in
from pipeline.workspace.model import DepKind, Package, Workspace

_REWRITABLE = frozenset({Op.CARET, Op.TILDE, Op.EXACT})
_FORCING_KINDS = frozenset({DepKind.NORMAL, DepKind.BUILD})


@dataclass(frozen=True)
class VersionChange:
    crate: str
    old: Version
    new: Version
    inherited: bool
    reason: str


@dataclass(frozen=True)
class ValueEdit:
    """One string value to replace in one TOML file; ``path`` is the key path inside it."""

    file: Path
    path: tuple[str, ...]
    old: str
    new: str
    what: str


@dataclass(frozen=True)
class Plan:
    root: Path
    target: Target
    shared: tuple[Version, Version] | None
    changes: tuple[VersionChange, ...]
    edits: tuple[ValueEdit, ...]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # Problems that make --execute refuse (a requirement that would break cargo).
    blockers: tuple[Finding, ...] = ()
    _by_name: Mapping[str, VersionChange] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.crate: c for c in self.changes})

    def change(self, crate: str) -> VersionChange | None:
        return self._by_name.get(crate)

    @property
    def new_versions(self) -> dict[str, Version]:
        return {c.crate: c.new for c in self.changes}

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(e.file for e in self.edits))

    @property
    def empty(self) -> bool:
        return not self.changes


# ---------------------------------------------------------------------------
# Requirements


@dataclass(frozen=True)
class Rewrite:
    """What happens to one requirement when its crate moves to ``new``."""

    old: str
    new: str | None  # None: left alone
    breaks: bool  # the old requirement does not accept the new version
    kind: str  # "rewritten", "unchanged", "range", "invalid"
    expanded: bool = False  # precision widened to hold a pre-release


@functools.lru_cache(maxsize=4096)
def rewrite_requirement(text: str, new: Version) -> Rewrite:
    """Rewrite a caret/tilde/exact requirement for ``new``, keeping operator and precision."""
    try:
        req = VersionReq.parse(text)
    except SemverError:
        return Rewrite(text, None, True, "invalid")
    breaks = not req.matches(new)
    if len(req.comparators) != 1 or req.comparators[0].op not in _REWRITABLE:
        return Rewrite(text, None, breaks, "range")
    old = req.comparators[0]
    precision = 1 + (old.minor is not None) + (old.patch is not None)
    expanded = False
    if new.pre:
        # A pre-release only matches a comparator that spells out MAJOR.MINOR.PATCH-PRE.
        expanded = precision < 3
        numbers: tuple[int | None, int | None, int | None] = (new.major, new.minor, new.patch)
        pre = new.pre
    else:
        full = (new.major, new.minor, new.patch)
        numbers = (full[0], full[1] if precision > 1 else None, full[2] if precision > 2 else None)
        pre = ()
    comparator = Comparator(old.op, numbers[0], numbers[1], numbers[2], pre, old.explicit_op)
    rendered = str(comparator)
    leading = text[: len(text) - len(text.lstrip())]
    trailing = text[len(text.rstrip()) :]
    rendered = leading + rendered + trailing
    if rendered == text:
        return Rewrite(text, None, breaks, "unchanged")
    return Rewrite(text, rendered, breaks, "rewritten", expanded)


# ---------------------------------------------------------------------------
# Planning


@dataclass(frozen=True)
class _Site:
    """A requirement on a member: where it is written and who it constrains."""

    file: Path
    path: tuple[str, ...]
    requirement: str
    dependency: str  # the member it points to
    dependents: tuple[tuple[str, DepKind], ...]  # members whose published manifest carries it
    what: str


def _sites(ws: Workspace) -> list[_Site]:
    by_dir = {p.directory: p.name for p in ws.members}
    sites: list[_Site] = []
    # [workspace.dependencies]: inherited by every `key.workspace = true` entry.
    users: dict[str, list[tuple[str, DepKind]]] = {}
    for package in ws.members:
        for dep in package.dependencies:
            if dep.workspace:
                users.setdefault(dep.key, []).append((package.name, dep.kind))
    for key, wdep in ws.dependencies.items():
        member = by_dir.get(wdep.path) if wdep.path is not None else None
        if member is None or wdep.requirement is None:
            continue
        sites.append(
            _Site(
                ws.manifest_path,
                ("workspace", "dependencies", key, "version"),
                wdep.requirement,
                member,
                tuple(users.get(key, ())),
                f"[workspace.dependencies] {key}",
            )
        )
    for package in ws.members:
        for dep in package.dependencies:
            if dep.workspace or dep.member is None or dep.requirement is None:
                continue
            table = ".".join(_quote(t) for t in dep.table)
            sites.append(
                _Site(
                    package.manifest_path,
                    (*dep.table, dep.key, "version"),
                    dep.requirement,
                    dep.member,
                    ((package.name, dep.kind),),
                    f"{package.name}: [{table}] {dep.key}",
                )
            )
    return sites


def _quote(part: str) -> str:
    return part if all(c.isalnum() or c in "-_" for c in part) else f"'{part}'"


def select_default(ws: Workspace, target: Target) -> tuple[str, ...]:
    """Crates moved when none are named: all of them for a level; for an explicit
    version, the shared version's crates when there is a shared version."""
    if target.version is not None and ws.version is not None:
        inheriting = tuple(p.name for p in ws.members if p.version_inherited)
        if inheriting:
            return inheriting
    return ws.names


def check_versions(ws: Workspace, manifests: Mapping[Path, bytes] | None = None) -> None:
    """Every version the plan reads is a semantic version, else a ManifestError naming the manifest.

    ``manifests`` (the bytes of the manifests, as the release facts hold them) lets the
    error point at the line; without them it names the file. Nothing is read here.
    """
    found = [(ws.manifest_path, "[workspace.package] version", ws.version)] if ws.version is not None else []
    found += [(p.manifest_path, f"crate `{p.name}` version", p.version) for p in ws.members if not p.version_inherited]
    for file, what, text in found:
        try:
            Version.parse(text)
        except SemverError as exc:
            data = (manifests or {}).get(file)
            where = locate_key_in(file, data.decode("utf-8", "replace"), "version") if data is not None else str(file)
            raise ManifestError(
                f"{where}: {what}: {exc}",
                "write it as MAJOR.MINOR.PATCH (e.g. 1.2.0), as Cargo requires, then run the command again",
            ) from None


def make_plan(
    ws: Workspace, target: Target, crates: Iterable[str] | None = None, levels: Mapping[str, Target] | None = None
) -> Plan:
    """The plan for moving ``crates`` (default: :func:`select_default`) to ``target``.

    ``target`` must not be ``auto`` here: the flow resolves it from commits first.
    ``levels`` overrides the target of selected crates with their own version line
    (what `auto` found for each of them). The versions must have passed :func:`check_versions`
    (the release's prepare step checks them once, before `auto` reads the base version).
    """
    if target.auto:
        raise UsageError("`auto` must be resolved to a level before planning", "give a level such as minor")
    selected = tuple(dict.fromkeys(crates)) if crates is not None else select_default(ws, target)
    for name in selected:
        ws.package(name)  # unknown crate -> ManifestError naming the members
    shared_old = Version.parse(ws.version) if ws.version is not None else None
    def follow(package: Package) -> Target:
        # A dependent forced to move only needs a new version, not a new feature level:
        # the next patch, or the next pre-release of the kind it is already in.
        current = Version.parse(ws.version if package.version_inherited and ws.version else package.version)
        if current.pre and current.pre[0] in PRE_KINDS:
            return Target(level=current.pre[0])
        return Target(level="patch")

    new: dict[str, Version] = {}
    reasons: dict[str, str] = {}
    shared_new: Version | None = None

    def move(package: Package, reason: str, how: Target) -> None:
        nonlocal shared_new
        if package.name in new:
            return
        if package.version_inherited:
            assert shared_old is not None
            if shared_new is None:
                shared_new = apply(shared_old, how, crate=f"the shared version ({ws.manifest_path})")
            for other in ws.members:
                if other.version_inherited and other.name not in new:
                    new[other.name] = shared_new
                    if other.name == package.name or other.name in chosen:
                        reasons[other.name] = "selected" if other.name in chosen else reason
                    else:
                        reasons[other.name] = "shares the workspace version"
            return
        new[package.name] = apply(Version.parse(package.version), how, crate=f"crate `{package.name}`")
        reasons[package.name] = reason

    chosen = frozenset(selected)
    for name in selected:
        move(ws.package(name), "selected", (levels or {}).get(name, target))

    sites = _sites(ws)
    while True:
        forced: list[tuple[Package, str]] = []
        for site in sites:
            if site.dependency not in new:
                continue
            rewrite = rewrite_requirement(site.requirement, new[site.dependency])
            if not rewrite.breaks or rewrite.new is None:
                continue
            for dependent, kind in site.dependents:
                package = ws.package(dependent)
                if dependent not in new and kind in _FORCING_KINDS and package.publish:
                    forced.append((package, f"its requirement on {site.dependency} changes"))
        if not forced:
            break
        for package, reason in forced:
            move(package, reason, follow(package))

    edits: list[ValueEdit] = []
    warnings: list[str] = []
    notes: list[str] = []
    blockers: list[Finding] = []
    for site in sites:
        if site.dependency not in new:
            continue
        version = new[site.dependency]
        rewrite = rewrite_requirement(site.requirement, version)
        where = f"{site.what} (in {rel_path(site.file, ws.root)})"
        if rewrite.kind in ("range", "invalid"):
            if rewrite.breaks:
                text = (
                    f"{where}: requirement `{site.requirement}` on {site.dependency} is left alone "
                    f"and no longer matches {version}"
                )
                warnings.append(text)
                blockers.append(Finding(text, "change that requirement by hand so it accepts the new version",
                                        rel_path(site.file, ws.root)))
            else:
                notes.append(f"{where}: requirement `{site.requirement}` left alone (still matches {version})")
            continue
        if rewrite.new is None:
            continue
        if rewrite.expanded:
            notes.append(f"{where}: `{site.requirement}` becomes `{rewrite.new}` (a pre-release needs a full version)")
        edits.append(ValueEdit(site.file, site.path, site.requirement, rewrite.new, where))

    # Version fields themselves.
    version_edits: list[ValueEdit] = []
    if shared_new is not None and shared_old is not None:
        version_edits.append(
            ValueEdit(ws.manifest_path, ("workspace", "package", "version"), ws.version or "", str(shared_new),
                      "[workspace.package] version")
        )
    for package in ws.members:
        if package.name in new and not package.version_inherited:
            version_edits.append(
                ValueEdit(package.manifest_path, ("package", "version"), package.version, str(new[package.name]),
                          f"{package.name}: [package] version")
            )

    order = ws.topological_order()
    changes = tuple(
        VersionChange(
            name,
            Version.parse(ws.package(name).version),
            new[name],
            ws.package(name).version_inherited,
            reasons[name],
        )
        for name in order
        if name in new
    )
    for change in changes:
        package = ws.package(change.crate)
        for dep in package.dependencies:
            if dep.external_path and dep.kind is not DepKind.DEV:
                warnings.append(
                    f"{change.crate} depends on `{dep.name}` by path ({rel_path(dep.path, ws.root)}), which is outside "
                    "the workspace and not released by this plan; release or publish it separately"
                )
    return Plan(
        root=ws.root,
        target=target,
        shared=(shared_old, shared_new) if shared_new is not None and shared_old is not None else None,
        changes=changes,
        edits=tuple(version_edits + edits),
        warnings=tuple(dict.fromkeys(warnings)),
        notes=tuple(dict.fromkeys(notes)),
        blockers=tuple(dict.fromkeys(blockers)),
    )


def rel_path(path: Path | None, root: Path) -> str:
    """``path`` as the release shows it, relative to the workspace root (posix).

    String work, not Path.relative_to: the plan names the file of every requirement site.
    """
    if path is None:
        return "?"
    text, top = str(path), str(root).rstrip(os.sep) + os.sep
    if text.startswith(top):
        return text[len(top) :].replace(os.sep, "/")
    return os.path.relpath(path, root).replace(os.sep, "/")  # outside: a path dependency beside it, `../x`
