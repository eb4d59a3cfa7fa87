"""The per-workspace release lock: a second ``release --execute`` is refused, not queued."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from pipeline.foundation.errors import OperationFailed

LOCK_NAME = ".pipeline-release.lock"


@contextlib.contextmanager
def release_lock(root: Path) -> Iterator[None]:
    """Exclusive per-workspace lock; a second release --execute is refused, not queued.

    flock is released by the kernel when the process dies, so a crash leaves no stale lock.
    """
    directory = root / "target"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise OperationFailed(
                f"another release is running in {root} (pid {holder}, lock {path})",
                "wait for it to finish; the lock is released when that process exits",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
