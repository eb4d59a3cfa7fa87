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
_KNOWN_TYPES = frozenset(TYPE_SECTIONS) | OTHER_TYPES

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
    if match is not None and match.group("type").lower() not in _KNOWN_TYPES:
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

    def for_crates(self, names: Iterable[str], *, workspace_level: bool = True) -> Changes:
        """The entries touching ``names``, and (``workspace_level``) those touching no crate."""
        wanted = set(names)
        since = self.since
        by_crate = self.since_by_crate
        if by_crate is not None:
            tags = {by_crate.get(n) for n in wanted}
            since = next(iter(tags)) if len(tags) == 1 else None
            by_crate = {n: t for n, t in by_crate.items() if n in wanted}
        return Changes(since, tuple(e for e in self.entries
                                    if (workspace_level and not e.crates) or wanted & set(e.crates)), by_crate)

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


def changelog_files(root_file: str, crate_dirs: Mapping[str, str], exists: Callable[[str], bool],
                    member_dirs: Mapping[str, str] | None = None) -> dict[str, str]:
    """crate -> the changelog its section goes to (workspace-relative).

    Where crates keep their own ``CHANGELOG.md`` (clap's shape: any member of ``member_dirs``,
    default ``crate_dirs``, has one) each crate's section goes to its own file, and a crate
    without one to the root file when there is one (clap's root file covers clap_builder and
    clap_derive); a root file is never created then. Where the workspace keeps one root file
    (or no file at all yet), every crate's goes there.
    """
    name = posixpath.basename(root_file) or "CHANGELOG.md"

    def own_file(directory: str) -> str:
        return posixpath.join(directory, name) if directory not in ("", ".") else root_file

    judged = member_dirs if member_dirs is not None else crate_dirs
    if not any(d not in ("", ".") and exists(own_file(d)) for d in judged.values()):
        return {c: root_file for c in crate_dirs}
    root_exists = exists(root_file)
    result = {}
    for crate, directory in crate_dirs.items():
        path = own_file(directory)
        if directory in ("", ".") or exists(path):
            if path != root_file or root_exists or directory in ("", "."):
                result[crate] = path
        elif root_exists:
            result[crate] = root_file
    return result


