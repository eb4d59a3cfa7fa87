"""The per-workspace release lock: a second ``release --execute`` is refused, not queued."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from pipeline.foundation import fs
from pipeline.foundation.errors import OperationFailed

LOCK_NAME = ".pipeline-release.lock"


@contextlib.contextmanager
def release_lock(root: Path) -> Iterator[None]:
    """Exclusive per-workspace lock; a second release --execute is refused, not queued.

    flock is released by the kernel when the process dies, so a crash leaves no stale lock.
    """
    path = root / "target" / LOCK_NAME

    def refuse(holder: fs.Holder | None) -> None:
        raise OperationFailed(
            f"another release is running in {root} (pid {holder.pid if holder else 'unknown'}, lock {path})",
            "wait for it to finish; the lock is released when that process exits",
        )

    with fs.locked(path, wait=False, command="pipeline release", on_busy=refuse):
        yield
