"""GPU leases: an exclusive ``flock`` per GPU UUID, shared by every job on the host.

The kernel drops a ``flock`` when its file descriptor closes, so a lease ends
with the process that holds it, also on SIGKILL or a crash: nothing to clean
up, no stale lock. Lock files are never deleted (deleting one would let two
processes lock two different inodes of the same name). Each holder writes who
it is into its lock file so waiters can say what they are waiting for.

Several GPUs are taken all or nothing: a process that gets only some of the
ones it needs lets them go and tries again, so two jobs that each want two
GPUs of two can never hold one each forever.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from pipeline.foundation.errors import OperationFailed

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


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    since: float
    host: str

    def describe(self, now: float) -> str:
        return f"pid {self.pid} (`{self.command}`) for {now - self.since:.0f} s"


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


def read_holder(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text() or "null")
        return Holder(int(data["pid"]), str(data["command"]), float(data["since"]), str(data["host"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


class Lease:
    """Held GPUs; released by :meth:`release`, the ``with`` block, or the end of the process."""

    def __init__(self, uuids: tuple[str, ...], fds: list[int], inherited: tuple[str, ...] = ()) -> None:
        self.uuids = uuids
        self._fds = fds
        self._inherited = inherited

    @property
    def cuda_visible_devices(self) -> str:
        return ",".join(self.uuids)

    def release(self) -> None:
        inherited, self._inherited = self._inherited, ()
        with _inherited_lock:
            _inherited_in_use.difference_update(inherited)
        fds, self._fds = self._fds, []
        for fd in fds:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # not inherited by children (PEP 446)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    try:
        os.fchmod(fd, 0o666)
    except OSError:
        pass
    return fd


def _write_holder(fd: int, command: str) -> None:
    record = json.dumps({"pid": os.getpid(), "command": command[:200], "since": time.time(),
                         "host": socket.gethostname()})
    os.ftruncate(fd, 0)
    os.pwrite(fd, record.encode(), 0)


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
    taken: list[tuple[str, int | None]] = []
    with _inherited_lock:
        for uuid in uuids:
            if uuid in inherited:
                # An ancestor holds its flock; threads of this process share it one at a time.
                if uuid in _inherited_in_use:
                    continue
                _inherited_in_use.add(uuid)
                taken.append((uuid, None))
            else:
                fd = _try_lock(lock_path(directory, uuid))
                if fd is None:
                    continue
                taken.append((uuid, fd))
            if len(taken) == count:
                fds = [fd for _, fd in taken if fd is not None]
                for held in fds:
                    _write_holder(held, command)
                return Lease(tuple(u for u, _ in taken), fds, tuple(u for u, fd in taken if fd is None))
        for uuid, fd in taken:
            if fd is None:
                _inherited_in_use.discard(uuid)
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
    return None


def busy(directory: Path, uuids: Sequence[str]) -> dict[str, Holder | None]:
    """Which of ``uuids`` are leased now, and by whom (as far as the lock file says)."""
    result: dict[str, Holder | None] = {}
    for uuid in uuids:
        path = lock_path(directory, uuid)
        if not path.exists():
            continue
        fd = _try_lock(path)
        if fd is None:
            result[uuid] = read_holder(path)
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
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