def release_date() -> str:
    """Today (UTC), or the date of $SOURCE_DATE_EPOCH for reproducible output."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (
        _dt.datetime.fromtimestamp(int(epoch), _dt.UTC) if epoch and epoch.isdigit() else _dt.datetime.now(_dt.UTC)
    )
    return moment.date().isoformat()


def render_section(
    title: str, date: str, changes: Changes, extra: Mapping[str, list[str]] | None = None,
    layout: Layout | None = None,
) -> str:
    """``## [title] - date`` (or the heading form of ``layout``, the file's own) with one
    subsection per kind of change ("\\n" newlines)."""
    form = layout or Layout()
    lines = [form.release_heading(title, date), ""]
    merged: dict[str, list[str]] = {name: [] for name in SECTION_ORDER}
    for name, items in (extra or {}).items():
        merged.setdefault(name, []).extend(items)
    for name, entries in changes.sections().items():
        merged[name].extend(e.render() for e in entries)
    any_items = False
    sub = "#" * form.sublevel
    for name, items in merged.items():
        if not items:
            continue
        any_items = True
        lines += [f"{sub} {name}", "", *items, ""]
    if not any_items:
        lines += ["No changes recorded.", ""]
    lines += [*form.moved_links, *([""] if form.moved_links else [])]
    return "\n".join(lines)


# The heading forms real changelogs use. Unreleased: `## [Unreleased]`, `## Unreleased`, and
# cargo-release's placeholder `## [Unreleased] - ReleaseDate` (clap), which a release turns into
# the release heading while a fresh copy goes above it. Releases: `## [1.2.0] - 2024-01-02`,
# `## 1.2.0 - 2024-01-02`, `# 0.1.44 (December 18, 2025)` (tracing), `# 1.40.0 (Aug 30th, 2024)`.
_UNRELEASED = re.compile(
    r"^(?P<hashes>#{1,6})[ \t]*(?P<open>\[?)(?P<word>unreleased)(?P<close>\]?)(?P<rest>(?:[ \t]*[-–—:(].*)?)$",
    re.IGNORECASE,
)
_VERSION_HEADING = re.compile(
    r"^(?P<hashes>#{1,6})[ \t]+(?P<open>\[?)(?P<v>v?)"
    r"(?P<version>\d+\.\d+(?:\.\d+)?(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)(?P<close>\]?)"
    r"(?P<rest>(?:[ \t(:–—-].*)?)$"
)
_HEADING = re.compile(r"^(#{1,6})[ \t]")
_LINK = re.compile(r"^\[(?P<name>[^\]]+)\]:\s*\S+")
_MARKER = re.compile(r"^<!--.*-->$")
PLACEHOLDER_DATE = "ReleaseDate"  # cargo-release's {{date}} placeholder in a heading
_PENDING = re.compile(r"\bunreleased\b", re.IGNORECASE)  # `## [0.5.0] - Unreleased`
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WORD_DATE = re.compile(
    r"(?P<month>(?:" + "|".join(m[:3] for m in _MONTHS) + r")[a-z]*\.?) (?P<day>\d{1,2})(?P<ord>st|nd|rd|th)?,? "
    r"(?P<year>\d{4})")


def _ordinal(day: int) -> str:
    return "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _word_date(sample: re.Match[str], iso: str) -> str:
    """``iso`` written like ``sample`` (`December 18, 2025`, `Aug 30th, 2024`)."""
    year, month, day = (int(x) for x in iso.split("-"))
    name = _MONTHS[month - 1]
    written = sample.group("month")
    if len(written.rstrip(".")) == 3:
        name = name[:3] + ("." if written.endswith(".") else "")
    suffix = _ordinal(day) if sample.group("ord") else ""
    comma = "," if "," in sample.group(0) else ""
    return f"{name} {day}{suffix}{comma} {year}"


@dataclass(frozen=True)
class Layout:
    """How one changelog writes its headings (read off the file: :func:`layout`)."""

    level: int = 2  # hashes of a release heading
    sublevel: int = 3  # hashes of a `### Fixed` subsection
    brackets: bool = True  # `## [1.2.0]`
    v_prefix: str = ""  # `## v1.2.0`
    before_date: str = " - "
    after_date: str = ""
    date_sample: str = ""  # a word date to imitate ("December 18, 2025"); "" for ISO
    moved_links: tuple[str, ...] = ()  # link definitions written by hand under Unreleased

    def date_text(self, date: str) -> str:
        sample = _WORD_DATE.fullmatch(self.date_sample) if self.date_sample else None
        return _word_date(sample, date) if sample is not None and _ISO_DATE.fullmatch(date) else date

    def release_heading(self, title: str, date: str) -> str:
        written = self.date_text(date)
        version = f"{self.v_prefix}{title}" if title[:1].isdigit() else title
        name = f"[{version}]" if self.brackets else version
        return f"{'#' * self.level} {name}{self.before_date}{written}{self.after_date}"


def _date_parts(rest: str) -> tuple[str, str, str] | None:
    """(text before the date, the date, text after it) of a heading's tail, if it has a date."""
    for pattern in (_ISO_DATE, _WORD_DATE):
        match = pattern.search(rest)
        if match is not None:
            return rest[: match.start()], match.group(0), rest[match.end() :]
    return None


