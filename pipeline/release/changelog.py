"""Changelog from conventional commits, in Keep a Changelog style.

Pure parts: parsing commit messages, attributing commits to crates by the paths
they touch, grouping them into sections, rendering a release section and
inserting it into an existing CHANGELOG.md without touching the rest.
"""

from __future__ import annotations

import datetime as _dt
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from pipeline.foundation.git import CommitInfo


class HistoryLike(Protocol):
    @property
    def sha(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def crates(self) -> tuple[str, ...]: ...


_CONVENTIONAL = re.compile(r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()]*)\))?(?P<bang>!)?:\s+(?P<desc>\S.*)$")
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:\s*(?P<text>.*)$", re.MULTILINE)

BREAKING = "Breaking changes"
OTHER = "Other"
SECTION_ORDER = (BREAKING, "Added", "Changed", "Deprecated", "Removed", "Fixed", "Security", OTHER)
TYPE_SECTIONS = {
    "feat": "Added",
    "add": "Added",
    "fix": "Fixed",
    "perf": "Changed",
    "refactor": "Changed",
    "change": "Changed",
    "deprecate": "Deprecated",
    "remove": "Removed",
    "revert": "Removed",
    "security": "Security",
    "sec": "Security",
}

# Conventional types that carry no user-facing section: listed under "Other" without the prefix.
# Any other `word: text` subject (`release: ...`, `WIP: ...`) is not read as a type at all.
OTHER_TYPES = frozenset({"docs", "doc", "chore", "ci", "build", "test", "tests", "style"})

HEADER = (
    "# Changelog\n\nAll notable changes to this project are documented in this file.\n\n"
    "The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),\n"
    "and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).\n\n"
    "## [Unreleased]\n"
)


@dataclass(frozen=True)
class Entry:
    section: str
    summary: str
    crates: tuple[str, ...]
    commit: str
    breaking: bool
    type: str | None  # None: not a conventional commit
    scope: str | None

    @property
    def feature(self) -> bool:
        return self.type in ("feat", "add")

    def render(self) -> str:
        # A commit touching many crates (a sweeping refactor) reads better without the list.
        prefix = ", ".join(f"`{c}`" for c in self.crates) if len(self.crates) <= 3 else ""
        text = f"{prefix}: {self.summary}" if prefix else self.summary
        if self.breaking:
            text = f"**BREAKING:** {text}"
        return f"- {text} ({self.commit[:7]})"


def parse_commit(commit: CommitInfo, crates: tuple[str, ...]) -> Entry:
    match = _CONVENTIONAL.match(commit.subject)
    if match is not None and match.group("type").lower() not in TYPE_SECTIONS.keys() | OTHER_TYPES:
        match = None
    if match is None:
        return Entry(OTHER, commit.subject, crates, commit.sha, False, None, None)
    kind = match.group("type").lower()
    footer = _BREAKING_FOOTER.search(commit.body)
    breaking = bool(match.group("bang")) or footer is not None
    summary = match.group("desc").strip()
    if footer is not None and footer.group("text").strip() and not match.group("bang"):
        summary += f" ({footer.group('text').strip()})"
    section = BREAKING if breaking else TYPE_SECTIONS.get(kind, OTHER)
    return Entry(section, summary, crates, commit.sha, breaking, kind, match.group("scope"))


def attribute(files: Iterable[str], crate_dirs: Mapping[str, str]) -> tuple[str, ...]:
    """Crates owning ``files`` (workspace-relative posix paths); the deepest directory wins."""
    from pipeline.release.unreleased import Attributor

    return Attributor(crate_dirs).crates(files)


@dataclass(frozen=True)
class Changes:
    since: str | None  # the tag the range starts at (None: several, see since_by_crate, or none)
    entries: tuple[Entry, ...]
    # Independent versions: each crate's own last tag (None: never tagged).
    since_by_crate: Mapping[str, str | None] | None = None

    @property
    def breaking(self) -> bool:
        return any(e.breaking for e in self.entries)

    @property
    def feature(self) -> bool:
        return any(e.feature for e in self.entries)

    def sections(self) -> dict[str, list[Entry]]:
        grouped: dict[str, list[Entry]] = {name: [] for name in SECTION_ORDER}
        for entry in self.entries:
            grouped[entry.section].append(entry)
        return {name: entries for name, entries in grouped.items() if entries}

    def for_crates(self, names: Iterable[str]) -> Changes:
        wanted = set(names)
        since = self.since
        by_crate = self.since_by_crate
        if by_crate is not None:
            tags = {by_crate.get(n) for n in wanted}
            since = next(iter(tags)) if len(tags) == 1 else None
            by_crate = {n: t for n, t in by_crate.items() if n in wanted}
        return Changes(since, tuple(e for e in self.entries if not e.crates or wanted & set(e.crates)), by_crate)

    def to_json(self) -> dict[str, object]:
        return {
            "since": self.since,
            "since_by_crate": dict(self.since_by_crate) if self.since_by_crate is not None else None,
            "sections": {
                name: [
                    {
                        "summary": e.summary,
                        "crates": list(e.crates),
                        "commit": e.commit,
                        "breaking": e.breaking,
                        "type": e.type,
                        "scope": e.scope,
                    }
                    for e in entries
                ]
                for name, entries in self.sections().items()
            },
        }


