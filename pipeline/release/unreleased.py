"""Unreleased history of every crate, read in one pass: the core of `changelog`, `auto`, `--changed`.

Each crate's unreleased commits run from its own last tag (independent versions),
yet git is asked once, not once per crate: one ``git log --name-only`` over the
union of the ranges, and, when the crates' tags differ, one ``git rev-list
--parents`` over the same commits to know which tags reach which commit (a
bitmask per commit). Attribution of a file to its crate is a dictionary lookup
on the file's directory, memoised per directory, so 20,000 commits over 50 crates
cost one lookup per distinct directory rather than one path comparison per file
and crate.

The parsing and the reachability arithmetic are pure functions of git's output;
:func:`read_history` is the thin edge that runs git.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.foundation import git, proc
from pipeline.release import tagscheme
from pipeline.workspace.cargo_semver import Version

if TYPE_CHECKING:
    from pipeline.release import changelog as cl
    from pipeline.release.settings import ReleaseSettings
    from pipeline.workspace.model import Workspace

# NUL separates the fields, and a record is the four fields after its leading NUL: a commit
# message cannot hold a NUL (git stops at one), so no byte of a subject or body can start a
# record or a field. (\x1e/\x1f separators let a commit body inject fake commits.)
RECORD = "\x00"
FIELD = "\x00"
LOG_FORMAT = "%x00%H%x00%s%x00%b%x00"
_FIELDS = 4  # sha, subject, body, names


class Attributor:
    """File path (workspace-relative, posix) -> the crate whose directory is the deepest holding it.

    ``crate_dirs``: crate -> its directory relative to the workspace root ("" for a root package).
    """

    def __init__(self, crate_dirs: Mapping[str, str]) -> None:
        self._owner: dict[str, str | None] = {}
        root = None
        for crate, directory in crate_dirs.items():
            directory = directory.strip("/")
            if directory in ("", "."):
                root = crate
            else:
                self._owner[directory] = crate
        self._root = root
        self._owner[""] = root

    def owner_of_dir(self, directory: str) -> str | None:
        owner = self._owner
        if directory in owner:
            return owner[directory]
        # Walk up to the nearest known directory, then remember the answer for every level.
        chain = [directory]
        parent = directory.rpartition("/")[0]
        while parent not in owner:
            chain.append(parent)
            parent = parent.rpartition("/")[0]
        found = owner[parent]
        for item in chain:
            owner[item] = found
        return found

    def owner(self, path: str) -> str | None:
        return self.owner_of_dir(path.rpartition("/")[0])

    def crates(self, files: Iterable[str]) -> tuple[str, ...]:
        owner, lookup = self._owner, self.owner_of_dir
        found = {owner[d] if d in owner else lookup(d) for d in (name.rpartition("/")[0] for name in files)}
        found.discard(None)
        if len(found) == 1:
            return (found.pop(),)  # type: ignore[return-value]
        return tuple(sorted(found))  # type: ignore[arg-type]


@dataclass(frozen=True)
class HistoryCommit:
    sha: str
    subject: str
    body: str
    files: tuple[str, ...]  # relative to the workspace root, posix
    crates: tuple[str, ...]  # the crates owning those files

    @property
    def short(self) -> str:
        return self.sha[:7]


def parse_log(text: str, prefix: str, attributor: Attributor, skip_prefix: str = "") -> list[HistoryCommit]:
    """Records of ``git log --format=LOG_FORMAT --name-only`` (newest first).

    ``prefix``: the workspace root relative to the repository top ("" or "dir/"): file names
    outside it are dropped. Subjects starting with ``skip_prefix`` (release commits) are left out.
    """
    return list(parse_records(stream_records([text]), prefix, attributor, skip_prefix))


def parse_records(
    records: Iterable[str], prefix: str, attributor: Attributor, skip_prefix: str = ""
) -> Iterator[HistoryCommit]:
    cut = len(prefix)
    crates_of = attributor.crates
    for record in records:
        sha, subject, body, names = [*record.split(FIELD, 3), "", "", ""][:4]
        subject = subject.strip()
        if skip_prefix and subject.startswith(skip_prefix):
            continue
        if prefix:
            files = tuple(f[cut:] for f in names.split("\n") if f.startswith(prefix))
        else:
            files = tuple(f for f in names.split("\n") if f)
        yield HistoryCommit(sha.strip(), subject, body.strip(), files, crates_of(files))


def stream_records(chunks: Iterable[str]) -> Iterator[str]:
    """Whole records (``sha NUL subject NUL body NUL names``) out of ``git log`` output arriving in pieces.

    Positional: the output is ``NUL sha NUL subject NUL body NUL names`` per commit, so after
    the leading NUL every four NUL-separated tokens are one commit, whatever they contain.
    """
    tokens: list[str] = []
    partial: str | None = None  # the token still being read (None before the leading NUL)
    for chunk in chunks:
        parts = chunk.split("\x00")
        if partial is None:
            parts = parts[1:]  # anything before the first NUL is no record
            if not parts:
                continue
            partial = ""
        partial += parts[0]
        if len(parts) > 1:
            tokens.append(partial)
            tokens.extend(parts[1:-1])
            partial = parts[-1]
        while len(tokens) >= _FIELDS:
            yield "\x00".join(tokens[:_FIELDS])
            del tokens[:_FIELDS]
    if partial is not None:
        tokens.append(partial)
        if len(tokens) == _FIELDS:
            yield "\x00".join(tokens)


def reach_masks(revlist: str, tips: Mapping[str, int]) -> dict[str, int]:
    """``git rev-list --topo-order --parents`` output -> commit -> bitmask of the tips reaching it.

    ``tips``: commit -> its bit (a tag's commit). Children come before parents in topological
    order, so one pass pushes each commit's mask down to its parents. Commits outside the
    listed range are reached by every tip that matters (the range starts at their merge base).
    """
    masks: dict[str, int] = dict(tips)
    for line in revlist.split("\n"):
        if not line:
            continue
        commit, *parents = line.split(" ")
        mask = masks.get(commit, 0)
        if mask:
            for parent in parents:
                masks[parent] = masks.get(parent, 0) | mask
    return masks


@dataclass(frozen=True)
class History:
    """Unreleased commits (newest first, merges left out) and each crate's own range."""

    commits: tuple[HistoryCommit, ...]
    since: Mapping[str, str | None]  # crate -> the tag its range starts at (None: whole history)
    masks: Mapping[str, int] = field(default_factory=dict)  # commit -> tips reaching it (empty: one range)
    bits: Mapping[str, int] = field(default_factory=dict)  # crate -> its tag's bit

    def unreleased_for(self, crate: str, commit: HistoryCommit) -> bool:
        """Is ``commit`` after ``crate``'s own tag?"""
        bit = self.bits.get(crate)
        return bit is None or not self.masks.get(commit.sha, 0) & bit

    def for_crate(self, crate: str) -> list[HistoryCommit]:
        """The commits touching ``crate`` since its own tag."""
        return [c for c in self.commits if crate in c.crates and self.unreleased_for(crate, c)]

    def for_crates(self, crates: Iterable[str], *, unattributed: bool = True,
                   unattributed_for: Sequence[str] | None = None) -> list[HistoryCommit]:
        """Commits unreleased for any of ``crates`` and touching one of them; with ``unattributed``
        also those touching no crate (a workspace file) that are unreleased for one of
        ``unattributed_for`` (default: ``crates``; the release passes the shared line's crates, so
        a crate never tagged does not pull every workspace-level commit of the history in).
        Each commit's ``crates`` keeps only the crates it is unreleased for."""
        wanted = tuple(dict.fromkeys(crates))
        judges = tuple(unattributed_for) if unattributed_for else wanted
        wanted_set = set(wanted)
        result = []
        for commit in self.commits:
            if commit.crates:
                own = tuple(c for c in commit.crates if c in wanted_set and self.unreleased_for(c, commit))
                if own:
                    result.append(commit if own == commit.crates else _with_crates(commit, own))
            elif unattributed and any(self.unreleased_for(c, commit) for c in judges):
                result.append(commit)
        return result

    def changed(self, crates: Sequence[str]) -> tuple[str, ...]:
        """Of ``crates``, those with a commit of their own since their own tag (or never tagged)."""
        found = set()
        for commit in self.commits:
            for crate in commit.crates:
                if crate not in found and self.unreleased_for(crate, commit):
                    found.add(crate)
        return tuple(c for c in crates if c in found or self.since.get(c, "") is None)


def _with_crates(commit: HistoryCommit, crates: tuple[str, ...]) -> HistoryCommit:
    return HistoryCommit(commit.sha, commit.subject, commit.body, commit.files, crates)


# ---------------------------------------------------------------------------
# Edge: git


_HINT = "the history of the release could not be read; check the repository with `git log`"


def _git(top: Path, *args: str, check: bool = True) -> proc.Result:
    return git.run_git(top, *args, check=check, hint=_HINT)


def tag_commits(top: Path) -> list[tuple[str, str]]:
    """(tag, commit it points to) for every tag reachable from HEAD, newest first."""
    # Newest first; tags made in the same second (a scripted release) by version, highest first.
    out = _git(top, "for-each-ref", "--merged", "HEAD", "--sort=-version:refname", "--sort=-creatordate",
               "--format=%(refname:short)%00%(objectname)%00%(*objectname)", "refs/tags").stdout
    result = []
    for line in out.splitlines():
        name, obj, peeled = [*line.split("\0"), "", ""][:3]
        if name:
            result.append((name, peeled or obj))
    return result


def read_history(
    top: Path,
    prefix: str,
    crate_dirs: Mapping[str, str],
    since: Mapping[str, str | None],
    *,
    tag_shas: Mapping[str, str] | None = None,
    skip_prefix: str = "",
) -> History:
    """Each crate's commits since its own tag (``since``: crate -> tag or None), in one log.

    ``top``: the repository's top directory; ``prefix``: the workspace root under it ("" or
    "dir/"); ``tag_shas``: tag -> commit (from :func:`tag_commits`, to save asking again).
    """
    attributor = Attributor(crate_dirs)
    shas = dict(tag_shas or {})
    wanted = sorted({t for t in since.values() if t is not None})
    for tag in wanted:
        if tag not in shas:
            shas[tag] = _git(top, "rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}").stdout.strip()
    whole = any(t is None for t in since.values()) or not since
    commits_of = {shas[t] for t in wanted}
    if whole:
        start: list[str] = []
    elif len(commits_of) == 1:
        start = [f"^{next(iter(commits_of))}"]
    else:
        base = _git(top, "merge-base", "--octopus", *sorted(commits_of), check=False)
        start = [f"^{b}" for b in base.stdout.split()] if base.returncode == 0 else []
    bits: dict[str, int] = {}
    revlist: dict[str, str] = {}
    worker = None
    if len(commits_of) > 1 or (whole and commits_of):
        # Independent versions: which tags reach which commit decides each crate's range. The
        # rev-list (no diffs, quick) runs beside the log, which is parsed as it arrives.
        bit_of = {sha: 1 << i for i, sha in enumerate(sorted(commits_of))}
        bits = {c: bit_of[shas[t]] for c, t in since.items() if t is not None}

        def graph() -> None:
            revlist["out"] = _git(top, "rev-list", "--topo-order", "--parents", "HEAD", *start).stdout

        worker = threading.Thread(target=graph, daemon=True)
        worker.start()
    specs = ["--", prefix] if prefix else []
    chunks = git.stream_git(top, "log", "--no-merges", f"--format={LOG_FORMAT}", "--name-only", "--no-renames",
                            "HEAD", *start, *specs, hint=_HINT)
    commits = tuple(parse_records(stream_records(chunks), prefix, attributor, skip_prefix))
    masks: dict[str, int] = {}
    if worker is not None:
        worker.join()
        if "out" not in revlist:
            _git(top, "rev-list", "--topo-order", "--parents", "HEAD", *start)  # raises the thread's error
        masks = reach_masks(revlist["out"], bit_of)
    return History(commits, dict(since), masks, bits)


# ---------------------------------------------------------------------------
# The release's view: scheme, each crate's last tag, its unreleased commits


DEFAULT_SHARED = "v{version}"
DEFAULT_CRATE = "{crate}-v{version}"


@dataclass(frozen=True)
class ReleaseHistory:
    """What the release reads from git, once: the tag scheme, each crate's last tag, the commits."""

    scheme: tagscheme.Scheme
    last: tagscheme.LastTags
    history: History
    lines: tuple[str, ...] = ()  # to print on stderr: the inferred scheme, crates without a tag
    untagged_crates: tuple[str, ...] = ()
    crates: tuple[str, ...] = ()  # the crates a release lists (publish = false ones per `unpublished`)

    def since(self, crates: Iterable[str]) -> str | None:
        """The tag ``crates`` start from: the one they all share, else the shared version's
        (the others run from their own tags: ``since_by_crate``), else None."""
        wanted = list(crates)
        tags = {self.last.tags.get(c) for c in wanted}
        if len(tags) == 1:
            return next(iter(tags))
        shared = [self.last.tags.get(c) for c in self.scheme.shared_crates if c in wanted]
        return shared[0] if shared else None

    def changes(self, crates: Iterable[str]) -> cl.Changes:
        from pipeline.release import changelog as cl

        wanted = tuple(c for c in crates if c in self.last.tags)
        # Workspace-level files (no crate's) belong to the shared line / primary crates' range.
        tagged = [c for c in wanted if self.last.tags.get(c) is not None]
        judges = [c for c in self.scheme.shared_crates if c in wanted] or tagged or list(wanted)
        commits = self.history.for_crates(wanted, unattributed_for=judges)
        changes = cl.from_history(commits, self.since(wanted))
        return cl.Changes(changes.since, changes.entries,
                          {c: self.last.tags.get(c) for c in wanted})

    def changed(self, crates: Sequence[str]) -> tuple[str, ...]:
        return self.history.changed([c for c in crates if c in self.last.tags])


def release_scheme(
    ws: Workspace, settings: ReleaseSettings, tags: Sequence[str], versions: Mapping[str, Version]
) -> tagscheme.Scheme:
    """The configured templates, or (both left at their defaults) the scheme the tags follow."""
    inheriting = [p.name for p in ws.members if p.version_inherited and ws.version is not None
                  and p.name in versions]
    primary = [settings.primary_crate] if settings.primary_crate else []
    configured = not (settings.shared_tag == DEFAULT_SHARED and settings.crate_tag == DEFAULT_CRATE)
    if configured:
        scheme = tagscheme.infer(tags, versions, inheriting=inheriting, primary=primary, prefix=settings.tag_prefix,
                                 shared=settings.shared_tag, crate=settings.crate_tag)
        return tagscheme.Scheme(scheme.shared, scheme.crate, scheme.prefix, scheme.shared_crates, inferred=False)
    scheme = tagscheme.infer(tags, versions, inheriting=inheriting, primary=primary, prefix=settings.tag_prefix)
    # Templates no tag uses yet fall back to the defaults (a first release, a first crate tag).
    return tagscheme.Scheme(scheme.shared or DEFAULT_SHARED, scheme.crate or DEFAULT_CRATE, scheme.prefix,
                            scheme.shared_crates or tuple(inheriting + primary), scheme.inferred and bool(
                                scheme.summary), scheme.summary)


def _without_release_locks(history: History, tagged: Sequence[tuple[str, str]], names: Sequence[str],
                            versions: Mapping[str, Version], scheme: tagscheme.Scheme,
                            dirs: Mapping[str, str]) -> History:
    """The commit a release tag points at is that release's commit (cargo-release's `chore: Release`
    moves a crate's version, its changelog and the workspace's Cargo.lock). The lock it moves is
    no change of the crate owning the lock's directory (clap's root package, which otherwise
    "changed" with every release of any other crate): there it attributes the commit to nobody."""
    releases = set()
    for template in (scheme.shared, scheme.crate):
        if template is not None:
            releases.update(t.tag for t in tagscheme.parse_tags(names, template, versions, scheme.prefix))
    release_commits = {sha for tag, sha in tagged if tag in releases}
    if not any(c.sha in release_commits for c in history.commits):
        return history
    attributor = Attributor(dirs)
    kept = []
    for commit in history.commits:
        if commit.sha in release_commits:
            files = tuple(f for f in commit.files if f.rsplit("/", 1)[-1] != "Cargo.lock")
            if not files:
                continue  # it moved the lock alone: nothing of anyone's changed
            if len(files) != len(commit.files):
                commit = _with_crates(commit, attributor.crates(files))
        kept.append(commit)
    return dataclasses.replace(history, commits=tuple(kept))


def read_release_history(top: Path, ws: Workspace, settings: ReleaseSettings) -> ReleaseHistory:
    """Tags, scheme and every member's unreleased commits: four git commands in all."""
    tagged = tag_commits(top)
    names = [t for t, _sha in tagged]
    # publish = false crates are neither tagged nor listed unless configured (`unpublished`).
    released = [p for p in ws.members if p.publish or settings.unpublished != "skip"]
    versions = {}
    for package in released:
        try:
            versions[package.name] = Version.parse(
                ws.version if package.version_inherited and ws.version else package.version)
        except ValueError:
            continue  # not a semantic version: the plan reports it, naming the manifest
    scheme = release_scheme(ws, settings, names, versions)
    last = tagscheme.last_tags(names, versions, scheme)
    lines: list[str] = []
    if scheme.summary:
        lines.append(scheme.summary)
    untagged = last.untagged()
    if untagged and names:
        # Never a silent "whole history" while tags exist: say which crates have none, and what looks close.
        for crate in untagged:
            near = ", ".join(last.nearest.get(crate, ())) or "none"
            lines.append(f"release: warning: no release tag of `{crate}` ({versions[crate]}) among {len(names)} "
                         f"tags: its whole history counts as unreleased; nearest tags: {near} "
                         "(set `shared-tag` / `crate-tag` / `primary-crate` if the scheme is not recognised)")
    rel = os.path.relpath(ws.root, top)
    prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
    dirs = {}
    for package in ws.members:  # every member's directory: a file belongs to its deepest crate
        d = os.path.relpath(package.directory, ws.root).replace(os.sep, "/")
        dirs[package.name] = "" if d == "." else d
    skip = settings.commit_message.split("{", 1)[0]
    since = {name: tag for name, tag in last.tags.items()}
    history = read_history(top, prefix, dirs, since, tag_shas=dict(tagged), skip_prefix=skip)
    history = _without_release_locks(history, tagged, names, versions, scheme, dirs)
    return ReleaseHistory(scheme, last, history, tuple(lines), untagged, tuple(versions))
