"""Unreleased history of every crate, read in one pass: the core of `changelog`, `auto`, `--changed`.

Each crate's unreleased commits run from its own last tag (independent versions),
yet git is asked once, not once per crate: one ``git log --name-only`` over the
union of the ranges that also carries each commit's parents (with the workspace in a
subdirectory, a ``git rev-list --parents`` beside it) to know which tags reach which
commit (a bitmask per commit). Where there is more than one core, a long log is cut at
a tag's commit and its two halves are read by two git processes at once
(:func:`_split_log`); a crate never tagged beside tagged ones has its own directories
read below the tags' merge base instead of every tree of the history
(:func:`_whole_in_parts`). Attribution of a file to its crate is a dictionary lookup
on the file's directory, memoised per directory, so 20,000 commits over 50 crates
cost one lookup per distinct directory rather than one path comparison per file
and crate.

The parsing and the reachability arithmetic are pure functions of git's output;
:func:`read_history` and :func:`read_release_history` are the thin edges that run git.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import heapq
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.foundation import git, memory, proc
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
# The same with each commit's parents after its sha: the log then carries the graph itself.
GRAPH_FORMAT = "%x00%H %P%x00%s%x00%b%x00"
# With the committer date first: the two halves of a split log are merged back in date order.
DATED_GRAPH_FORMAT = "%x00%ct %H %P%x00%s%x00%b%x00"
_FIELDS = 4  # sha (and parents), subject, body, names


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
        if not isinstance(files, (tuple, list)):
            files = tuple(files)
        if len(files) == 1:  # most commits touch one file: no set, no sort
            directory = files[0].rpartition("/")[0]
            found = owner[directory] if directory in owner else lookup(directory)
            return () if found is None else (found,)
        crates = {owner[d] if d in owner else lookup(d) for d in (name.rpartition("/")[0] for name in files)}
        crates.discard(None)
        if len(crates) == 1:
            return (crates.pop(),)  # type: ignore[return-value]
        return tuple(sorted(crates))  # type: ignore[arg-type]


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
    records: Iterable[Sequence[str]],
    prefix: str,
    attributor: Attributor,
    skip_prefix: str = "",
    edges: list[tuple[str, str]] | None = None,
    dates: list[int] | None = None,
) -> Iterator[HistoryCommit]:
    """Commits out of ``(head, subject, body, names)`` records (:func:`stream_records`).

    ``head`` is the sha, or with GRAPH_FORMAT the sha and its parents: then every record
    (merges too) is appended to ``edges`` as ``(sha, "parent parent...")`` for
    :func:`reach_masks_of`, and merges are left out of the commits, as ``--no-merges`` would.
    With ``dates`` (DATED_GRAPH_FORMAT: the committer date leads the head) each yielded
    commit's date is appended to it.
    """
    cut = len(prefix)
    crates_of = attributor.crates
    for head, subject, body, names in records:
        if dates is not None:
            when, _, head = head.strip().partition(" ")
        sha, _, parents = head.strip().partition(" ")
        if edges is not None:
            edges.append((sha, parents))
            if " " in parents:
                continue  # a merge: the commits it brings in are listed themselves
        subject = subject.strip()
        if skip_prefix and subject.startswith(skip_prefix):
            continue
        if prefix:
            files = tuple([f[cut:] for f in names.split("\n") if f.startswith(prefix)])
        else:
            files = tuple([f for f in names.split("\n") if f])
        if dates is not None:
            dates.append(int(when))
        yield HistoryCommit(sha, subject, body.strip(), files, crates_of(files) if files else ())


def stream_records(chunks: Iterable[str]) -> Iterator[tuple[str, str, str, str]]:
    """Whole records ``(sha, subject, body, names)`` out of ``git log`` output arriving in pieces.

    Positional: the output is ``NUL sha NUL subject NUL body NUL names`` per commit, so after
    the leading NUL every four NUL-separated tokens are one commit, whatever they contain.
    Each piece is split once and its records sliced out of the token list: the per-commit
    cost is a few list operations, so the parse keeps up with git on long histories.
    """
    pending: list[str] = []  # whole tokens not yet making up a record (fewer than four)
    partial: str | None = None  # the token still being read (None before the leading NUL)
    for chunk in chunks:
        parts = chunk.split("\x00")
        if partial is None:
            if len(parts) == 1:
                continue  # anything before the first NUL is no record
            del parts[0]
            partial = ""
        parts[0] = partial + parts[0]
        partial = parts.pop()
        if pending:
            parts[:0] = pending
        whole = len(parts) - len(parts) % _FIELDS
        for i in range(0, whole, _FIELDS):
            yield parts[i], parts[i + 1], parts[i + 2], parts[i + 3]
        pending = parts[whole:]
    if partial is not None:
        pending.append(partial)
        if len(pending) == _FIELDS:
            yield pending[0], pending[1], pending[2], pending[3]


def reach_masks(revlist: str, tips: Mapping[str, int]) -> dict[str, int]:
    """``git rev-list --topo-order --parents`` output -> commit -> bitmask of the tips reaching it."""
    edges = []
    for line in revlist.split("\n"):
        if line:
            commit, _, parents = line.partition(" ")
            edges.append((commit, parents))
    return reach_masks_of(edges, tips)


def reach_masks_of(edges: Sequence[tuple[str, str]], tips: Mapping[str, int]) -> dict[str, int]:
    """``(commit, "parent parent...")`` pairs, children mostly first -> commit -> bitmask of the tips reaching it.

    ``tips``: commit -> its bit (a tag's commit). Commits outside the listed range are reached
    by every tip that matters (the range starts at their merge base). In children-first order
    one pass pushes each commit's mask down to its parents. `git log`'s date order is that
    order unless commit dates are skewed (a parent dated after its child); the pass notices
    (a mask arriving at a commit already passed on) and then walks the graph in a true
    topological order instead.
    """
    masks: dict[str, int] = dict(tips)
    done: set[str] = set()
    for commit, parents in edges:
        done.add(commit)
        mask = masks.get(commit, 0)
        if mask and parents:
            for parent in parents.split(" "):
                before = masks.get(parent, 0)
                if parent in done and mask & ~before:
                    return _topological_masks(edges, tips)
                masks[parent] = before | mask
    return masks


def _topological_masks(edges: Sequence[tuple[str, str]], tips: Mapping[str, int]) -> dict[str, int]:
    """Kahn's order: a commit passes its mask on once every listed child has passed theirs."""
    parents_of = {commit: parents.split(" ") if parents else [] for commit, parents in edges}
    children = dict.fromkeys(parents_of, 0)
    for parents in parents_of.values():
        for parent in parents:
            if parent in children:
                children[parent] += 1
    masks: dict[str, int] = dict(tips)
    ready = [commit for commit, count in children.items() if count == 0]
    while ready:
        commit = ready.pop()
        mask = masks.get(commit, 0)
        for parent in parents_of[commit]:
            if mask:
                masks[parent] = masks.get(parent, 0) | mask
            if parent in children:
                children[parent] -= 1
                if children[parent] == 0:
                    ready.append(parent)
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
        masks, bits = self.masks, self.bits
        # unreleased_for, inlined: a crate without a bit (no tag, or one range for all) always counts.
        judge_bits = [bits.get(c, 0) for c in judges]
        result = []
        for commit in self.commits:
            crates = commit.crates
            mask = masks.get(commit.sha, 0)
            if crates:
                own = tuple([c for c in crates if c in wanted_set and not mask & bits.get(c, 0)])
                if own:
                    result.append(commit if own == crates else _with_crates(commit, own))
            elif unattributed and any(not mask & bit for bit in judge_bits):
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


def tag_commits(top: Path, *, merged: bool = True) -> list[tuple[str, str]]:
    """(tag, commit it points to) for every tag reachable from HEAD (``merged``; else every tag), newest first.

    ``merged`` walks the history from HEAD down to the oldest tag, which without a commit-graph
    file costs as much as a tenth of reading the log itself; every tag alone reads the refs only.
    A tag of a tree or a blob is no release of anything and is left out (a log from it would fail).
    """
    # Newest first; tags made in the same second (a scripted release) by version, highest first.
    reach = ["--merged", "HEAD"] if merged else []
    out = _git(top, "for-each-ref", *reach, "--sort=-version:refname", "--sort=-creatordate",
               "--format=%(refname:lstrip=2)%00%(objectname)%00%(objecttype)%00%(*objectname)%00%(*objecttype)",
               "refs/tags").stdout
    result = []
    for line in out.splitlines():
        name, obj, kind, peeled, peeled_kind = [*line.split("\0"), "", "", "", ""][:5]
        if name and (peeled_kind or kind) == "commit":
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
    started: Callable[[], None] | None = None,
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
    # Independent versions: which tags reach which commit decides each crate's range.
    independent = len(commits_of) > 1 or (whole and bool(commits_of))
    # With the workspace at the top of the repository the log is not limited to a path, so
    # it lists every commit of the range with its parents (GRAPH_FORMAT): the reachability
    # comes out of the same single pass. Under a path, git simplifies the history the log
    # shows, so the graph comes from `git rev-list` instead, run beside the log.
    graph = independent and not prefix
    revlist: dict[str, str] = {}
    worker = None
    if independent and not graph:
        def read_graph() -> None:
            revlist["out"] = _git(top, "rev-list", "--topo-order", "--parents", "HEAD", *start).stdout

        worker = threading.Thread(target=read_graph, daemon=True)
        worker.start()
    # Where the range may be cut for two git processes: the middle one of the crates' own tags
    # (each lies inside the range; the merge base it starts at is no cut).
    bases = {b.lstrip("^") for b in start}
    cut = split_point(sha for tag, sha in shas.items() if tag in since.values() and sha not in bases) \
        if graph else None
    commits, edges = _log(top, prefix, attributor, skip_prefix, [*start], graph=graph, split_at=cut, started=started)
    if not independent:
        return History(commits, dict(since))
    if worker is not None:
        worker.join()
        if "out" not in revlist:
            _git(top, "rev-list", "--topo-order", "--parents", "HEAD", *start)  # raises the thread's error
        edges = [(c, p) for c, _, p in (line.partition(" ") for line in revlist["out"].split("\n") if line)]
    return ranged(commits, edges, since, shas)


def read_all_history(top: Path, crate_dirs: Mapping[str, str], *, skip_prefix: str = "",
                     split_candidates: Iterable[str] = (), started: Callable[[], None] | None = None,
                     ) -> tuple[tuple[HistoryCommit, ...], list[tuple[str, str]]]:
    """Every commit reachable from HEAD (workspace at the repository's top), with the graph:
    the commits, and ``(commit, parents)`` for every commit, merges too (so the set of commit
    ids is exactly what HEAD reaches). :func:`ranged` gives each crate its range.
    ``split_candidates``: tag commits, newest first, one of which may cut the read in two."""
    return _log(top, "", Attributor(crate_dirs), skip_prefix, [], graph=True,
                split_at=split_point(split_candidates), started=started)


def ranged(commits: tuple[HistoryCommit, ...], edges: Sequence[tuple[str, str]], since: Mapping[str, str | None],
           shas: Mapping[str, str]) -> History:
    """The history of ``commits`` (a range holding every crate's own range) with each crate
    running from its own tag (``since``; ``shas``: tag -> commit), from the graph ``edges``."""
    commits_of = sorted({shas[t] for t in since.values() if t is not None})
    bit_of = {sha: 1 << i for i, sha in enumerate(commits_of)}
    bits = {c: bit_of[shas[t]] for c, t in since.items() if t is not None}
    return History(commits, dict(since), reach_masks_of(edges, bit_of) if bits else {}, bits)


def _log(top: Path, prefix: str, attributor: Attributor, skip_prefix: str, revs: list[str], *,
         graph: bool, split_at: str | None = None, started: Callable[[], None] | None = None,
         ) -> tuple[tuple[HistoryCommit, ...], list[tuple[str, str]]]:
    """The commits of ``HEAD revs`` (newest first) and, with ``graph``, every commit's parents.

    ``split_at``: a commit of the history (a tag's) at which a graph log may be cut in two
    halves read by two git processes side by side (:func:`_split_log`); git's tree diffs are
    most of the time a long history takes, and one git process uses one core."""
    with _parsing():
        if graph and split_at is not None and _cores() > 1:
            return _split_log(top, attributor, skip_prefix, revs, split_at, started)
        specs = ["--", prefix] if prefix else []
        args = ["--format=" + GRAPH_FORMAT] if graph else ["--no-merges", "--format=" + LOG_FORMAT]
        chunks = git.stream_git(top, "log", *args, "--name-only", "--no-renames", "HEAD", *revs, *specs, hint=_HINT)
        edges: list[tuple[str, str]] = []
        commits = tuple(parse_records(stream_records(_announced(chunks, started)), prefix, attributor, skip_prefix,
                                      edges if graph else None))
        return commits, edges


@contextlib.contextmanager
def _parsing() -> Iterator[None]:
    """While a long log is parsed: tens of thousands of small objects that all stay alive, which
    the cycle collector would walk again and again for nothing (a fifth of the parse), so it waits;
    afterwards they live until the command ends (:func:`pipeline.foundation.memory.settle`)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        memory.settle()
        if collecting:
            gc.enable()


def _announced(chunks: Iterable[str], started: Callable[[], None] | None) -> Iterator[str]:
    """``chunks``, calling ``started`` once the first one arrived (the process is running then)."""
    it = iter(chunks)
    first = next(it, None)
    if started is not None:
        started()
    if first is not None:
        yield first
        yield from it


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def split_point(candidates: Iterable[str]) -> str | None:
    """The commit to cut a long log at: the middle one of ``candidates`` (tag commits, newest
    first), which on a history tagged all along its length halves the work of each git."""
    unique = list(dict.fromkeys(c for c in candidates if c))
    return unique[len(unique) // 2] if unique else None


_Part = tuple[list[HistoryCommit], list[tuple[str, str]], list[int]]


def _read_part(top: Path, attributor: Attributor, skip_prefix: str, revs: list[str], *, graph: bool,
               paths: Sequence[str] = (), started: Callable[[], None] | None = None) -> _Part:
    """One part of a history read at once with others: its commits, edges (``graph``: merges and
    parents too) and committer dates, from ``git log revs [-- paths]`` (``paths``: every commit
    touching them, as filtering the whole log would list, with only their files)."""
    limits = ["--no-merges", "--full-history"] if not graph else []
    chunks = _announced(git.stream_git(top, "log", *limits, "--format=" + DATED_GRAPH_FORMAT, "--name-only",
                                       "--no-renames", *revs, *(["--", *paths] if paths else []), hint=_HINT),
                        started)
    edges: list[tuple[str, str]] = []
    dates: list[int] = []
    commits = list(parse_records(stream_records(chunks), "", attributor, skip_prefix, edges if graph else None,
                                 dates))
    return commits, edges, dates


def _concurrently(*tasks: Callable[[], Any]) -> list[Any]:
    """Each task's result, the first run here and the others in threads at the same time (each
    waits on its own git process); the first error raised is raised here."""
    results: list[Any] = [None] * len(tasks)
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = tasks[index]()
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, raised there
            failures.append(exc)

    workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, len(tasks))]
    for worker in workers:
        worker.start()
    run(0)
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]
    return results


def _split_log(top: Path, attributor: Attributor, skip_prefix: str, revs: list[str], cut: str,
               started: Callable[[], None] | None = None) -> tuple[tuple[HistoryCommit, ...], list[tuple[str, str]]]:
    """The graph log of ``HEAD revs`` as two logs read at once: ``HEAD ^cut`` (the newer part)
    and ``cut`` (the older part, everything ``cut`` reaches).

    With ``cut`` reachable from HEAD the two parts are exactly the range, disjoint, and no
    commit of the newer part is an ancestor of one of the older: the edges of the newer then the
    older are still children first, and the commits are merged back by committer date, the order
    one `git log` shows. ``cut`` need not be reachable (a tag on a branch HEAD never merged):
    the older part is then cut down to what the newer part's boundary reaches, which is what
    HEAD reaches there, so the answer never depends on the tag chosen.
    """
    (new_commits, new_edges, new_dates), (old_commits, old_edges, old_dates) = _concurrently(
        lambda: _read_part(top, attributor, skip_prefix, ["HEAD", f"^{cut}", *revs], graph=True, started=started),
        lambda: _read_part(top, attributor, skip_prefix, [cut, *revs], graph=True))
    listed = {sha for sha, _parents in new_edges}
    # Where the newer part ends: the commits its commits name as parents without listing them.
    boundary = {p for _sha, parents in new_edges if parents for p in parents.split(" ") if p not in listed}
    if not new_edges:  # HEAD is `cut`, or one of its ancestors
        boundary = {_git(top, "rev-parse", "--verify", "HEAD^{commit}").stdout.strip()}
    if cut not in boundary:
        # `cut` is not reachable from HEAD: keep of the older part what the boundary reaches.
        reached = reach_masks_of(old_edges, dict.fromkeys(boundary, 1))
        old_edges = [edge for edge in old_edges if reached.get(edge[0])]
        kept = [i for i, commit in enumerate(old_commits) if reached.get(commit.sha)]
        old_commits = [old_commits[i] for i in kept]
        old_dates = [old_dates[i] for i in kept]
    merged = heapq.merge(zip(new_dates, new_commits, strict=True), zip(old_dates, old_commits, strict=True),
                         key=lambda pair: -pair[0])
    return tuple(commit for _when, commit in merged), new_edges + old_edges


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
    tags: tuple[str, ...] = ()  # the tags HEAD reaches, newest first
    every_tag: tuple[str, ...] | None = None  # every tag of the repository, when it was listed

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
        commits = self.history.for_crates(wanted, unattributed_for=_judges(self.scheme, self.last, wanted))
        changes = cl.from_history(commits, self.since(wanted))
        return cl.Changes(changes.since, changes.entries,
                          {c: self.last.tags.get(c) for c in wanted})

    def changed(self, crates: Sequence[str]) -> tuple[str, ...]:
        return self.history.changed([c for c in crates if c in self.last.tags])


def _judges(scheme: tagscheme.Scheme, last: tagscheme.LastTags, wanted: Sequence[str]) -> list[str]:
    """Whose range decides a workspace-level commit (a file of no crate): the shared line's crates,
    else the tagged crates, else all of ``wanted``."""
    tagged = [c for c in wanted if last.tags.get(c) is not None]
    return [c for c in scheme.shared_crates if c in wanted] or tagged or list(wanted)


def release_scheme(
    ws: Workspace, settings: ReleaseSettings, tags: Sequence[str], versions: Mapping[str, Version]
) -> tagscheme.Scheme:
    """The configured templates, or (both left at their defaults) the scheme the tags follow."""
    inheriting = [p.name for p in ws.members if p.version_inherited and ws.version is not None
                  and p.name in versions]
    primary = [c for c in dict.fromkeys([settings.primary_crate, *settings.shared_tag_crates]) if c]
    # `crate-tags`: crates with a template of their own are left out of the two templates' inference.
    own = {c: t for c, t in settings.crate_tags.items() if c in versions}
    versions = {c: v for c, v in versions.items() if c not in own}
    # `shared-tag-crates` (set, or read from cargo-release's tag names) says which template tags
    # which crate: the scheme is known, not inferred.
    configured = bool(settings.shared_tag_crates) or not settings.infer_tags or not (
        settings.shared_tag == DEFAULT_SHARED and settings.crate_tag == DEFAULT_CRATE)
    if configured:
        scheme = tagscheme.infer(tags, versions, inheriting=inheriting, primary=primary, prefix=settings.tag_prefix,
                                 shared=settings.shared_tag, crate=settings.crate_tag)
        return tagscheme.Scheme(scheme.shared, scheme.crate, scheme.prefix, scheme.shared_crates, inferred=False,
                                own=own)
    scheme = tagscheme.infer(tags, versions, inheriting=inheriting, primary=primary, prefix=settings.tag_prefix)
    # Templates no tag uses yet fall back to the defaults (a first release, a first crate tag).
    return tagscheme.Scheme(scheme.shared or DEFAULT_SHARED, scheme.crate or DEFAULT_CRATE, scheme.prefix,
                            scheme.shared_crates or tuple(inheriting + primary), scheme.inferred and bool(
                                scheme.summary), scheme.summary, own)


def _without_release_locks(history: History, tagged: Sequence[tuple[str, str]], names: Sequence[str],
                            versions: Mapping[str, Version], scheme: tagscheme.Scheme,
                            dirs: Mapping[str, str]) -> History:
    """The commit a release tag points at is that release's commit (cargo-release's `chore: Release`
    moves a crate's version, its changelog and the workspace's Cargo.lock). The lock it moves is
    no change of the crate owning the lock's directory (clap's root package, which otherwise
    "changed" with every release of any other crate): there it attributes the commit to nobody."""
    releases: set[str] = set()
    for template in (scheme.shared, scheme.crate):
        if template is not None:
            releases.update(t.tag for t in tagscheme.parse_tags(names, template, versions, scheme.prefix))
    for crate, template in scheme.own.items():
        releases.update(t.tag for t in tagscheme.parse_tags(names, template, [crate], scheme.prefix))
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


def read_release_history(
    top: Path, ws: Workspace, settings: ReleaseSettings, tagged: Sequence[tuple[str, str]] | None = None, *,
    started: Callable[[], None] | None = None,
) -> ReleaseHistory:
    """Tags, scheme and every member's unreleased commits, in a few git commands.

    ``tagged``: :func:`tag_commits`, when the caller has listed them already; ``started``: called
    once the log is running (the caller starts its other tools then, beside it).

    Which tags HEAD reaches is needed before the range of the log is known, and asking git
    walks the whole history. When a crate has no tag even among all the tags, its range is
    the whole history anyway: then it is read in parts (:func:`_whole_in_parts`), or where
    that does not apply the log of everything HEAD reaches is read at once, and the reachable
    tags are those whose commit it lists (the same answer, one walk fewer). A long log is cut in
    two at a tag and read by two git processes at once (:func:`_split_log`).
    """
    rel = os.path.relpath(ws.root, top)
    prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
    dirs = {}
    for package in ws.members:  # every member's directory: a file belongs to its deepest crate
        d = os.path.relpath(package.directory, ws.root).replace(os.sep, "/")
        dirs[package.name] = "" if d == "." else d
    skip = settings.commit_message.split("{", 1)[0]
    every: list[tuple[str, str]] | None = None
    if tagged is None and not prefix:
        every = tag_commits(top, merged=False)
        guess = _tag_view(ws, settings, every)
        if guess.whole:
            parts = _whole_in_parts(top, ws, settings, every, guess, dirs, skip, started)
            if parts is not None:
                return parts
            commits, edges = read_all_history(top, dirs, skip_prefix=skip, split_candidates=(sha for _t, sha in every),
                                              started=started)
            reached = {commit for commit, _parents in edges}
            tagged = [(t, sha) for t, sha in every if sha in reached]
            # With tags HEAD does not reach, the view is made again from the reachable ones (the
            # log read is everything HEAD reaches, so any range it gives lies inside it).
            view = guess if len(tagged) == len(every) else _tag_view(ws, settings, tagged)
            history = ranged(commits, edges, view.since, dict(tagged))
            return view.result(history, tagged, every, dirs)
    if tagged is None:
        tagged = tag_commits(top)
    view = _tag_view(ws, settings, tagged)
    history = read_history(top, prefix, dirs, view.since, tag_shas=dict(tagged), skip_prefix=skip, started=started)
    return view.result(history, tagged, every, dirs)


def _whole_in_parts(top: Path, ws: Workspace, settings: ReleaseSettings, every: Sequence[tuple[str, str]],
                    guess: _TagView, dirs: Mapping[str, str], skip: str,
                    started: Callable[[], None] | None) -> ReleaseHistory | None:
    """A crate never tagged, beside tagged ones: its range is the whole history, but only its own.

    The tagged crates (and the workspace-level files they judge) need the log since the merge
    base of their tags; the never-tagged crates need every commit touching their directories,
    which a log limited to those directories lists without diffing the rest of every tree.
    So three git processes run at once: the full log since the base (with the graph), the
    directory-limited log of everything below it, and the tags HEAD reaches. The answer is the
    one of reading the whole history: the same commits (those below the base listed only for
    the never-tagged crates, the only ones they are unreleased for), ranges and order.

    None where that does not hold and the whole history is read instead: a never-tagged crate
    judges workspace-level commits (the shared line was never tagged), or the tags HEAD reaches
    give other ranges than all the tags do.
    """
    last = guess.last.tags
    untagged = [c for c, tag in last.items() if tag is None]
    tags_of = {c: tag for c, tag in last.items() if tag is not None}
    if not untagged or not tags_of or any(last.get(j) is None for j in _judges(guess.scheme, guess.last, guess.crates)):
        return None
    shas = dict(every)
    tips = sorted({shas[tag] for tag in tags_of.values()})
    if len(tips) == 1:
        base = tips[0]
    else:
        found = _git(top, "merge-base", "--octopus", *tips, check=False).stdout.split()
        if len(found) != 1:
            return None  # unrelated histories: no single base to cut at
        base = found[0]
    attributor = Attributor(dirs)
    paths = _own_paths([dirs[c] for c in untagged if c in dirs], dirs.values())

    def newer() -> _Part:
        return _read_part(top, attributor, skip, ["HEAD", f"^{base}"], graph=True, started=started)

    def older() -> _Part:
        return _read_part(top, attributor, skip, [base], graph=False, paths=paths)

    with _parsing():
        reached, (new_commits, edges, new_dates), (old_commits, _none, old_dates) = _concurrently(
            lambda: tag_commits(top, merged=True), newer, older)
    view = guess
    if len(reached) != len(every):  # tags on branches HEAD never merged
        view = _tag_view(ws, settings, reached)
        if view.since != guess.since:
            return None
    merged = heapq.merge(zip(new_dates, new_commits, strict=True), zip(old_dates, old_commits, strict=True),
                         key=lambda pair: -pair[0])
    history = ranged(tuple(commit for _when, commit in merged), edges, view.since, dict(reached))
    return view.result(history, reached, every, dirs)


def _own_paths(own: Sequence[str], every_dir: Iterable[str]) -> list[str]:
    """Pathspecs of the directories ``own`` less the other crates' directories inside them (a file
    belongs to the deepest crate holding it), literal: a directory name is never a glob."""
    own_set = set(own)
    include = [":/" if d == "" else f":(top,literal){d}" for d in own]
    exclude = [f":(top,exclude,literal){d}" for d in sorted(set(every_dir))
               if d and d not in own_set and any(o == "" or d.startswith(o + "/") for o in own)]
    return include + exclude


@dataclass(frozen=True)
class _TagView:
    """What the tags say before any log is read: the scheme and each crate's last tag."""

    scheme: tagscheme.Scheme
    last: tagscheme.LastTags
    lines: tuple[str, ...]
    untagged: tuple[str, ...]
    crates: tuple[str, ...]
    versions: Mapping[str, Version]

    @property
    def since(self) -> dict[str, str | None]:
        return dict(self.last.tags)

    @property
    def whole(self) -> bool:
        """Some crate's range is the whole history (it has no tag), or there is no crate."""
        return not self.last.tags or any(t is None for t in self.last.tags.values())

    def result(self, history: History, tagged: Sequence[tuple[str, str]],
               every: Sequence[tuple[str, str]] | None, dirs: Mapping[str, str]) -> ReleaseHistory:
        names = [t for t, _sha in tagged]
        history = _without_release_locks(history, tagged, names, self.versions, self.scheme, dirs)
        return ReleaseHistory(self.scheme, self.last, history, self.lines, self.untagged, self.crates,
                              tuple(t for t, _sha in tagged),
                              None if every is None else tuple(t for t, _sha in every))