def collect(
    commits: Sequence[CommitInfo], crate_dirs: Mapping[str, str], since: str | None, skip_prefix: str = ""
) -> Changes:
    """Entries for ``commits`` (oldest first in the result); release commits are skipped."""
    from pipeline.release.unreleased import Attributor

    # One attributor for the whole range: its per-directory memo is what makes long histories cheap.
    crates_of = Attributor(crate_dirs).crates
    entries = []
    for commit in reversed(commits):
        if skip_prefix and commit.subject.startswith(skip_prefix):
            continue
        entries.append(parse_commit(commit, crates_of(commit.files)))
    return Changes(since, tuple(entries))


def from_history(commits: Sequence[HistoryLike], since: str | None) -> Changes:
    """Entries for commits already attributed (:class:`pipeline.release.unreleased.HistoryCommit`),
    oldest first in the result."""
    return Changes(since, tuple(parse_commit(c, c.crates) for c in reversed(commits)))  # type: ignore[arg-type]


def changelog_files(root_file: str, crate_dirs: Mapping[str, str], exists: Callable[[str], bool]) -> dict[str, str]:
    """crate -> the changelog its section goes to (workspace-relative).

    Where crates keep their own ``CHANGELOG.md`` (clap's shape) each crate's section goes
    to its own file and no root file is created; a crate without one then writes none. Where
    the workspace keeps one root file (or no file at all yet), every crate's goes there.
    """
    name = posixpath.basename(root_file) or "CHANGELOG.md"
    own = {c: posixpath.join(d, name) if d not in ("", ".") else root_file for c, d in crate_dirs.items()}
    per_crate = {c: path for c, path in own.items() if crate_dirs[c] not in ("", ".") and exists(path)}
    if per_crate:
        # The root package (if any) keeps the root file.
        return {c: path for c, path in own.items() if c in per_crate or crate_dirs[c] in ("", ".")}
    return {c: root_file for c in crate_dirs}


def release_date() -> str:
    """Today (UTC), or the date of $SOURCE_DATE_EPOCH for reproducible output."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (
        _dt.datetime.fromtimestamp(int(epoch), _dt.UTC) if epoch and epoch.isdigit() else _dt.datetime.now(_dt.UTC)
    )
    return moment.date().isoformat()


def render_section(title: str, date: str, changes: Changes, extra: Mapping[str, list[str]] | None = None) -> str:
    """``## [title] - date`` with one ``###`` subsection per kind of change ("\\n" newlines)."""
    lines = [f"## [{title}] - {date}", ""]
    merged: dict[str, list[str]] = {name: [] for name in SECTION_ORDER}
    for name, items in (extra or {}).items():
        merged.setdefault(name, []).extend(items)
    for name, entries in changes.sections().items():
        merged[name].extend(e.render() for e in entries)
    any_items = False
    for name, items in merged.items():
        if not items:
            continue
        any_items = True
        lines += [f"### {name}", "", *items, ""]
    if not any_items:
        lines += ["No changes recorded.", ""]
    return "\n".join(lines)


_UNRELEASED = re.compile(r"^##\s*\[?unreleased\]?\s*$", re.IGNORECASE)
_RELEASE_HEADING = re.compile(r"^##\s")
_LINK = re.compile(r"^\[(?P<name>[^\]]+)\]:\s*\S+")


def _manual_unreleased(body: list[str]) -> dict[str, list[str]]:
    """Hand-written entries under ``## [Unreleased]``, by ``###`` heading (kept in the release)."""
    sections: dict[str, list[str]] = {}
    current = OTHER
    for line in body:
        if line.startswith("### "):
            current = line[4:].strip()
            continue
        if line.strip():
            sections.setdefault(current, []).append(line.rstrip())
    return sections


def insert_release(
    text: str,
    title: str,
    date: str,
    changes: Changes,
    links: Mapping[str, str] | None = None,
) -> str:
    """``text`` (a Keep a Changelog file, or "") with the new release section under
    ``## [Unreleased]``; entries written by hand under Unreleased move into the release.
    ``links``: reference links to set (``Unreleased`` and the new title). Line endings kept."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = (text or HEADER).replace("\r\n", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if _UNRELEASED.match(line.strip())), None)
    if start is None:
        first = next((i for i, line in enumerate(lines) if _RELEASE_HEADING.match(line)), None)
        if first is None:
            first = len(lines)
            while first > 0 and lines[first - 1] == "":
                first -= 1
            lines[first:first] = [""]
            first += 1
        lines[first:first] = ["## [Unreleased]", ""]
        start = first
    end = next(
        (i for i in range(start + 1, len(lines)) if _RELEASE_HEADING.match(lines[i]) or _LINK.match(lines[i])),
        len(lines),
    )
    manual = _manual_unreleased(lines[start + 1 : end])
    section = render_section(title, date, changes, manual).split("\n")
    lines[start + 1 : end] = ["", *section]
    if links:
        lines = _set_links(lines, links)
    result = "\n".join(lines)
    if not result.endswith("\n"):
        result += "\n"
    return result.replace("\n", newline)


def _set_links(lines: list[str], links: Mapping[str, str]) -> list[str]:
    existing = {m.group("name").lower(): i for i, line in enumerate(lines) if (m := _LINK.match(line))}
    new_lines = list(lines)
    pending = []
    for name, url in links.items():
        index = existing.get(name.lower())
        if index is not None:
            new_lines[index] = f"[{name}]: {url}"
        else:
            pending.append(f"[{name}]: {url}")
    if pending:
        after = existing.get("unreleased")
        if after is not None:
            new_lines[after + 1 : after + 1] = [p for p in pending if not p.lower().startswith("[unreleased]")]
        else:
            while new_lines and new_lines[-1] == "":
                new_lines.pop()
            new_lines += ["", *pending]
    return new_lines
