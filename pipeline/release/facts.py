"""Every fact a release is planned from, gathered once into one frozen object.

This is the release's only reading edge before anything is written: git state
(branch, dirty files, tags, remotes), the history (unreleased commits, changed
crates), the bytes of every manifest, Cargo.lock and the changelog, and the host
triple from ``rustc -vV``. Planning (:mod:`pipeline.release.prepare`) takes a
:class:`ReleaseFacts` and does no I/O, so it can be tested with a hand-made one.

Only what the request needs is gathered: ``bump LEVEL`` reads no git and runs no
rustc (on a 500-crate workspace that is most of the command's time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline.foundation import proc
from pipeline.foundation.errors import PipelineError
from pipeline.foundation.git import origin_head
from pipeline.foundation.output import log
from pipeline.release.request import Request
from pipeline.release.settings import ReleaseSettings
from pipeline.workspace.model import Workspace

T = TypeVar("T")

if TYPE_CHECKING:
    from pipeline.cuda.abi import AbiDiff
    from pipeline.foundation.git import GitRepo
    from pipeline.release import changelog as cl
    from pipeline.release.abicheck import ApiVerdict
    from pipeline.release.registry import RegistryFacts
    from pipeline.release.tagscheme import Scheme
    from pipeline.workspace.outside import Outside


@dataclass(frozen=True)
class GitFacts:
    """The repository as the release saw it before planning."""

    top: Path  # the repository's work tree (the workspace may sit below it)
    head: str | None  # None: no commits yet
    branch: str | None = None  # None: detached HEAD
    dirty: tuple[str, ...] = ()  # tracked files with changes under the workspace (not read with --allow-dirty)
    tags: frozenset[str] = frozenset()  # every tag of the repository
    merged_tags: tuple[str, ...] = ()  # tags reachable from HEAD, newest first
    remotes: tuple[str, ...] = ()
    default_branch: str | None = None  # origin's HEAD (`refs/remotes/origin/HEAD`), when the clone knows it


@dataclass(frozen=True)
class ReleaseFacts:
    workspace: Workspace
    settings: ReleaseSettings
    git: GitFacts | None = None  # None: not in a git repository, or git not needed (`bump LEVEL`)
    changes: cl.Changes | None = None  # unreleased commits (a release, or `auto`)
    changed: tuple[str, ...] | None = None  # --changed: members with commits since their tag
    # the root, every member manifest and every manifest outside the members that names a member
    manifests: Mapping[Path, bytes] = field(default_factory=dict)
    outside: Outside | None = None  # requirements on members outside the members' path deps
    scheme: Scheme | None = None  # the tag scheme (configured, or inferred from the tags)
    changelogs: Mapping[Path, bytes] = field(default_factory=dict)  # per-crate CHANGELOG.md files that exist
    # Cargo.lock of crates outside the members (an excluded crate is its own workspace): they
    # lock the members they use by path, at the version the bump changes.
    outside_locks: Mapping[Path, bytes] = field(default_factory=dict)
    lockfile: bytes | None = None  # Cargo.lock, when there is one
    changelog: bytes | None = None  # the changelog file, when a release writes one and it exists
    host_triple: str = "<target>"  # `rustc -vV` host, for artifact names in the plan
    toolchain_problem: str | None = None  # why `rustc -vV` fails in the workspace (its binaries cannot be built)
    cuda_outputs: bool = False  # target/cuda/manifest.json exists (a CUDA tarball is built)
    today: str = ""  # the release date (UTC, or $SOURCE_DATE_EPOCH)
    kernel_abi: AbiDiff | None = None  # this build's kernels against the last release's manifest
    rust_api: ApiVerdict | None = None  # cargo-semver-checks' verdict, or why there is none
    registry: RegistryFacts | None = None  # --publish: where to
    published: Mapping[str, frozenset[str] | None] = field(default_factory=dict)  # --publish: what it has

    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def has_history(self) -> bool:
        return self.git is not None and self.git.head is not None

    @property
    def changelog_path(self) -> Path | None:
        return self.root / self.settings.changelog if self.settings.changelog else None


def gather(ws: Workspace, settings: ReleaseSettings, req: Request) -> ReleaseFacts:
    """Read everything ``req`` needs, once. Raises only for what cannot be read."""
    repo = None
    if req.needs_git:
        from pipeline.foundation.git import open_repo

        repo = open_repo(ws.root)
    # Tools whose answer the history does not need run beside it, started once the log is under
    # way (their wait overlaps it, and they do not delay its start: on a long history git's log
    # is the longest wait there is).
    tools: dict[str, Callable[[], Any]] = {}

    def start_tools() -> None:
        if tools:
            return
        # The host triple names the binaries' tarballs only (`--target` names it itself).
        if req.full and settings.artifacts and req.triple is None and any(p.has_binary for p in ws.members):
            tools["triple"] = _background(lambda: host_triple(ws.root))
        if repo is not None and req.full and not req.allow_dirty:
            tools["dirty"] = _background(repo.dirty_files)
        tools.setdefault("started", lambda: None)

    git = None
    changes = None
    changed = None
    scheme = None
    if repo is not None:
        head = repo.head()
        merged: tuple[str, ...] = ()
        every: tuple[str, ...] | None = None
        if head is not None:
            from pipeline.release.unreleased import read_release_history

            # One read of the history for every crate, each from its own last tag; the tags it
            # lists (once: finding those HEAD reaches walks the history) serve the git facts too.
            found = read_release_history(repo.top, ws, settings, started=start_tools)
            for line in found.lines:
                log(line)
            scheme = found.scheme
            merged, every = found.tags, found.every_tag
            if req.full or req.level.auto:
                changes = found.changes(found.crates)
            if req.changed:
                changed = found.changed(found.crates)
        start_tools()
        git = git_facts(repo, req, head, merged, every, tools.get("dirty"))
    from pipeline.workspace.outside import gather as gather_outside

    outside = gather_outside(ws)
    paths = dict.fromkeys([ws.manifest_path, *(p.manifest_path for p in ws.members), *outside.manifests])
    manifests = {path: path.read_bytes() for path in paths}
    outside_locks = {}
    for crate in outside.crates:
        lock_path = crate.directory / "Cargo.lock"
        if crate.member_deps and lock_path != ws.root / "Cargo.lock" and lock_path.is_file():
            outside_locks[lock_path] = lock_path.read_bytes()
    lock = ws.root / "Cargo.lock"
    changelog = None
    changelogs: dict[Path, bytes] = {}
    triple, toolchain_problem = "<target>", None
    cuda_outputs = False
    if req.full:
        if settings.changelog and (ws.root / settings.changelog).is_file():
            changelog = (ws.root / settings.changelog).read_bytes()
        if settings.changelog:
            name = Path(settings.changelog).name
            for package in ws.members:
                own = package.directory / name
                if own != ws.root / settings.changelog and own.is_file():
                    changelogs[own] = own.read_bytes()
        start_tools()
        if "triple" in tools:
            triple, toolchain_problem = tools["triple"]()
            cuda_outputs = (ws.root / "target" / "cuda" / "manifest.json").is_file()
    kernel_abi = rust_api = registry = None
    published: Mapping[str, frozenset[str] | None] = {}
    if req.full:
        from pipeline.release import abicheck

        since = changes.since if changes is not None else None
        kernel_abi = abicheck.kernel_abi_diff(ws.root, ws.root / settings.dist_dir, since)
        rust_api = abicheck.rust_api(ws.root, since)
        if req.publish:
            from pipeline.release.registry import published_versions, registry_facts

            registry = registry_facts(ws.root, req.registry or settings.publish_registry or None)
            external = sorted({d.name for p in ws.members for d in p.dependencies if d.external_path})
            published = published_versions(registry, [*ws.names, *external])
    return ReleaseFacts(
        workspace=ws,
        settings=settings,
        git=git,
        changes=changes,
        changed=changed,
        manifests=manifests,
        outside=outside,
        scheme=scheme,
        changelogs=changelogs,
        outside_locks=outside_locks,
        lockfile=lock.read_bytes() if lock.is_file() else None,
        changelog=changelog,
        host_triple=triple,
        toolchain_problem=toolchain_problem,
        cuda_outputs=cuda_outputs,
        today=release_date(),
        kernel_abi=kernel_abi,
        rust_api=rust_api,
        registry=registry,
        published=published,
    )


def git_facts(repo: GitRepo, req: Request, head: str | None, merged: tuple[str, ...],
              every: tuple[str, ...] | None = None, dirty_of: Callable[[], list[str]] | None = None) -> GitFacts:
    """``head``: HEAD's commit (None: no commits yet); ``merged``: the tags reachable from it, newest first;
    ``every``: every tag of the repository when the history listed them already; ``dirty_of``: the
    dirty files, asked for already (:func:`_background`)."""
    if head is None:
        return GitFacts(top=repo.top, head=None)
    if not req.full:  # bump --changed / auto: only the history is read
        return GitFacts(top=repo.top, head=head, merged_tags=merged)
    # `git tag --list` and `git remote` once, rather than one call per planned tag.
    return GitFacts(
        top=repo.top,
        head=head,
        branch=repo.branch(),
        dirty=() if req.allow_dirty else tuple(dirty_of() if dirty_of is not None else repo.dirty_files()),
        tags=frozenset(every if every is not None else (
            t for t in repo.git("tag", "--list").stdout.splitlines() if t.strip())),
        merged_tags=merged,
        remotes=tuple(repo.remotes()) if req.push else (),
        default_branch=origin_head(repo.top),
    )


def _background(work: Callable[[], T]) -> Callable[[], T]:
    """Start ``work`` in a thread; the returned call waits for its result (or raises its error)."""
    import threading

    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]

    return result


def release_date() -> str:
    from pipeline.release import changelog as cl

    return cl.release_date()


def host_triple(root: Path | None = None) -> tuple[str, str | None]:
    """(`rustc -vV`'s host triple, None) in ``root``, or ("<target>", why rustc cannot run there):
    a workspace pinning a toolchain this machine lacks (wgpu's rust-toolchain.toml) cannot build."""
    try:
        out = proc.run(["rustc", "-vV"], cwd=root).stdout
    except PipelineError as exc:
        lines = [line for line in str(exc.message).splitlines() if line.strip().startswith("error")]
        return "<target>", (lines[0].strip() if lines else str(exc.message).splitlines()[0])
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("host:")),
                "<target>"), None
