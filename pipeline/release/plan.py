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
* Requirements that reach a member through ``[patch]``/``[replace]`` are rewritten like
  path ones; requirements in manifests outside the members (excluded crates, examples)
  are updated when the old one would reject the new version (:mod:`pipeline.workspace.outside`).
* ``extra_crates`` (outside the members, on the workspace's version line) move with it.
* ``publish = false`` crates follow ``unpublished``: ``skip`` keeps their own version and
  only updates their requirements; ``bump`` moves them; ``release`` tags them too.
* Resolution check: after the edits, every requirement that reaches a moved crate must
  accept its new version; each one that does not is a blocker naming ``file:line``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pipeline.foundation import fs
from pipeline.foundation.errors import ManifestError, UsageError
from pipeline.release.findings import Finding
from pipeline.release.levels import PRE_KINDS, Target, apply
from pipeline.workspace.cargo_semver import Comparator, Op, SemverError, Version, VersionReq
from pipeline.workspace.manifest import locate_key, locate_key_in
from pipeline.workspace.model import DepKind, Package, Workspace

T = TypeVar("T")

if TYPE_CHECKING:
    from pipeline.workspace.outside import Outside, OutsideCrate

UNPUBLISHED_POLICIES = ("skip", "bump", "release")
BLOCKER_HINT = "change that requirement by hand so it accepts the new version"

_REWRITABLE = frozenset({Op.CARET, Op.TILDE, Op.EXACT})
_FORCING_KINDS = frozenset({DepKind.NORMAL, DepKind.BUILD})


@dataclass(frozen=True)
class VersionChange:
    crate: str
    old: Version
    new: Version
    inherited: bool
    reason: str
    publish: bool = True
    manifest: Path | None = None  # set for crates outside the members (`extra-crates`)


@dataclass(frozen=True)
class ValueEdit:
    """One string value to replace in one TOML file; ``path`` is the key path inside it."""

    file: Path
    path: tuple[str, ...]
    old: str
    new: str
    what: str
    key: bool = False  # ``path[-1]`` is a key renamed from ``old`` to ``new`` (a `[replace]` key)


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
    unpublished: str = "skip"
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

    def tagged(self, change: VersionChange) -> bool:
        """Does ``change`` get a tag of its own (publish = false crates only with `release`)?"""
        return change.publish or self.unpublished == "release"

    def listed(self, change: VersionChange) -> bool:
        """Is ``change`` shown and written to the changelog (`skip` hides publish = false crates)?"""
        return change.publish or self.unpublished != "skip"


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
    # "always": rewritten whenever its crate moves (members, extra crates); "breaks": only when
    # the old requirement rejects the new version (manifests outside the release).
    policy: str = "always"


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
            # A patched dependency is written by name (`macros = "~2.7.0"`): its site comes from
            # pipeline.workspace.outside, which reads where the string sits.
            if dep.workspace or dep.member is None or dep.requirement is None or dep.patched:
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


def _outside_sites(outside: Outside, extra: frozenset[str]) -> list[_Site]:
    sites = []
    for req in outside.requirements:
        member_like = req.owner_is_member or (req.owner is not None and req.owner in extra)
        dependents = ((req.owner, req.kind),) if req.owner_is_member and req.owner is not None else ()
        sites.append(_Site(req.file, req.value_path, req.requirement, req.member, dependents, req.what,
                           "always" if member_like else "breaks"))
    return sites


def _quote(part: str) -> str:
    return part if all(c.isalnum() or c in "-_" for c in part) else f"'{part}'"


def _per_version(answer: Callable[[str, Version], T]) -> Callable[[str, Version], T]:
    """``answer(requirement, version)`` remembered, keyed by the Version object's identity (the
    planner's versions live until it ends; hashing a Version recomputes its sort key every time)."""
    known: dict[tuple[str, int], T] = {}

    def remembered(text: str, version: Version) -> T:
        key = (text, id(version))
        found = known.get(key)
        if found is None:
            found = known[key] = answer(text, version)
        return found

    return remembered


def select_default(ws: Workspace, target: Target, unpublished: str = "skip",
                   skip: Collection[str] = ()) -> tuple[str, ...]:
    """Crates moved when none are named: all of them for a level; for an explicit
    version, the shared version's crates when there is a shared version. With
    ``unpublished = "skip"``, publish = false crates with their own version stay;
    ``skip`` (`skip-crates`) are never released."""
    if target.version is not None and ws.version is not None:
        inheriting = tuple(p.name for p in ws.members if p.version_inherited)
        if inheriting:
            return inheriting
    if unpublished == "skip":
        return tuple(p.name for p in ws.members if (p.publish or p.version_inherited) and p.name not in skip)
    return tuple(p.name for p in ws.members if p.version_declared and p.name not in skip)


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


Locate = Callable[[Path, tuple[str, ...], str], int | None]


def make_plan(
    ws: Workspace,
    target: Target,
    crates: Iterable[str] | None = None,
    levels: Mapping[str, Target] | None = None,
    *,
    outside: Outside | None = None,
    extra_crates: Sequence[str] = (),
    unpublished: str = "skip",
    locate: Locate | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    skip: Collection[str] = (),
    keep_build: bool = False,
    fix: Collection[str] = (),
) -> Plan:
    """The plan for moving ``crates`` (default: :func:`select_default`) to ``target``.

    ``target`` must not be ``auto`` here: the flow resolves it from commits first.
    ``levels`` overrides the target of selected crates with their own version line
    (what `auto` found for each of them). ``outside``: requirements on members outside
    the members' path dependencies (:func:`pipeline.workspace.outside.gather`);
    ``extra_crates``: outside crates (names or paths) released with the workspace;
    ``locate``: finds the line of a value in a file, for the blockers' ``file:line`` (the
    release passes :func:`text_locator` over the manifests in its facts, so planning reads
    nothing). The versions must have passed :func:`check_versions` (the release's prepare
    step checks them once, before `auto` reads the base version). ``groups`` (`version-groups`):
    crates with their own versions that move as one, to the highest of their new versions;
    ``skip`` (`skip-crates`): members never moved, only their requirements are updated;
    ``keep_build`` (`keep-build-metadata`): a level keeps the version's `+build` metadata;
    ``fix`` (`fix-requirements`): crates whose dependents' requirements change only when they break.
    """
    if target.auto:
        raise UsageError("`auto` must be resolved to a level before planning", "give a level such as minor")
    if unpublished not in UNPUBLISHED_POLICIES:
        raise UsageError(f"`unpublished` = {unpublished!r} is not one of {', '.join(UNPUBLISHED_POLICIES)}",
                         'set `unpublished = "skip"` (the default), "bump" or "release"')
    extras = _extra_crates(ws, outside, extra_crates)
    locate = locate or locate_value
    selected = (tuple(dict.fromkeys(crates)) if crates is not None
                else select_default(ws, target, unpublished, skip))
    for name in selected:
        if not ws.package(name).version_declared:  # unknown crate -> ManifestError naming the members
            raise UsageError(f"crate `{name}` has no version in {ws.package(name).manifest_path} (cargo reads "
                             "0.0.0 and never publishes it): there is no version to move",
                             f'add `version = "0.1.0"` to its [package] table to release it, or leave out '
                             f"--crate {name}")
        if name in skip:
            raise UsageError(f"{ws.manifest_path}: `{name}` is never released (`release.skip-crates`, or "
                             "cargo-release's `release = false`)", f"leave out --crate {name}")
    group_of = {c: (g, tuple(m for m in members if ws.has(m))) for g, members in (groups or {}).items()
                for c in members}
    shared_old = Version.parse(ws.version) if ws.version is not None else None

    def bumped(version: Version, how: Target, *, crate: str) -> Version:
        moved = apply(version, how, crate=crate)
        if keep_build and version.build and not moved.build and how.version is None:
            return Version(moved.major, moved.minor, moved.patch, moved.pre, version.build)
        return moved

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
                shared_new = bumped(shared_old, how, crate=f"the shared version ({ws.manifest_path})")
            for other in ws.members:
                if other.version_inherited and other.name not in new:
                    new[other.name] = shared_new
                    if other.name == package.name or other.name in chosen:
                        reasons[other.name] = "selected" if other.name in chosen else reason
                    else:
                        reasons[other.name] = "shares the workspace version"
            return
        group = group_of.get(package.name)
        if group is not None:
            # One version for the group: the highest any member reaches (cargo-release's shared-version).
            name, members = group
            targets = {m: (levels or {}).get(m, target) if m in chosen and m != package.name else how
                       for m in members}
            version = max(bumped(Version.parse(ws.package(m).version), targets[m],
                                 crate=f"crate `{m}`" + ("" if m == package.name else
                                                         f" (in version group {name!r} with {package.name})"))
                          for m in members)
            for member in members:
                new[member] = version
                reasons[member] = (reason if member == package.name else "selected" if member in chosen
                                   else f"released with {package.name} (version group {name!r})")
            return
        new[package.name] = bumped(Version.parse(package.version), how, crate=f"crate `{package.name}`")
        reasons[package.name] = reason

    chosen = frozenset(selected)
    for name in selected:
        move(ws.package(name), "selected", (levels or {}).get(name, target))

    # Crates outside the members on the workspace's version line: the shared version's
    # new value when they carry it, else the target applied to their own version.
    for extra in extras:
        assert extra.version is not None
        old = Version.parse(extra.version)
        if shared_new is not None and shared_old is not None and old == shared_old:
            new[extra.name] = shared_new
        else:
            new[extra.name] = bumped(old, target, crate=f"crate `{extra.name}` ({extra.manifest_path})")
        reasons[extra.name] = "extra crate (release.extra-crates)"

    extra_names = frozenset(e.name for e in extras)
    sites = _sites(ws) + (_outside_sites(outside, extra_names) if outside is not None else [])
    # 500 crates ask about ~1,500 sites of a few (requirement, version) pairs: each answer once.
    rewrite_of = _per_version(rewrite_requirement)
    accepts = _per_version(_accepts)

    while True:
        forced: list[tuple[Package, str]] = []
        for site in sites:
            if site.dependency not in new:
                continue
            rewrite = rewrite_of(site.requirement, new[site.dependency])
            if not rewrite.breaks or rewrite.new is None:
                continue
            for dependent, kind in site.dependents:
                package = ws.package(dependent)
                if (dependent not in new and kind in _FORCING_KINDS and dependent not in skip
                        and package.version_declared and (package.publish or unpublished != "skip")):
                    forced.append((package, f"its requirement on {site.dependency} changes"))
        if not forced:
            break
        for package, reason in forced:
            move(package, reason, follow(package))

    edits: list[ValueEdit] = []
    warnings: list[str] = []
    notes: list[str] = []
    blockers: list[Finding] = []
    finals: list[tuple[_Site, str]] = []
    for site in sites:
        if site.dependency not in new:
            continue
        version = new[site.dependency]
        rewrite = rewrite_of(site.requirement, version)
        where = f"{site.what} (in {rel_path(site.file, ws.root)})"
        if rewrite.kind in ("range", "invalid"):
            finals.append((site, site.requirement))
            if not rewrite.breaks:
                notes.append(f"{where}: requirement `{site.requirement}` left alone (still matches {version})")
            continue
        if rewrite.new is None or ((site.policy == "breaks" or site.dependency in fix) and not rewrite.breaks):
            finals.append((site, site.requirement))
            continue
        if rewrite.expanded:
            notes.append(f"{where}: `{site.requirement}` becomes `{rewrite.new}` (a pre-release needs a full version)")
        edits.append(ValueEdit(site.file, site.path, site.requirement, rewrite.new, where))
        finals.append((site, rewrite.new))
    # The resolution check: what cargo will see once the edits are written.
    for site, final in finals:
        version = new[site.dependency]
        problem = None if accepts(final, version) else _rejects(site, final, version, ws.root, locate)
        if problem is not None:
            warnings.append(problem.message)
            blockers.append(problem)
    # `[replace] "macros:2.7.0" = { path = "macros" }`: the key names the version it replaces,
    # so it moves with the member (the requirements that reach it were rewritten above).
    old_versions = {p.name: p.version for p in ws.members}
    for key in outside.replace_keys if outside is not None else ():
        if key.member not in new or key.version == str(new[key.member]):
            continue
        name, separator, _version = key.key.partition("@" if "@" in key.key else ":")
        renamed = f"{name}{separator}{new[key.member]}"
        place = rel_path(key.file, ws.root)
        if key.version == old_versions.get(key.member):
            edits.append(ValueEdit(key.file, ("replace", key.key), key.key, renamed,
                                   f"[replace] key (in {place})", key=True))
            continue
        line = locate(key.file, ("replace",), key.key)
        place = f"{place}{f':{line}' if line else ''}"
        text = (f"{place}: [replace] entry `{key.key}` names version {key.version} of {key.member}, which is "
                f'{old_versions.get(key.member)} and moves to {new[key.member]}; fix: rename the key to "{renamed}"')
        warnings.append(text)
        blockers.append(Finding(text, BLOCKER_HINT, place))

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
    for extra in extras:
        assert extra.version is not None
        version_edits.append(ValueEdit(extra.manifest_path, ("package", "version"), extra.version,
                                       str(new[extra.name]), f"{extra.name}: [package] version"))

    order = ws.topological_order()
    changes = tuple(
        VersionChange(
            name,
            Version.parse(ws.package(name).version),
            new[name],
            ws.package(name).version_inherited,
            reasons[name],
            ws.package(name).publish,
        )
        for name in order
        if name in new
    ) + tuple(
        VersionChange(e.name, Version.parse(e.version or ""), new[e.name],
                      shared_new is not None and new[e.name] == shared_new, reasons[e.name], e.publish,
                      e.manifest_path)
        for e in extras
    )
    for change in changes:
        if change.manifest is not None:
            continue
        package = ws.package(change.crate)
        for dep in package.dependencies:
            if dep.external_path and dep.kind is not DepKind.DEV:
                if dep.name in extra_names:
                    continue  # released with the workspace (`extra-crates`)
                text = (f"{change.crate} depends on `{dep.name}` by path ({rel_path(dep.path, ws.root)}), which is "
                        "outside the workspace and not released by this plan; release or publish it separately")
                crate = outside.crate(rel_path(dep.path, ws.root), ws.root) if outside is not None else None
                if crate is not None and shared_old is not None and crate.version == str(shared_old):
                    text += (f", or release it with the workspace: it is on the workspace's version line "
                             f"({crate.version}), `release.extra-crates = [\"{rel_path(dep.path, ws.root)}\"]`")
                warnings.append(text)
    return Plan(
        root=ws.root,
        target=target,
        shared=(shared_old, shared_new) if shared_new is not None and shared_old is not None else None,
        changes=changes,
        edits=tuple(version_edits + edits),
        warnings=tuple(dict.fromkeys(warnings)),
        notes=tuple(dict.fromkeys(notes)),
        blockers=tuple(dict.fromkeys(blockers)),
        unpublished=unpublished,
    )


def locate_value(file: Path, path: tuple[str, ...], value: str) -> int | None:
    """The line of a blocker's value, reading ``file``: for callers without the file's bytes."""
    try:
        text = file.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None
    return line_of_value(text, path, value)


def text_locator(manifests: Mapping[Path, bytes]) -> Locate:
    """A :data:`Locate` over bytes already read (the release facts'): planning stays pure.
    A file it was not given has no known line (the blocker then names the file alone)."""

    def locate(file: Path, path: tuple[str, ...], value: str) -> int | None:
        data = manifests.get(file)
        return None if data is None else line_of_value(data.decode("utf-8", errors="replace"), path, value)

    return locate


def line_of_value(text: str, path: tuple[str, ...], value: str) -> int | None:
    from pipeline.release.edit import value_line

    if path == ("replace",):  # a [replace] key: its own line
        for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
            if line.lstrip().startswith((f'"{value}"', f"'{value}'")):
                return number
        return None
    return value_line(text, path, value)


def _extra_crates(ws: Workspace, outside: Outside | None, wanted: Sequence[str]) -> list[OutsideCrate]:
    found = []
    for item in wanted:
        crate = outside.crate(item, ws.root) if outside is not None else None
        if crate is None:
            known = ", ".join(sorted(c.name for c in outside.crates)) if outside is not None else ""
            raise UsageError(
                f"{ws.manifest_path}: `release.extra-crates` names `{item}`, which is no crate outside the members",
                ("crates outside the members: " + known) if known else
                "give the path (relative to the workspace root) of a crate with its own Cargo.toml",
            )
        if ws.has(crate.name):
            raise UsageError(f"{ws.manifest_path}: `release.extra-crates` names `{item}`, which is a member",
                             "members are released anyway: remove it from `extra-crates`")
        if crate.version is None:
            raise ManifestError(f"{locate_key(crate.manifest_path, 'version')}: extra crate `{crate.name}` has no "
                                "version of its own", 'write `version = "..."` in its [package] table')
        try:
            Version.parse(crate.version)
        except SemverError as exc:
            raise ManifestError(f"{locate_key(crate.manifest_path, 'version')}: crate `{crate.name}` version: {exc}",
                                "write it as MAJOR.MINOR.PATCH (e.g. 1.2.0)") from None
        found.append(crate)
    return found


def _suggest(requirement: str, new: Version) -> str:
    """A requirement that accepts ``new`` and is written as the old one was when possible."""
    try:
        req = VersionReq.parse(requirement)
        first = req.comparators[0] if req.comparators else None
    except SemverError:
        first = None
    precision = 3 if new.pre else (1 + (first.minor is not None) + (first.patch is not None)) if first else 2
    parts = [new.major, new.minor, new.patch][: max(precision, 1)]
    text = ".".join(str(p) for p in parts)
    return text + ("-" + ".".join(new.pre) if new.pre else "")


@functools.lru_cache(maxsize=4096)
def _accepts(requirement: str, version: Version) -> bool:
    """Whether ``requirement`` matches ``version`` (pure, and asked 1,500 times of a few pairs on 500 crates)."""
    try:
        return VersionReq.parse(requirement).matches(version)
    except SemverError:
        return False


def _rejects(site: _Site, final: str, version: Version, root: Path, locate: Locate) -> Finding | None:
    if _accepts(final, version):
        return None
    line = locate(site.file, site.path, site.requirement)
    place = rel_path(site.file, root) + (f":{line}" if line else "")
    text = (f"{place}: {site.what}: requirement `{final}` on {site.dependency} no longer matches {version} "
            f'(its new version); fix: write `version = "{_suggest(final, version)}"` there (or a range with it)')
    return Finding(text, BLOCKER_HINT, place)


def rel_path(path: Path | None, root: Path) -> str:
    """``path`` as the release shows it, relative to the workspace root ("?" when unknown)."""
    return "?" if path is None else fs.relative(path, root)