def _tag_view(ws: Workspace, settings: ReleaseSettings, tagged: Sequence[tuple[str, str]]) -> _TagView:
    names = [t for t, _sha in tagged]
    # publish = false crates are neither tagged nor listed unless configured (`unpublished`).
    # `skip-crates` (cargo-release's `release = false`) are never released: no tag to look for, and
    # neither is a crate without a version (cargo's 0.0.0).
    released = [p for p in ws.members if (p.publish or settings.unpublished != "skip")
                and p.name not in settings.skip_crates and p.version_declared]
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
        # Crates in the same situation (bevy: 75 crates at 0.20.0-dev) share one line.
        alike: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for crate in untagged:
            alike.setdefault((str(versions[crate]), tuple(last.nearest.get(crate, ()))), []).append(crate)
        for (version, nearest), crates in alike.items():
            near = ", ".join(nearest) or "none"
            if len(crates) == 1:
                who, whose = f"`{crates[0]}` ({version})", "its"
            else:
                shown = ", ".join(f"`{c}`" for c in crates[:3]) + (f" and {len(crates) - 3} more" if len(crates) > 3
                                                                    else "")
                who = f"{len(crates)} crates at {version} ({shown})"
                whose = "their"
            lines.append(f"release: warning: no release tag of {who} among {len(names)} tags: {whose} whole history "
                         f"counts as unreleased; nearest tags: {near} "
                         "(set `shared-tag` / `crate-tag` / `primary-crate` if the scheme is not recognised)")
    return _TagView(scheme, last, tuple(lines), untagged, tuple(versions), versions)