def layout(text: str) -> Layout:
    """The heading form of ``text``: the first dated release heading sets the level, brackets,
    `v` and date style; the first deeper heading after it the subsection level. A file without
    one follows its Unreleased heading (brackets or not), else Keep a Changelog."""
    lines = text.replace("\r\n", "\n").split("\n")
    unreleased = next((m for line in lines if (m := _UNRELEASED.match(line.strip()))), None)
    for index, line in enumerate(lines):
        match = _VERSION_HEADING.match(line.rstrip())
        parts = _date_parts(match.group("rest")) if match is not None else None
        if match is None or parts is None:
            continue
        level = len(match.group("hashes"))
        sublevel = level + 1
        for later in lines[index + 1 :]:  # the first subsection of any release (the newest may have none)
            heading = _HEADING.match(later)
            if heading is not None and len(heading.group(1)) > level:
                sublevel = len(heading.group(1))
                break
        before, date, after = parts
        return Layout(level, sublevel, bool(match.group("open")), match.group("v"), before,
                      after.rstrip(), "" if _ISO_DATE.fullmatch(date) else date)
    if unreleased is not None:
        level = len(unreleased.group("hashes"))
        return Layout(level, level + 1, bool(unreleased.group("open")))
    return Layout()


def existing_section(text: str, title: str) -> int | None:
    """The 1-based line of a release heading for ``title`` already in ``text`` (a second
    section for one version is never written)."""
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        match = _VERSION_HEADING.match(line.rstrip())
        if match is not None and match.group("version") == title.removeprefix("v"):
            if _PENDING.search(match.group("rest")):
                continue  # `## [0.5.0] - Unreleased`: written ahead, the release dates it
            return number
        if line.startswith("#") and line.lstrip("#").strip().strip("[]") == title:
            return number
    return None


def _manual_unreleased(body: list[str], sublevel: int) -> tuple[dict[str, list[str]], list[str]]:
    """Hand-written entries under Unreleased, by subsection heading (kept in the release), and the
    link definitions among them (they go at the end of the release section)."""
    sections: dict[str, list[str]] = {}
    links: list[str] = []
    current = OTHER
    prefix = "#" * sublevel + " "
    for line in body:
        if line.startswith(prefix):
            current = line[len(prefix) :].strip()
            continue
        if _LINK.match(line):
            links.append(line.rstrip())
        elif line.strip():
            sections.setdefault(current, []).append(line.rstrip())
    return sections, links


@dataclass(frozen=True)
class _Insertion:
    """Where the release section goes in a file's lines and what it replaces."""

    start: int  # first line replaced
    end: int  # first line kept after it
    keep: tuple[str, ...]  # lines written before the release section (the Unreleased heading)
    layout: Layout
    manual: Mapping[str, list[str]]
    has_unreleased: bool


def _insertion(lines: list[str], title: str | None = None) -> _Insertion:
    form = layout("\n".join(lines))
    pending = _pending(lines, title, form) if title is not None else None
    if pending is not None:
        return pending
    start = next((i for i, line in enumerate(lines) if _UNRELEASED.match(line.strip())), None)
    if start is not None:
        heading = lines[start].rstrip()
        match = _UNRELEASED.match(heading.strip())
        assert match is not None
        level = len(match.group("hashes"))
        end = next(
            (i for i in range(start + 1, len(lines))
             if ((h := _HEADING.match(lines[i])) and len(h.group(1)) <= level)
             or _MARKER.match(lines[i].strip()) or _is_release_link(lines[i])),
            len(lines),
        )
        manual, links = _manual_unreleased(lines[start + 1 : end], form.sublevel)
        if PLACEHOLDER_DATE in match.group("rest"):
            # cargo-release's placeholder: it becomes this release's heading (the form the
            # project wrote), and a fresh placeholder goes above it.
            word = match.group("word")
            form = _placeholder_layout(heading, word, form)
        form = Layout(form.level, form.sublevel, form.brackets, form.v_prefix, form.before_date, form.after_date,
                      form.date_sample, tuple(links))
        return _Insertion(start, end, (heading, ""), form, manual, True)
    marker = next((i for i, line in enumerate(lines) if line.strip() == "<!-- next-header -->"), None)
    first = next((i for i, line in enumerate(lines) if _VERSION_HEADING.match(line.rstrip())), None)
    if marker is not None:
        return _Insertion(marker + 1, marker + 1, ("## [Unreleased]", ""), form, {}, True)
    if first is not None:
        # Releases but no Unreleased heading (tracing): the project keeps none, none is invented.
        return _Insertion(first, first, (), form, {}, False)
    first = len(lines)
    while first > 0 and lines[first - 1] == "":
        first -= 1
    return _Insertion(first, first, ("", "## [Unreleased]", ""), form, {}, True)


