"""RustSec advisories: the advisory-db layout, and matching Cargo.lock against it.

Layout (https://github.com/rustsec/advisory-db): ``crates/<name>/RUSTSEC-YYYY-NNNN.md``,
each file opening with a fenced ```toml block::

    [advisory]
    id = "RUSTSEC-2020-0071"
    package = "time"
    date = "2020-11-18"
    informational = "unsound"        # optional: unmaintained | unsound | notice
    withdrawn = "2021-01-01"         # optional
    [versions]
    patched = [">= 0.2.23"]
    unaffected = ["= 0.1.*"]         # optional

followed by the markdown ``# Title`` and description (``title`` in
``[advisory]`` wins when present, as in the older ``.toml`` files).

A locked version is affected unless a ``patched`` or an ``unaffected``
requirement matches it (Cargo's requirement semantics, pre-release rules
included: ``pipeline.workspace.cargo_semver``), the rule of the ``rustsec``
crate that cargo-audit and cargo-deny use. Only crates.io packages are matched:
a path or git dependency that shares a name is not the published crate.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.deps.lockfile import LockedPackage
from pipeline.foundation.errors import CheckFailed
from pipeline.workspace.cargo_semver import SemverError, Version, VersionReq
from pipeline.workspace.manifest import TOMLDecodeError, toml_loads

INFORMATIONAL_KINDS = ("unmaintained", "unsound", "notice")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class AdvisoryFormatError(ValueError):
    """One advisory file that cannot be read: the whole database is refused (fail closed)."""


@dataclass(frozen=True)
class Advisory:
    id: str
    package: str
    date: str
    title: str
    informational: str | None
    withdrawn: str | None
    patched: tuple[VersionReq, ...]
    unaffected: tuple[VersionReq, ...]
    url: str | None
    aliases: tuple[str, ...]
    source: str | None  # another registry than crates.io, when the advisory says so
    path: Path

    def affects(self, version: Version) -> bool:
        return not any(r.matches(version) for r in self.patched) and not any(
            r.matches(version) for r in self.unaffected
        )

    @property
    def kind(self) -> str:
        return self.informational or "vulnerability"


@dataclass(frozen=True)
class BrokenFile:
    path: Path
    reason: str

    def render(self) -> str:
        return f"{self.path}: malformed advisory: {self.reason}"


@dataclass(frozen=True)
class Database:
    root: Path
    advisories: Mapping[str, tuple[Advisory, ...]]  # by package name
    count: int

    def for_package(self, name: str) -> tuple[Advisory, ...]:
        return self.advisories.get(name, ())


def _front_matter(text: str, path: Path) -> tuple[str, str]:
    """(TOML front matter, markdown body) of an ``.md`` advisory."""
    stripped = text.lstrip("\ufeff \t\r\n")
    first, _, rest = stripped.partition("\n")
    if first.strip() != "```toml":
        raise AdvisoryFormatError("does not start with a ```toml front-matter block")
    end = re.search(r"^```[ \t]*\r?$", rest, re.MULTILINE)
    if end is None:
        raise AdvisoryFormatError("the ```toml front-matter block is not closed")
    return rest[: end.start()], rest[end.end():]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AdvisoryFormatError(f"`{where}` must be an array of strings")
    return tuple(value)


def _requirements(texts: Iterable[str], where: str) -> tuple[VersionReq, ...]:
    out = []
    for text in texts:
        try:
            out.append(VersionReq.parse(text))
        except SemverError as exc:
            raise AdvisoryFormatError(f"`{where}`: {exc}") from exc
    return tuple(out)


def parse_advisory(text: str, path: Path) -> Advisory:
    """One advisory file (``.md`` with front matter, or a legacy ``.toml``); AdvisoryFormatError if malformed."""
    if path.suffix == ".toml":
        front, body = text, ""
    else:
        front, body = _front_matter(text, path)
    try:
        data = toml_loads(front)
    except TOMLDecodeError as exc:
        raise AdvisoryFormatError(f"malformed TOML front matter: {exc}") from exc
    advisory = data.get("advisory")
    if not isinstance(advisory, dict):
        raise AdvisoryFormatError("no [advisory] table")
    values: dict[str, str | None] = {}
    for key in ("id", "package", "date"):
        value = advisory.get(key)
        if not isinstance(value, str) or not value:
            raise AdvisoryFormatError(f"[advisory] `{key}` must be a non-empty string")
        values[key] = value
    date = advisory["date"]
    if not _DATE.match(date):
        raise AdvisoryFormatError(f"[advisory] `date` must be YYYY-MM-DD, got {date!r}")
    for key in ("informational", "withdrawn", "title", "url", "source"):
        value = advisory.get(key)
        if value is not None and not isinstance(value, str):
            raise AdvisoryFormatError(f"[advisory] `{key}` must be a string")
        values[key] = value
    versions = data.get("versions", {})
    if not isinstance(versions, dict):
        raise AdvisoryFormatError("[versions] must be a table")
    patched = _requirements(_strings(versions.get("patched"), "versions.patched"), "versions.patched")
    unaffected = _requirements(_strings(versions.get("unaffected"), "versions.unaffected"), "versions.unaffected")
    title = values["title"] or _heading(body) or values["id"]
    return Advisory(
        id=str(values["id"]),
        package=str(values["package"]),
        date=date,
        title=str(title),
        informational=values["informational"],
        withdrawn=values["withdrawn"],
        patched=patched,
        unaffected=unaffected,
        url=values["url"],
        aliases=_strings(advisory.get("aliases"), "advisory.aliases"),
        source=values["source"],
        path=path,
    )


def _heading(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _scan(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return sorted(entries, key=lambda e: e.name)
    except OSError as exc:  # a symlink loop, a permission problem: the database cannot be read whole
        raise CheckFailed(
            f"advisory database: cannot read {directory}: {exc.strerror or exc}",
            "repair the checkout (`git -C DB status`, or clone it again): advisories cannot be checked",
        ) from None


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError as exc:
        raise CheckFailed(f"advisory database: cannot read {entry.path}: {exc.strerror or exc}",
                          "repair the checkout (or clone it again): advisories cannot be checked") from None


def advisory_files(root: Path) -> list[Path]:
    """``crates/*/*.md`` (and legacy ``*.toml``), sorted; std advisories (``rust/``) do not apply to Cargo.lock.

    Unreadable directories (a symlink loop among them) are a :class:`CheckFailed`: an audit
    that cannot read the whole database must not pass.
    """
    files: list[Path] = []
    for directory in (e for e in _scan(root / "crates") if _is_dir(e)):
        for entry in _scan(Path(directory.path)):
            if entry.name.endswith((".md", ".toml")) and not _is_dir(entry):
                files.append(Path(entry.path))
    return sorted(files)


def load_database(root: Path) -> Database:
    """Every advisory under ``root/crates``; any malformed file, or none at all, is a :class:`CheckFailed`.

    Fail closed: a skipped advisory for a locked crate would let a vulnerable lockfile
    pass, and an empty database passes everything. All files are parsed (not only the
    locked crates') so a broken file is reported whatever the lockfile holds; a thousand
    advisories take tens of ms.
    """
    by_package: dict[str, list[Advisory]] = {}
    broken = []
    count = 0
    for path in advisory_files(root):
        count += 1
        try:
            advisory = parse_advisory(path.read_text(encoding="utf-8"), path)
        except (AdvisoryFormatError, UnicodeDecodeError) as exc:
            broken.append(BrokenFile(path, str(exc)))
            continue
        except OSError as exc:
            broken.append(BrokenFile(path, f"cannot read it: {exc.strerror or exc}"))
            continue
        by_package.setdefault(advisory.package, []).append(advisory)
    if broken:
        shown = "\n".join(b.render() for b in broken[:20])
        more = f"\n... and {len(broken) - 20} more" if len(broken) > 20 else ""
        raise CheckFailed(
            f"advisory database {root}: {len(broken)} malformed advisory file(s), so advisories cannot be "
            f"checked:\n{shown}{more}",
            "update or repair the database (`git -C DB pull`, or clone it again); a skipped advisory could "
            "hide a vulnerable crate",
        )
    if count == 0:
        raise CheckFailed(
            f"advisory database {root}: no advisories under {root / 'crates'}: advisories cannot be checked",
            "point --db at a full clone of https://github.com/rustsec/advisory-db (or run `pipeline audit "
            "--fetch-db`)",
        )
    return Database(root, {k: tuple(v) for k, v in by_package.items()}, count)


@dataclass(frozen=True)
class Finding:
    id: str
    package: str
    version: str
    kind: str  # vulnerability | unmaintained | unsound | notice
    severity: Literal["error", "warning"]
    title: str
    patched: tuple[str, ...]
    url: str | None = None
    aliases: tuple[str, ...] = field(default=())
    date: str | None = None

    def render(self) -> str:
        patched = ", ".join(self.patched) if self.patched else "none"
        return (f"{self.severity}: {self.id}  {self.package} {self.version}  [{self.kind}]  "
                f"patched: {patched}  {self.title}")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "package": self.package,
            "version": self.version,
            "kind": self.kind,
            "severity": self.severity,
            "title": self.title,
            "patched": list(self.patched),
            "url": self.url,
            "aliases": list(self.aliases),
            "date": self.date,
        }


@dataclass(frozen=True)
class MatchResult:
    findings: tuple[Finding, ...]
    ignored: tuple[str, ...]  # ids in `ignore` that did match and were dropped
    unused_ignores: tuple[str, ...]  # ids in `ignore` that matched nothing


def match_lockfile(
    packages: Sequence[LockedPackage],
    database: Database,
    *,
    informational: Literal["warn", "deny", "ignore"] = "warn",
    ignore: Iterable[str] = (),
) -> MatchResult:
    """Findings for every (crates.io) package version an advisory affects, sorted by id then package."""
    ignore_set = set(ignore)
    ignored: set[str] = set()
    findings = []
    for package in packages:
        advisories = database.for_package(package.name)
        if not advisories:
            continue
        try:
            version = Version.parse(package.version)
        except SemverError:
            continue
        for advisory in advisories:
            if advisory.withdrawn:
                continue
            if advisory.source is not None:
                if package.source != advisory.source:
                    continue
            elif not package.is_crates_io:
                continue
            if not advisory.affects(version):
                continue
            if advisory.id in ignore_set or any(a in ignore_set for a in advisory.aliases):
                ignored.add(advisory.id)
                ignored.update(a for a in advisory.aliases if a in ignore_set)
                continue
            if advisory.informational:
                if informational == "ignore":
                    continue
                severity: Literal["error", "warning"] = "error" if informational == "deny" else "warning"
            else:
                severity = "error"
            findings.append(
                Finding(
                    advisory.id, package.name, package.version, advisory.kind, severity, advisory.title,
                    tuple(str(r.text).strip() for r in advisory.patched), advisory.url, advisory.aliases,
                    advisory.date,
                )
            )
    findings.sort(key=lambda f: (f.id, f.package, f.version))
    return MatchResult(tuple(findings), tuple(sorted(ignored)), tuple(sorted(ignore_set - ignored)))


def database_age_days(root: Path, git_commit_time: float | None) -> tuple[float, float]:
    """(age in days, timestamp): the last commit's time when the db is a git checkout, else the newest file."""
    stamp = git_commit_time
    if stamp is None:
        stamp = max((_mtime(p) for p in advisory_files(root)), default=0.0)
    return (time.time() - stamp) / 86400.0, stamp


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime  # a dangling or looping link is reported when it is read
    except OSError:
        return 0.0
