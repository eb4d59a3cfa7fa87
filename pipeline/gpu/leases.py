"""GPU leases: an exclusive ``flock`` per GPU UUID, shared by every job on the host.

The locks are the foundation's (``pipeline.foundation.fs``): a lease ends with the
process that holds it, also on SIGKILL or a crash, and lock files are never deleted.
Each holder writes its pid and program name into its lock file so waiters can say
what they are waiting for.

The lease directory is per user by default (``$XDG_RUNTIME_DIR``, else a 0700
directory of this user under the temporary directory). Whatever directory is used,
it and every directory above it must be owned by this user or root and must not be
writable by others unless sticky: otherwise another local user could swap the lock
files for links to this user's files. Lock files are 0600, opened with ``O_NOFOLLOW``.

Several GPUs are taken all or nothing: a process that gets only some of the
ones it needs lets them go and tries again, so two jobs that each want two
GPUs of two can never hold one each forever.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from pipeline.foundation import fs
from pipeline.foundation.errors import OperationFailed
from pipeline.foundation.fs import Holder, read_holder

LEASE_DIR_ENV = "PIPELINE_GPU_LEASE_DIR"
# Set by `gpu run` (and the GPU test workers) for the command it starts: the GPUs an
# ancestor process already holds. A nested lease on them (`gpu run -- nox -s gpu_test`)
# must not wait for itself; it takes them from the ancestor instead, one holder at a time
# within this process.
INHERITED_ENV = "PIPELINE_GPU_LEASE"
_inherited_lock = threading.Lock()
_inherited_in_use: set[str] = set()


def inherited_gpus() -> frozenset[str]:
    return frozenset(u for u in os.environ.get(INHERITED_ENV, "").split(",") if u)


POLL_SECONDS = 0.1
PROGRESS_SECONDS = 10.0

__all__ = ["Holder", "Lease", "acquire", "busy", "default_lease_dir", "lease_dir", "lock_path", "read_holder",
           "try_acquire", "unsafe_directory"]


def default_lease_dir() -> Path:
    """This user's own lease directory: under ``$XDG_RUNTIME_DIR`` (0700, the user's), else the temp dir."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return Path(runtime) / "cargo-gpu-pipeline" / "leases"
    return Path(tempfile.gettempdir()) / f"cargo-gpu-pipeline-{os.geteuid()}" / "leases"


def lease_dir(configured: str) -> Path:
    chosen = os.environ.get(LEASE_DIR_ENV) or configured
    return Path(chosen).expanduser() if chosen else default_lease_dir()


def lock_path(directory: Path, uuid: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in uuid)
    return directory / f"{safe}.lock"


def unsafe_directory(directory: Path) -> str | None:
    """Why ``directory`` (or one above it) lets another user tamper with its lock files; None if it is safe."""
    me = os.geteuid()
    link = _foreign_link(directory)
    if link:
        return link
    current = Path(os.path.realpath(directory))  # check the directories really used
    for level in (current, *current.parents):
        try:
            info = os.stat(level)
        except OSError as exc:
            return f"{level}: {exc.strerror or exc}"
        owner_ok = info.st_uid == me if level == current else info.st_uid in (me, 0)
        if not owner_ok:
            return f"{level} is owned by uid {info.st_uid}, not by you (uid {me})" + (
                "" if level == current else " or root")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
            return f"{level} is writable by {'others' if info.st_mode & stat.S_IWOTH else 'its group'} " \
                   f"(mode {stat.S_IMODE(info.st_mode):04o}) without the sticky bit"
    return None


def _foreign_link(directory: Path) -> str | None:
    """A symlink on the way to ``directory`` that is neither ours nor root's: its owner may re-point it
    between the check and the open, so the directories it leads to today prove nothing."""
    me = os.geteuid()
    walked = Path(os.path.abspath(directory))
    for level in (walked, *walked.parents):
        try:
            info = os.lstat(level)
        except OSError:
            continue  # not created yet
        if stat.S_ISLNK(info.st_mode) and info.st_uid not in (me, 0):
            return f"{level} is a symlink owned by uid {info.st_uid}, not by you (uid {me}) or root"
    return None


def _ensure_dir(directory: Path) -> None:
    problem = _foreign_link(directory)  # before creating anything where such a link leads
    if problem is None and not directory.is_dir():
        # 0700 for what we create; an existing parent keeps its mode (and is checked below).
        old = os.umask(0o077)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        finally:
            os.umask(old)
    problem = problem or unsafe_directory(directory)
    if problem:
        raise OperationFailed(
            f"gpu lease: refusing lease directory {directory}: {problem}",
            f"use a directory only you can write: unset `lease-dir` in [workspace.metadata.pipeline.gpu] (and "
            f"${LEASE_DIR_ENV}) for the per-user default, or `chmod go-w` / `chown` it",
        )


