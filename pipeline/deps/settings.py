"""Configuration of duplicate detection and advisories (`[workspace.metadata.pipeline.dupes]`, `.audit`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pipeline.foundation.config import setting
from pipeline.workspace.cargo_semver import SemverError, Version, VersionReq

_ADVISORY_ID = re.compile(r"^[A-Z]+-[0-9A-Za-z]+(?:-[0-9A-Za-z]+)+$")  # RUSTSEC-2020-0071, GHSA-xxxx-xxxx-xxxx


def version_matcher(text: str | None) -> VersionReq | Version | None:
    """A skip entry's ``version``: a plain version matches exactly, anything else is a Cargo requirement."""
    if text is None:
        return None
    try:
        return Version.parse(text)
    except SemverError:
        return VersionReq.parse(text)


@dataclass(frozen=True)
class SkipEntry:
    """One `skip` entry: versions of a crate left out of the duplicate check."""

    name: str = setting("", doc="crate name")
    version: str | None = setting(
        None, doc="exact version (`1.0.109`) or Cargo requirement (`<2`); absent: every version"
    )
    reason: str = setting("", doc="why the duplicate is accepted (shown in the report)")

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("every `skip` entry needs a `name`")
        try:
            version_matcher(self.version)
        except SemverError as exc:
            raise ValueError(f"skip entry `{self.name}`: {exc}") from exc


@dataclass(frozen=True)
class SkipTreeEntry:
    """One `skip-tree` entry: a crate and its dependencies (to `depth`) left out of the duplicate check."""

    name: str = setting("", doc="crate name at the top of the skipped tree")
    version: str | None = setting(None, doc="exact version or Cargo requirement; absent: every version")
    depth: int | None = setting(None, doc="how many levels of dependencies below it to skip; absent: all")
    reason: str = setting("", doc="why the subtree's duplicates are accepted")

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("every `skip-tree` entry needs a `name`")
        if self.depth is not None and self.depth < 0:
            raise ValueError(f"skip-tree entry `{self.name}`: `depth` must be >= 0")
        try:
            version_matcher(self.version)
        except SemverError as exc:
            raise ValueError(f"skip-tree entry `{self.name}`: {exc}") from exc


@dataclass(frozen=True)
class DupesSettings:
    """Keys of [workspace.metadata.pipeline.dupes]; each is documented in the README."""

    multiple_versions: Literal["deny", "warn", "allow"] = setting(
        "warn", doc="a crate locked at several versions: `deny` fails (exit 1), `warn` reports, `allow` only lists"
    )
    skip: tuple[SkipEntry, ...] = setting(
        factory=tuple, doc='accepted duplicates: `[{ name = "syn", version = "1.0.109", reason = "..." }]`'
    )
    skip_tree: tuple[SkipTreeEntry, ...] = setting(
        factory=tuple, doc="crates whose whole dependency tree (to an optional `depth`) is left out of the check"
    )
    unmatched_skip: Literal["deny", "warn", "allow"] = setting(
        "warn", doc="a `skip`/`skip-tree` entry that matches no duplicated crate any more: deny, warn or allow"
    )


@dataclass(frozen=True)
class AuditSettings:
    """Keys of [workspace.metadata.pipeline.audit]; each is documented in the README."""

    engine: Literal["builtin", "cargo-audit", "cargo-deny"] = setting(
        "builtin", doc="who matches Cargo.lock against the advisory database: `builtin`, `cargo-audit` or `cargo-deny`"
    )
    db: str | None = setting(
        None, doc="RustSec advisory-db checkout (relative to the workspace root); default `~/.cargo/advisory-db`"
    )
    max_age_days: int = setting(
        90, doc="fail when the advisory database's last commit (else newest file) is older; 0 disables"
    )
    informational: Literal["warn", "deny", "ignore"] = setting(
        "warn", doc="informational advisories (unmaintained, unsound, notice): warn, deny (exit 1) or ignore"
    )
    ignore: tuple[str, ...] = setting(factory=tuple, doc='advisory ids to ignore, e.g. `["RUSTSEC-2020-0071"]`')
    python: bool = setting(True, doc="also run pip-audit on the workspace's Python requirements")
    python_requirements: tuple[str, ...] | None = setting(
        None,
        doc="Python requirement files / pyproject.toml to audit, relative to the root; default: `pyproject.toml` "
        "and `requirements*.txt` in the root directory itself (nothing deeper)",
    )
    python_environment: bool = setting(
        False, doc="also pip-audit the environment cargo-gpu-pipeline runs in (the tool's, not the workspace's)"
    )
    python_no_deps: bool = setting(
        False,
        doc="requirement files are fully pinned (pip-compile output): audit them as written, without resolving "
        "(`pip-audit --no-deps --disable-pip`, much faster)",
    )

    def __post_init__(self) -> None:
        if self.max_age_days < 0:
            raise ValueError("`max-age-days` must be >= 0 (0 disables the staleness check)")
        bad = [i for i in self.ignore if not _ADVISORY_ID.match(i)]
        if bad:
            raise ValueError(f"`ignore` holds entries that are not advisory ids: {', '.join(bad)}")
