"""GPU leases: an exclusive ``flock`` per GPU UUID, shared by every job on the host.

The locks are the foundation's (``pipeline.foundation.fs``): a lease ends with the
process that holds it, also on SIGKILL or a crash, and lock files are never deleted.
Each holder writes who it is into its lock file so waiters can say what they are
waiting for.

Several GPUs are taken all or nothing: a process that gets only some of the
ones it needs lets them go and tries again, so two jobs that each want two
GPUs of two can never hold one each forever.
"""

from __future__ import annotations

import os
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
# Every CI user on the host must be able to lock every GPU's file.
LOCK_MODE = 0o666

__all__ = ["Holder", "Lease", "acquire", "busy", "lease_dir", "lock_path", "read_holder", "try_acquire"]


def lease_dir(configured: str) -> Path:
    return Path(os.environ.get(LEASE_DIR_ENV) or configured).expanduser()


def lock_path(directory: Path, uuid: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in uuid)
    return directory / f"{safe}.lock"


def _ensure_dir(directory: Path) -> None:
    if directory.is_dir():
        return
    directory.mkdir(parents=True, exist_ok=True)
    try:  # every CI user on the host must be able to lock (sticky, like /tmp)
        os.chmod(directory, 0o1777)  # noqa: S103 - shared lock dir, sticky bit as on /tmp
    except OSError:
        pass


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
            f"point `lease-dir` in [workspace.metadata.pipeline.gpu] (or ${LEASE_DIR_ENV}) at a directory every "
            "CI user on the host can write",
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
                lock = fs.try_lock(lock_path(directory, uuid), mode=LOCK_MODE)
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
