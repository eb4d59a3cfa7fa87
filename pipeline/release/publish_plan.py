"""Which crates `release --publish` uploads, in which order, and what it skips: pure.

Facts in (the workspace model, the versions being released, the versions the registry
already has), a plan out. Cargo's rules decide:

- a crate's normal and build dependencies on other members must be in the registry
  before it (``cargo publish`` resolves them there while verifying); dev-dependencies
  with a version follow the same order where that leaves no cycle, and those without a
  version are stripped by cargo, so they do not count;
- ``publish = false`` crates, and crates whose ``publish = ["name"]`` list leaves out the
  registry, are skipped;
- a version the registry already has is skipped, so running again after a failure in
  the middle resumes where it stopped;
- a dependency whose path cargo strips must have a version, must be publishable itself,
  and, going to a registry other than crates.io, must say ``registry = "NAME"``: cargo
  looks for a dependency without one on crates.io.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from pipeline.workspace.cargo_semver import SemverError, parse_requirement, parse_version
from pipeline.workspace.model import Dependency, DepKind, Package, Workspace

CRATES_IO = "crates-io"


@dataclass(frozen=True)
class PublishStep:
    crate: str
    version: str


@dataclass(frozen=True)
class Skip:
    crate: str
    version: str
    reason: str


@dataclass(frozen=True)
class PublishPlan:
    registry: str  # cargo's name for it: `crates-io` or a `[registries]` key
    steps: tuple[PublishStep, ...]  # dependencies first
    skipped: tuple[Skip, ...]
    problems: tuple[str, ...] = ()  # each "message\nhint: ..."; the publish must not start
    notes: tuple[str, ...] = ()

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(step.crate for step in self.steps)

    def lines(self) -> list[str]:
        """The plan as the dry run prints it."""
        out = [f"publish to registry `{self.registry}`, in this order:"]
        out += [f"  {n}. {s.crate} {s.version}" for n, s in enumerate(self.steps, 1)] or ["  (nothing to publish)"]
        out += [f"  skip {s.crate} {s.version}: {s.reason}" for s in self.skipped]
        out += [f"  note: {n}" for n in self.notes]
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "registry": self.registry,
            "order": [{"crate": s.crate, "version": s.version} for s in self.steps],
            "skipped": [{"crate": s.crate, "version": s.version, "reason": s.reason} for s in self.skipped],
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


NEVER = "never published (`release.never-publish`, or cargo-release's `publish = false`)"


def _publishable(package: Package, registry: str, never: Collection[str] = ()) -> str | None:
    """Why cargo would refuse to send ``package`` to ``registry`` (None: it would not)."""
    if not package.publish:
        return "publish = false"
    if package.name in never:
        return NEVER
    if package.publish_registries is not None and registry not in package.publish_registries:
        allowed = ", ".join(f'"{r}"' for r in package.publish_registries)
        return f"publish = [{allowed}] leaves out `{registry}`"
    return None


def _counts(dep: Dependency) -> bool:
    """Dependencies that reach the published manifest (cargo drops path-only dev-dependencies)."""
    return dep.kind is not DepKind.DEV or dep.requirement is not None


def _order(ws: Workspace, names: Iterable[str]) -> tuple[str, ...]:
    """Members in publish order: dependencies first, ties by name; dev edges kept where acyclic."""
    wanted = set(names)
    hard: dict[str, set[str]] = {n: set() for n in wanted}
    soft: dict[str, set[str]] = {n: set() for n in wanted}
    for name in wanted:
        for dep in ws.package(name).dependencies:
            if dep.member is None or dep.member == name or dep.member not in wanted or not _counts(dep):
                continue
            (soft if dep.kind is DepKind.DEV else hard)[name].add(dep.member)
    with_dev = _kahn({n: hard[n] | soft[n] for n in wanted})
    if with_dev is not None:
        return with_dev
    hard_only = _kahn(hard)
    # The workspace loader already refuses normal/build cycles, so this always succeeds.
    assert hard_only is not None, "dependency cycle through normal/build edges"
    return hard_only


def _kahn(deps: Mapping[str, set[str]]) -> tuple[str, ...] | None:
    remaining = {n: set(d) for n, d in deps.items()}
    order: list[str] = []
    while remaining:
        ready = sorted(n for n, d in remaining.items() if not d)
        if not ready:
            return None
        for name in ready:
            order.append(name)
            del remaining[name]
        for needed in remaining.values():
            needed.difference_update(ready)
    return tuple(order)


def _matches(requirement: str, versions: Iterable[str]) -> bool:
    try:
        req = parse_requirement(requirement)
        return any(req.matches(parse_version(v)) for v in versions)
    except SemverError:
        return False


def plan_publish(
    ws: Workspace,
    *,
    registry: str | None,
    published: Mapping[str, frozenset[str] | None],
    versions: Mapping[str, str] | None = None,
    crates: Iterable[str] | None = None,
    crates_io_is_registry: bool = False,
    never: Collection[str] = (),
) -> PublishPlan:
    """The publish plan for ``crates`` (default: every member).

    ``published``: crate name -> the versions the registry has (None: it could not be
    asked, e.g. a git index; cargo then refuses a duplicate itself). It should hold the
    members and every path dependency outside the workspace.
    ``versions``: the versions being released (default: the manifests' own).
    ``crates_io_is_registry``: cargo's config replaces crates.io with this registry
    (a mirror), so dependencies without ``registry =`` are found there too.
    ``never``: members never uploaded (`release.never-publish`): skipped, and a crate published
    that depends on one needs the registry to have a version its requirement accepts.
    """
    target = registry or CRATES_IO
    versions = dict(versions or {})
    selected = list(crates) if crates is not None else list(ws.names)
    for name in selected:
        ws.package(name)  # an unknown name is a ManifestError naming the members
    steps: list[PublishStep] = []
    skipped: list[Skip] = []
    problems: list[str] = []
    notes: list[str] = []
    unknown: list[str] = []

    def version_of(name: str) -> str:
        return versions.get(name, ws.package(name).version)

    for name in _order(ws, ws.names):
        if name not in selected:
            continue
        package = ws.package(name)
        version = version_of(name)
        refusal = _publishable(package, target, never)
        if refusal is not None:
            skipped.append(Skip(name, version, refusal))
            continue
        have = published.get(name)
        if have is None:
            unknown.append(name)
        elif version in have:
            skipped.append(Skip(name, version, f"already in registry `{target}`"))
            continue
        steps.append(PublishStep(name, version))
        problems += _dependency_problems(ws, package, target, published, crates_io_is_registry, never)
    if unknown:
        notes.append(
            f"registry `{target}` could not be asked which versions it has ({', '.join(unknown)}); "
            "cargo refuses a version that is already there"
        )
    return PublishPlan(target, tuple(steps), tuple(skipped), tuple(dict.fromkeys(problems)), tuple(notes))


def _dependency_problems(
    ws: Workspace,
    package: Package,
    target: str,
    published: Mapping[str, frozenset[str] | None],
    crates_io_is_registry: bool,
    never: Collection[str] = (),
) -> list[str]:
    problems: list[str] = []
    where = f"{package.manifest_path}: crate `{package.name}`"
    for dep in package.dependencies:
        if dep.path is None or not _counts(dep):
            continue
        if dep.requirement is None:
            problems.append(
                f"{where} depends on `{dep.name}` by path only; cargo publish needs a version for it\n"
                f'hint: write `{dep.key} = {{ path = "...", version = "..." }}`'
                + (" or make it a dev-dependency" if dep.kind is not DepKind.DEV else "")
            )
            continue
        if dep.kind is not DepKind.DEV and dep.member is not None and dep.member in never:
            # Released here but uploaded by someone else (or once, by hand): the registry must have it.
            problems += _not_in_registry(where, dep.member, dep.requirement, published, target, f"which is {NEVER}",
                                         f"publish `{dep.member}` `{dep.requirement}` first, or take it out of "
                                         "`never-publish`")
        elif dep.kind is not DepKind.DEV and dep.member is not None:
            refusal = _publishable(ws.package(dep.member), target)
            if refusal is not None:
                problems.append(
                    f"{where} depends on `{dep.member}`, which cannot go to `{target}` ({refusal})\n"
                    f"hint: allow `{dep.member}` to be published there, or drop the dependency"
                )
        if target != CRATES_IO and dep.registry is None and not crates_io_is_registry:
            problems.append(
                f"{where}: cargo looks for its dependency `{dep.name}` on crates.io, not `{target}` "
                "(a dependency without `registry =` is a crates.io one once the path is stripped)\n"
                f'hint: add `registry = "{target}"` to `{dep.key}` (in [workspace.dependencies] when it comes from '
                "there), or publish to crates.io"
            )
        elif dep.registry is not None and dep.registry != target:
            continue  # from another registry: cargo checks that one itself
        if dep.external_path and dep.kind is not DepKind.DEV:
            problems += _not_in_registry(where, dep.name, dep.requirement, published, target,
                                         f"a path dependency outside the workspace ({dep.path})",
                                         f"publish `{dep.name}` first (`cargo publish` in its directory) or make it "
                                         "a workspace member")
    return problems


def _not_in_registry(where: str, name: str, requirement: str, published: Mapping[str, frozenset[str] | None],
                     target: str, what: str, hint: str) -> list[str]:
    """The problem of a dependency the registry must already have, when it has no version the
    requirement accepts (none when the registry could not be asked: cargo refuses it then)."""
    have = published.get(name)
    if have is None or _matches(requirement, have):
        return []
    found = ", ".join(sorted(have)) or "none"
    return [f"{where} depends on `{name}` `{requirement}`, {what}; registry `{target}` has no matching version "
            f"(it has: {found})\nhint: {hint}"]
