"""Cargo's versions and version requirements (the semantics of the `semver` crate).

Shared by release planning (does a requirement still accept the new version?)
and the advisory check (is a locked version inside a patched/unaffected range?).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import total_ordering

_NUMBER = r"0|[1-9]\d*"
_IDENT = r"[0-9A-Za-z-]+"
_VERSION = re.compile(
    rf"^(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>{_IDENT}(?:\.{_IDENT})*))?(?:\+(?P<build>{_IDENT}(?:\.{_IDENT})*))?$"
)


class SemverError(ValueError):
    """A version or requirement that Cargo would not accept."""


def _pre_key(pre: tuple[str, ...]) -> tuple[tuple[int, int, str], ...]:
    # Numeric identifiers sort numerically and before alphanumeric ones.
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre)


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(text.strip())
        if match is None:
            raise SemverError(f"`{text}` is not a semantic version (expected MAJOR.MINOR.PATCH[-PRE][+BUILD])")
        pre = tuple(match.group("pre").split(".")) if match.group("pre") else ()
        for ident in pre:
            if ident.isdigit() and len(ident) > 1 and ident.startswith("0"):
                raise SemverError(f"`{text}`: numeric pre-release identifier `{ident}` has a leading zero")
        build = tuple(match.group("build").split(".")) if match.group("build") else ()
        return cls(int(match.group("major")), int(match.group("minor")), int(match.group("patch")), pre, build)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after all of its pre-releases; build metadata is ignored.
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, _pre_key(self.pre))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def is_prerelease(self) -> bool:
        return bool(self.pre)


class Op(StrEnum):
    EXACT = "="
    GREATER = ">"
    GREATER_EQ = ">="
    LESS = "<"
    LESS_EQ = "<="
    TILDE = "~"
    CARET = "^"
    WILDCARD = "*"


_COMPARATOR = re.compile(
    r"^(?P<op>=|>=|>|<=|<|~|\^)?\s*"
    r"(?P<major>\d+|\*|x|X)(?:\.(?P<minor>\d+|\*|x|X))?(?:\.(?P<patch>\d+|\*|x|X))?"
    rf"(?:-(?P<pre>{_IDENT}(?:\.{_IDENT})*))?(?:\+{_IDENT}(?:\.{_IDENT})*)?$"
)
_WILD = {"*", "x", "X"}


@dataclass(frozen=True)
class Comparator:
    """One comparator; ``minor``/``patch`` are None when the requirement leaves them out."""

    op: Op
    major: int | None
    minor: int | None = None
    patch: int | None = None
    pre: tuple[str, ...] = ()
    explicit_op: bool = True

    @classmethod
    def parse(cls, text: str) -> Comparator:
        match = _COMPARATOR.match(text.strip())
        if match is None:
            raise SemverError(f"`{text}` is not a valid version requirement")
        parts = [match.group("major"), match.group("minor"), match.group("patch")]
        written_op = match.group("op")
        wild_at = next((i for i, p in enumerate(parts) if p in _WILD), None)
        if wild_at is not None:
            if written_op not in (None, "="):
                raise SemverError(f"`{text}`: a wildcard cannot follow the operator `{written_op}`")
            if any(p is not None and p not in _WILD for p in parts[wild_at:]):
                raise SemverError(f"`{text}`: numbers cannot follow a wildcard")
            if match.group("pre"):
                raise SemverError(f"`{text}`: a wildcard cannot have a pre-release")
            numbers = [int(p) for p in parts[:wild_at]]
            return cls(
                Op.WILDCARD,
                numbers[0] if len(numbers) > 0 else None,
                numbers[1] if len(numbers) > 1 else None,
                None,
                (),
                written_op is not None,
            )
        for number in parts:
            if number is not None and len(number) > 1 and number.startswith("0"):
                raise SemverError(f"`{text}`: invalid leading zero in `{number}`")
        for ident in match.group("pre").split(".") if match.group("pre") else ():
            if ident.isdigit() and len(ident) > 1 and ident.startswith("0"):
                raise SemverError(f"`{text}`: numeric pre-release identifier `{ident}` has a leading zero")
        major = int(parts[0])  # type: ignore[arg-type]
        minor = int(parts[1]) if parts[1] is not None else None
        patch = int(parts[2]) if parts[2] is not None else None
        pre = tuple(match.group("pre").split(".")) if match.group("pre") else ()
        if pre and patch is None:
            raise SemverError(f"`{text}`: a pre-release needs a full MAJOR.MINOR.PATCH version")
        op = Op(written_op) if written_op else Op.CARET
        return cls(op, major, minor, patch, pre, written_op is not None)

    def __str__(self) -> str:
        if self.op is Op.WILDCARD:
            numbers = [str(n) for n in (self.major, self.minor) if n is not None]
            return ".".join([*numbers, "*"])
        text = str(self.major)
        if self.minor is not None:
            text += f".{self.minor}"
        if self.patch is not None:
            text += f".{self.patch}"
        if self.pre:
            text += "-" + ".".join(self.pre)
        return (self.op.value if self.explicit_op else "") + text

    def _lower(self) -> Version:
        return Version(self.major or 0, self.minor or 0, self.patch or 0, self.pre)

    def matches(self, version: Version) -> bool:
        op, major, minor, patch = self.op, self.major, self.minor, self.patch
        v = version
        if op is Op.WILDCARD:
            if major is None:
                return True
            if v.major != major:
                return False
            return minor is None or v.minor == minor
        assert major is not None
        if op is Op.EXACT:
            if v.major != major or (minor is not None and v.minor != minor):
                return False
            if patch is None:
                return True
            return v.patch == patch and v.pre == self.pre
        if op in (Op.GREATER, Op.LESS_EQ):
            if minor is None:
                above = v.major > major
            elif patch is None:
                above = (v.major, v.minor) > (major, minor)
            else:
                above = v > Version(major, minor, patch, self.pre)
            return above if op is Op.GREATER else not above
        if op in (Op.GREATER_EQ, Op.LESS):
            at_least = v >= self._lower()
            return at_least if op is Op.GREATER_EQ else not at_least
        if op is Op.TILDE:
            if v < self._lower() or v.major != major:
                return False
            return minor is None or v.minor == minor
        # Caret: compatible with the leftmost non-zero part.
        if v < self._lower() or v.major != major:
            return False
        if minor is None:
            return True
        if major > 0:
            return True
        if v.minor != minor:
            return False
        if patch is None or minor > 0:
            return True
        return v.patch == patch


@dataclass(frozen=True)
class VersionReq:
    comparators: tuple[Comparator, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> VersionReq:
        stripped = text.strip()
        if not stripped:
            raise SemverError("an empty version requirement")
        if stripped == "*":
            return cls((Comparator(Op.WILDCARD, None, explicit_op=False),), text)
        parts = [p.strip() for p in stripped.split(",")]
        if any(not p for p in parts):
            raise SemverError(f"`{text}`: empty comparator between commas")
        return cls(tuple(Comparator.parse(p) for p in parts), text)

    def matches(self, version: Version) -> bool:
        if not all(c.matches(version) for c in self.comparators):
            return False
        if not version.pre:
            return True
        # A pre-release only matches a comparator naming the same MAJOR.MINOR.PATCH with a pre-release.
        return any(
            c.pre and c.major == version.major and c.minor == version.minor and c.patch == version.patch
            for c in self.comparators
        )

    def __str__(self) -> str:
        return ", ".join(str(c) for c in self.comparators)


def parse_version(text: str) -> Version:
    return Version.parse(text)


def parse_requirement(text: str) -> VersionReq:
    return VersionReq.parse(text)
