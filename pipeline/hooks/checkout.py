"""The tree a pushed commit is checked in: the work tree when it is that commit, else a temporary worktree.

A push sends commits, not the work tree: an uncommitted fix must not let a broken commit through,
and an uncommitted breakage must not stop a good one. The work tree stands for a pushed commit only
when ``HEAD`` is that commit and nothing is modified, staged or untracked. Any other commit (another
branch, a tag, ``HEAD`` under uncommitted changes) is checked out with ``git worktree add --detach``
into a temporary directory, which is removed afterwards (on failure, Ctrl-C, SIGTERM and SIGHUP too)
and pruned from git's list of worktrees.

Cargo builds in such a checkout share one target directory kept for the hook,
``<target>/pipeline-pre-push`` (``<target>``: ``$CARGO_TARGET_DIR``, else the workspace's
``target/``): registry dependencies are built once, not on every push. It is not the work tree's own
target directory on purpose: cargo's freshness check compares file times, and an artifact built from
a checkout's sources could look fresh to the work tree whose (older) files differ. Every temporary
checkout is newer than everything in the hook's directory, so the check there always rebuilds the
members and nothing stale is reused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pipeline.foundation import git

HOOK_TARGET = "pipeline-pre-push"
# Variables git may set for a hook that would point a git command run inside the checkout at the
# main work tree instead.
_GIT_LOCATION = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX")


@dataclass(frozen=True)
class Tree:
    top: Path  # the top directory of the checkout
    in_place: bool  # the work tree itself (HEAD, clean)
    reason: str  # why it is not the work tree ("" when it is)


NOT_HEAD = "HEAD is another commit"
DIRTY = "the work tree has uncommitted or untracked changes"


def placement(top: Path, sha: str) -> str:
    """Why ``sha`` cannot be checked in the work tree at ``top`` ("" when it can)."""
    if git.head(top) != sha:
        return NOT_HEAD
    if not git.work_tree_clean(top):
        return DIRTY
    return ""


def hook_target_dir(work_root: Path, environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """The cargo target directory the checks in temporary checkouts share."""
    env = os.environ if environ is None else environ
    base = env.get("CARGO_TARGET_DIR")
    target = Path(os.path.abspath(base)) if base else work_root / "target"
    return target / HOOK_TARGET


@contextlib.contextmanager
def _signals_unwind() -> Iterator[None]:
    """SIGTERM and SIGHUP raise SystemExit (like Ctrl-C raises KeyboardInterrupt), so ``finally`` runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def unwind(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    saved = {sig: signal.signal(sig, unwind) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _environment(target_dir: Path) -> Iterator[None]:
    """os.environ for the checks in a checkout (the stages run in this process and start tools from it)."""
    saved = {name: os.environ.get(name) for name in ("CARGO_TARGET_DIR", *_GIT_LOCATION)}
    os.environ["CARGO_TARGET_DIR"] = str(target_dir)
    for name in _GIT_LOCATION:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def pushed_tree(top: Path, sha: str, work_root: Path) -> Iterator[Tree]:
    """The tree to check commit ``sha`` in; a temporary worktree is gone when the block ends."""
    reason = placement(top, sha)
    if not reason:
        yield Tree(top, True, "")
        return
    target_dir = hook_target_dir(work_root)
    with _signals_unwind():
        holder = Path(tempfile.mkdtemp(prefix="pipeline-pre-push-"))
        path = holder / "tree"
        try:
            git.add_worktree(top, path, sha)
            with _environment(target_dir):
                yield Tree(Path(os.path.realpath(path)), False, reason)
        finally:
            git.remove_worktree(top, path)
            shutil.rmtree(holder, ignore_errors=True)
            git.prune_worktrees(top)