class Lease:
    """Held GPUs; released by :meth:`release`, the ``with`` block, or the end of the process."""

    def __init__(self, uuids: tuple[str, ...], locks: list[fs.FileLock], inherited: tuple[str, ...] = ()) -> None:
        self.uuids = uuids
        self._locks = locks
        self._inherited = inherited

    @property
    def cuda_visible_devices(self) -> str:
        return ",".join(self.uuids)

    def release(self) -> None:
        inherited, self._inherited = self._inherited, ()
        with _inherited_lock:
            _inherited_in_use.difference_update(inherited)
        locks, self._locks = self._locks, []
        for lock in locks:
            lock.release()

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def try_acquire(directory: Path, uuids: Sequence[str], count: int, command: str) -> Lease | None:
    """``count`` of ``uuids`` at once, or None (and nothing held) if fewer are free."""
    try:
        return _try_acquire(directory, uuids, count, command)
    except OSError as exc:
        # A lease directory that cannot hold lock files (a file in the way, no write permission
        # for this CI user): an operational error naming the path, not a traceback.
        raise OperationFailed(
            f"gpu lease: cannot lock in {directory}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(directory) else ""),
            f"point `lease-dir` in [workspace.metadata.pipeline.gpu] (or ${LEASE_DIR_ENV}) at a directory of "
            "yours (a symlink or another user's file in a lock's place is refused)",
        ) from None


def _try_acquire(directory: Path, uuids: Sequence[str], count: int, command: str) -> Lease | None:
    _ensure_dir(directory)
    inherited = inherited_gpus()
    taken: list[tuple[str, fs.FileLock | None]] = []
    with _inherited_lock:
        for uuid in uuids:
            if uuid in inherited:
                # An ancestor holds its flock; threads of this process share it one at a time.
                if uuid in _inherited_in_use:
                    continue
                _inherited_in_use.add(uuid)
                taken.append((uuid, None))
            else:
                lock = fs.try_lock(lock_path(directory, uuid))
                if lock is None:
                    continue
                taken.append((uuid, lock))
            if len(taken) == count:
                locks = [lock for _, lock in taken if lock is not None]
                for held in locks:
                    held.write_holder(command)
                return Lease(tuple(u for u, _ in taken), locks, tuple(u for u, lock in taken if lock is None))
        for uuid, lock in taken:
            if lock is None:
                _inherited_in_use.discard(uuid)
            else:
                lock.release()
    return None


def busy(directory: Path, uuids: Sequence[str]) -> dict[str, Holder | None]:
    """Which of ``uuids`` are leased now, and by whom (as far as the lock file says)."""
    result: dict[str, Holder | None] = {}
    for uuid in uuids:
        path = lock_path(directory, uuid)
        if fs.is_locked(path):
            result[uuid] = read_holder(path)
    return result


def acquire(
    directory: Path,
    uuids: Sequence[str],
    count: int,
    *,
    timeout: float,
    command: str,
    progress: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Lease | None:
    """Wait up to ``timeout`` seconds for ``count`` free GPUs of ``uuids``.

    Returns None only when ``should_stop()`` says the lease is no longer wanted;
    a timeout raises OperationFailed naming the holders.
    """
    started = time.monotonic()
    next_report = started
    while True:
        lease = try_acquire(directory, uuids, count, command)
        if lease is not None:
            if progress is not None and time.monotonic() - started >= 1.0:
                progress(f"gpu lease: got {', '.join(lease.uuids)} after {time.monotonic() - started:.0f} s")
            return lease
        if should_stop is not None and should_stop():
            return None
        now = time.monotonic()
        if now - started >= timeout:
            raise OperationFailed(
                f"gpu lease: no {count} free GPU(s) of {len(uuids)} after {timeout:.0f} s; "
                + _describe_busy(directory, uuids),
                "raise --timeout (or [workspace.metadata.pipeline.gpu] lease-timeout), or wait for the holders "
                f"to finish; lock files are in {directory}",
            )
        if progress is not None and now >= next_report:
            progress(f"gpu lease: waiting for {count} free GPU(s) of {len(uuids)}: {_describe_busy(directory, uuids)}")
            next_report = now + PROGRESS_SECONDS
        time.sleep(POLL_SECONDS)


def _describe_busy(directory: Path, uuids: Sequence[str]) -> str:
    now = time.time()
    held = busy(directory, uuids)
    if not held:
        return "all were busy a moment ago"
    parts = [f"{uuid} held by {holder.describe(now) if holder else 'an unknown process'}"
             for uuid, holder in held.items()]
    return "; ".join(parts)
