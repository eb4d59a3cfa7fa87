"""Workspace hygiene: pure checks over the workspace model, one finding per problem."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pipeline.workspace.cargo_semver import Op, SemverError, Version, VersionReq
from pipeline.workspace.manifest import locate_key
from pipeline.workspace.model import DepKind, Workspace


@dataclass(frozen=True)
class Finding:
    rule: str
    location: str
    message: str
    hint: str

    def render(self) -> str:
        return f"{self.location}: [{self.rule}] {self.message} (hint: {self.hint})"


Rule = Callable[[Workspace], Iterator[Finding]]


def _compat_class(req: VersionReq) -> tuple[int, ...] | None:
    """The semver-compatible series a requirement's lowest accepted version falls in (None: unbounded)."""
    lows = [
        Version(c.major, c.minor or 0, c.patch or 0)
        for c in req.comparators
        if c.major is not None and c.op in (Op.CARET, Op.TILDE, Op.EXACT, Op.GREATER_EQ, Op.WILDCARD)
    ]
    if not lows:
        return None
    low = max(lows)
    if low.major > 0:
        return (low.major,)
    if low.minor > 0:
        return (0, low.minor)
    return (0, 0, low.patch)


def inconsistent_requirements(workspace: Workspace) -> Iterator[Finding]:
    """Members requiring one crate in semver-incompatible series, or not accepting a member's own version."""
    series: dict[str, dict[tuple[int, ...], list[str]]] = defaultdict(lambda: defaultdict(list))
    for package in workspace.members:
        for dep in package.dependencies:
            if dep.requirement is None:
                continue
            try:
                req = VersionReq.parse(dep.requirement)
            except SemverError:
                continue  # reported by the invalid-requirement rule
            if dep.member is not None:
                target = workspace.package(dep.member)
                if not req.matches(Version.parse(target.version)):
                    yield Finding(
                        "inconsistent-requirement",
                        locate_key(package.manifest_path, dep.key),
                        f"crate `{package.name}` requires `{dep.name} {dep.requirement}`, "
                        f"but the workspace member is at {target.version}",
                        f"update the requirement to accept {target.version} (`pipeline bump` keeps them in sync)",
                    )
                continue
            compat = _compat_class(req)
            if compat is not None:
                series[dep.name][compat].append(f'"{dep.requirement}" in {package.name}')
    for name, by_series in sorted(series.items()):
        if len(by_series) > 1:
            detail = "; ".join(", ".join(sorted(set(users))) for _, users in sorted(by_series.items()))
            yield Finding(
                "inconsistent-requirement",
                str(workspace.manifest_path),
                f"`{name}` is required in {len(by_series)} semver-incompatible series: {detail}",
                f"declare `{name}` once in [workspace.dependencies] and use `{name}.workspace = true`",
            )


def wildcard_requirements(workspace: Workspace) -> Iterator[Finding]:
    for package in workspace.members:
        for dep in package.dependencies:
            if dep.requirement is None:
                continue
            try:
                req = VersionReq.parse(dep.requirement)
            except SemverError as exc:
                yield Finding(
                    "invalid-requirement",
                    locate_key(package.manifest_path, dep.key),
                    f"crate `{package.name}`: {exc}",
                    "write a Cargo version requirement such as \"1.2\" or \"=1.2.3\"",
                )
                continue
            if any(c.op is Op.WILDCARD and c.major is None for c in req.comparators):
                yield Finding(
                    "wildcard-requirement",
                    locate_key(package.manifest_path, dep.key),
                    f"crate `{package.name}` requires `{dep.name}` with `*`",
                    "crates.io rejects `*` requirements; name the version you build and test with",
                )


def missing_metadata(workspace: Workspace) -> Iterator[Finding]:
    for package in workspace.members:
        if not package.publish:
            continue
        missing = [
            field
            for field, value in (
                ("license", package.license or package.license_file),
                ("description", package.description),
                ("repository", package.repository),
            )
            if not value
        ]
        if missing:
            yield Finding(
                "missing-metadata",
                str(package.manifest_path),
                f"publishable crate `{package.name}` has no {', '.join(missing)}",
                "add them to [package] (or inherit with `field.workspace = true`), or set `publish = false`",
            )


def edition_mismatch(workspace: Workspace) -> Iterator[Finding]:
    if workspace.edition is None:
        return
    for package in workspace.members:
        if not package.edition_inherited and package.edition != workspace.edition:
            yield Finding(
                "edition-mismatch",
                locate_key(package.manifest_path, "edition"),
                f"crate `{package.name}` uses edition {package.edition or '2015 (unset)'} "
                f"while the workspace default is {workspace.edition}",
                "use `edition.workspace = true` unless the difference is intended (then allow this rule)",
            )


def path_without_version(workspace: Workspace) -> Iterator[Finding]:
    for package in workspace.members:
        if not package.publish:
            continue
        for dep in package.dependencies:
            # cargo strips dev-dependencies without a version on publish, so only these break it.
            if dep.kind is not DepKind.DEV and dep.path is not None and dep.requirement is None:
                yield Finding(
                    "path-without-version",
                    locate_key(package.manifest_path, dep.key),
                    f"publishable crate `{package.name}` has a path dependency `{dep.key}` without a version",
                    f'add `version = "..."` next to `path`, or set `publish = false` on `{package.name}`',
                )


RULES: dict[str, Rule] = {
    "inconsistent-requirement": inconsistent_requirements,
    "wildcard-requirement": wildcard_requirements,
    "invalid-requirement": wildcard_requirements,
    "missing-metadata": missing_metadata,
    "edition-mismatch": edition_mismatch,
    "path-without-version": path_without_version,
}


def lint(workspace: Workspace, allow: tuple[str, ...] = ()) -> list[Finding]:
    findings: list[Finding] = []
    for rule in dict.fromkeys(RULES.values()):
        findings.extend(f for f in rule(workspace) if f.rule not in allow)
    return findings
