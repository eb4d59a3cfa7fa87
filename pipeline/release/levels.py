"""Version arithmetic for releases: levels, pre-releases, explicit versions, `auto`.

Pure functions over :class:`~pipeline.workspace.cargo_semver.Version`, following
cargo-release's meanings:

* ``major`` / ``minor``: the next major / minor version (pre-release dropped);
* ``patch``: the next patch of a stable version; on a pre-release it drops the
  pre-release part (``1.2.3-rc.1`` -> ``1.2.3``, the release it was heading for);
* ``release``: drops the pre-release part; an error on a stable version;
* ``alpha`` / ``beta`` / ``rc``: from a stable version the next patch with ``.1``
  (``1.2.3`` -> ``1.2.4-rc.1``); the same kind counts up (``rc.1`` -> ``rc.2``);
  a later kind starts at 1 (``alpha.3`` -> ``beta.1``); an earlier kind is an error;
* an explicit version must be greater than the current one;
* ``auto`` is resolved from commits (see :func:`auto_level`) before it gets here.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.foundation.errors import UsageError
from pipeline.workspace.cargo_semver import SemverError, Version

LEVELS = ("major", "minor", "patch", "release", "alpha", "beta", "rc")
PRE_KINDS = ("alpha", "beta", "rc")


@dataclass(frozen=True)
class Target:
    """What the user asked for: a level, an explicit version, or ``auto``."""

    level: str | None = None
    version: Version | None = None
    auto: bool = False

    def __str__(self) -> str:
        if self.version is not None:
            return str(self.version)
        return "auto" if self.auto else str(self.level)


def parse_target(text: str) -> Target:
    """``minor`` / ``rc`` / ``auto`` / ``1.4.0-beta.1``; anything else is a usage error."""
    word = text.strip()
    if word in LEVELS:
        return Target(level=word)
    if word == "auto":
        return Target(auto=True)
    if word[:1].isdigit() or (word[:1] == "v" and word[1:2].isdigit()):
        try:
            return Target(version=Version.parse(word.removeprefix("v")))
        except SemverError as exc:
            raise UsageError(
                f"invalid version `{word}`: {exc}",
                "give a full semantic version such as 1.4.0 or 1.4.0-rc.1",
            ) from None
    raise UsageError(
        f"unknown level `{word}`",
        "use one of " + ", ".join(LEVELS) + ", auto, or an explicit version such as 1.4.0",
    )


def _pre_parts(version: Version) -> tuple[str, int | None]:
    """(kind, number) of a pre-release like ``rc.2``; number None when absent or not numeric."""
    kind = version.pre[0]
    number = int(version.pre[1]) if len(version.pre) > 1 and version.pre[1].isdigit() else None
    return kind, number


def bump(version: Version, level: str, *, crate: str = "the workspace") -> Version:
    """``version`` moved by ``level``; errors name ``crate`` and say what to do instead."""
    v = version
    if level == "major":
        return Version(v.major + 1, 0, 0)
    if level == "minor":
        return Version(v.major, v.minor + 1, 0)
    if level == "patch":
        return Version(v.major, v.minor, v.patch) if v.pre else Version(v.major, v.minor, v.patch + 1)
    if level == "release":
        if not v.pre:
            raise UsageError(
                f"`release` level: {crate} is at {v}, which is not a pre-release",
                "`release` finishes a pre-release (1.2.0-rc.2 -> 1.2.0); use patch, minor or major",
            )
        return Version(v.major, v.minor, v.patch)
    if level in PRE_KINDS:
        if not v.pre:
            return Version(v.major, v.minor, v.patch + 1, (level, "1"))
        kind, number = _pre_parts(v)
        if kind == level:
            new = Version(v.major, v.minor, v.patch, (level, str((number or 0) + 1)))
        elif kind in PRE_KINDS and PRE_KINDS.index(level) < PRE_KINDS.index(kind):
            raise UsageError(
                f"`{level}` level: {crate} is at {v}; going from {kind} back to {level} is not allowed",
                f"use `{kind}` for the next {kind}, a later pre-release kind, or `release`",
            )
        else:
            new = Version(v.major, v.minor, v.patch, (level, "1"))
        if not new > v:
            # A pre-release of another scheme (`pre.1`, `dev`, `rc.x`) can sort above the result.
            raise UsageError(
                f"`{level}` level: {crate} is at {v}, and {new} would be a lower version",
                "give an explicit version above the current one (e.g. `release 1.2.3-rc.1`), or use `release`",
            )
        return new
    raise UsageError(
        f"unknown level `{level}`",
        "use one of " + ", ".join(LEVELS) + ", auto, or an explicit version such as 1.4.0",
    )


def apply(version: Version, target: Target, *, crate: str = "the workspace") -> Version:
    """The new version for ``target`` (``auto`` must have been resolved to a level first)."""
    if target.version is not None:
        if not target.version > version:
            raise UsageError(
                f"version {target.version} is not greater than the current version {version} of {crate}",
                "give a version above the current one, or a level such as patch or minor",
            )
        return target.version
    if target.level is None:
        raise UsageError("`auto` found no level to apply", "give a level such as patch or minor")
    return bump(version, target.level, crate=crate)


def auto_level(version: Version, *, breaking: bool, feature: bool, other: bool) -> str | None:
    """The level that conventional commits ask for; None when there is nothing to release.

    On 0.x, Cargo treats the minor number as the breaking one, so a breaking change
    bumps minor and a feature bumps patch. On a pre-release the same kind counts up.
    """
    if not (breaking or feature or other):
        return None
    if version.pre:
        kind, _ = _pre_parts(version)
        return kind if kind in PRE_KINDS else "release"
    if breaking:
        return "minor" if version.major == 0 else "major"
    if feature:
        return "patch" if version.major == 0 else "minor"
    return "patch"
