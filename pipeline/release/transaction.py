"""All-or-nothing writes of several files.

Every new content is first written to a temporary file beside its target and made
durable (one syncfs per filesystem on Linux, else an fsync per file); only then are
the targets replaced one by one with ``os.replace`` (atomic per file: a reader, or a
crash, sees the old bytes or the new ones, never a mix). The directories are not
fsynced after the renames: that would only make the new names durable sooner (a
crash could show the old, complete file), and on a 500-crate workspace it costs a
third of the bump. If anything fails on the way — a write, a rename, or the
``verify`` step that runs once every file is in place — every target that was
already replaced gets its original bytes back and files that did not exist are
removed, so the tree is as it was before.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from pipeline.foundation.errors import OperationFailed, PipelineError

# Test seam (documented boundary): called with the index and path of each file
# just before it replaces its target, so a test can inject a failure midway.
FaultHook = Callable[[int, Path], None]


def _open_temp(target: Path, mode: int) -> tuple[int, str]:
    # A name of our own first (cheaper than mkstemp, which matters for 500 manifests);
    # releases are serialised by the release lock, so it only exists after a crash.
    name = os.path.join(target.parent, f".{target.name}.{os.getpid()}.tmp")
    try:
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), name
    except FileExistsError:
        return tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)


def _syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2): flush one filesystem with one call instead of one fsync per file."""
    try:
        # The running program's own symbols include libc's (dlopen(NULL)); cheaper than
        # ctypes.util.find_library, which runs `ldconfig -p`.
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def _flush(temps: Mapping[Path, Path]) -> None:
    """Make every temp file durable before any target is replaced."""
    syncfs = _syncfs()
    if syncfs is None:
        for temp in temps.values():
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return
    seen: set[int] = set()
    for temp in temps.values():
        device = os.stat(temp).st_dev
        if device in seen:
            continue
        seen.add(device)
        fd = os.open(temp, os.O_RDONLY)
        try:
            if syncfs(fd) != 0:
                error = ctypes.get_errno()
                raise OSError(error, os.strerror(error), str(temp))
        finally:
            os.close(fd)


def _write_temp(target: Path, data: bytes, mode: int | None, *, sync: bool = False) -> Path:
    if mode is None:  # a new file: its directory may be new too
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = _open_temp(target, 0o644 if mode is None else mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if mode is not None:
                os.fchmod(fd, mode)  # exactly the original's bits, whatever the umask
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def atomic_write(path: Path, data: bytes) -> None:
    """One file, atomically (temp + fsync + rename), keeping its permissions."""
    apply_files({path: data})


def apply_files(
    files: Mapping[Path, bytes],
    *,
    verify: Callable[[], None] | None = None,
    fault: FaultHook | None = None,
    originals: Mapping[Path, bytes | None] | None = None,
) -> None:
    """Replace every file in ``files`` or none of them.

    ``originals`` (path -> bytes, None for a file that does not exist) saves reading
    each file again when the caller already holds what a rollback must restore.
    """
    held_bytes = originals or {}
    saved: dict[Path, bytes | None] = {}  # what a rollback puts back
    temps: dict[Path, Path] = {}
    replaced: list[Path] = []
    try:
        modes: dict[Path, int | None] = {}
        for path in files:
            try:
                mode = path.stat().st_mode & 0o7777
                held = held_bytes.get(path)
                saved[path] = held if held is not None else path.read_bytes()
                modes[path] = mode
            except FileNotFoundError:
                saved[path] = None
                modes[path] = None
        # Every temp file is written first, then made durable with one syncfs per
        # filesystem (fsync of each file where syncfs is missing): a 500-crate bump
        # writes 500 manifests, and 500 fsyncs cost more than the rest of the bump.
        for path, data in files.items():
            temps[path] = _write_temp(path, data, modes[path])
        _flush(temps)
        for index, (path, temp) in enumerate(temps.items()):
            if fault is not None:
                fault(index, path)
            os.replace(temp, path)
            replaced.append(path)
        if verify is not None:
            verify()
    except BaseException as exc:
        problems = _rollback(replaced, saved)
        for temp in temps.values():
            with contextlib.suppress(OSError):
                temp.unlink()
        if problems:
            raise OperationFailed(
                "writing the release failed and these files could not be restored: " + ", ".join(problems),
                "restore them with `git checkout -- FILE`",
            ) from exc
        if isinstance(exc, (PipelineError, KeyboardInterrupt)):
            raise
        if isinstance(exc, OSError):
            raise OperationFailed(
                f"could not write {getattr(exc, 'filename', None) or 'a file'}: {exc.strerror or exc}; "
                "nothing was changed",
                "check permissions and free disk space, then run the command again",
            ) from exc
        raise


def _rollback(replaced: list[Path], originals: Mapping[Path, bytes | None]) -> list[str]:
    problems = []
    for path in reversed(replaced):
        original = originals[path]
        try:
            if original is None:
                path.unlink()
            else:
                temp = _write_temp(path, original, path.stat().st_mode & 0o7777, sync=True)
                os.replace(temp, path)
        except OSError:
            problems.append(str(path))
    return problems