def _pending(lines: list[str], title: str, form: Layout) -> _Insertion | None:
    """A section written ahead for this very version (`## [0.5.0] - Unreleased`): it becomes the
    release, dated, its hand-written entries kept in it."""
    for index, line in enumerate(lines):
        match = _VERSION_HEADING.match(line.rstrip())
        if match is None or match.group("version") != title.removeprefix("v"):
            continue
        word = _PENDING.search(match.group("rest"))
        if word is None:
            return None
        level = len(match.group("hashes"))
        end = next((i for i in range(index + 1, len(lines))
                    if ((h := _HEADING.match(lines[i])) and len(h.group(1)) <= level)
                    or _MARKER.match(lines[i].strip()) or _is_release_link(lines[i])), len(lines))
        manual, links = _manual_unreleased(lines[index + 1 : end], form.sublevel)
        rest = match.group("rest")
        before, after = rest[: word.start()], rest[word.end() :]
        heading_form = Layout(level, form.sublevel, bool(match.group("open")), match.group("v"), before,
                              after.rstrip(), form.date_sample, tuple(links))
        has_unreleased = any(_UNRELEASED.match(other.strip()) for other in lines)
        return _Insertion(index, end, (), heading_form, manual, has_unreleased)
    return None


def _placeholder_layout(heading: str, word: str, form: Layout) -> Layout:
    index = heading.lower().index(word.lower())
    before, after = heading[:index], heading[index + len(word) :]
    hashes = before.strip().rstrip("[").strip()
    brackets = before.rstrip().endswith("[")
    after = after.removeprefix("]") if brackets else after
    date_at = after.index(PLACEHOLDER_DATE)
    return Layout(len(hashes), form.sublevel, brackets, "", after[:date_at],
                  after[date_at + len(PLACEHOLDER_DATE) :].rstrip(), "")


def _is_release_link(line: str) -> bool:
    match = _LINK.match(line)
    if match is None:
        return False
    name = match.group("name").lower()
    return name == "unreleased" or bool(re.fullmatch(r"v?\d+\.\d+.*", name))


def section_as_written(text: str, title: str, date: str, changes: Changes) -> str:
    """The release section :func:`insert_release` would write into ``text`` (for the plan)."""
    lines = (text or HEADER).replace("\r\n", "\n").split("\n")
    spot = _insertion(lines, title)
    return render_section(title, date, changes, spot.manual, spot.layout)


def insert_release(
    text: str,
    title: str,
    date: str,
    changes: Changes,
    links: Mapping[str, str] | None = None,
) -> str:
    """``text`` (a changelog, or "") with the new release section where the project puts it, in
    the project's heading form: under ``## [Unreleased]`` (entries written by hand there move into
    the release); in place of cargo-release's ``## [Unreleased] - ReleaseDate`` with a fresh
    placeholder above; on top of the newest release when the file keeps no Unreleased heading.
    ``links``: reference links to set (``Unreleased`` only where the file has an Unreleased
    heading or link). Line endings kept."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = (text or HEADER).replace("\r\n", "\n").split("\n")
    spot = _insertion(lines, title)
    section = render_section(title, date, changes, spot.manual, spot.layout).split("\n")
    if spot.end < len(lines) and section[-1] != "":
        section.append("")
    lines[spot.start : spot.end] = [*spot.keep, *section]
    if links:
        wanted = dict(links)
        if not spot.has_unreleased and not any(_LINK.match(line) and line.lower().startswith("[unreleased]")
                                               for line in lines):
            wanted = {k: v for k, v in wanted.items() if k.lower() != "unreleased"}
        lines = _set_links(lines, wanted)
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
