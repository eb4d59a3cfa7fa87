"""All-or-nothing writes of several files.

Every new content is first written to a temporary file beside its target and
fsynced; only then are the targets replaced one by one with ``os.replace``
(atomic per file: a reader, or a crash, sees the old bytes or the new ones, never
a mix). The directories are not fsynced after the renames: that would only make
the new names durable sooner (a crash could show the old, complete file), and on
a 500-crate workspace it costs a third of the bump. If anything fails on the way — a write, a rename, or the
``verify`` step that runs once every file is in place — every target that was
already replaced gets its original bytes back and files that did not exist are
removed, so the tree is as it was before.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.errors import OperationFailed, PipelineError

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


def _write_temp(target: Path, data: bytes, mode: int | None) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = _open_temp(target, 0o644 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(name, mode)  # exactly the original's bits, whatever the umask
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
) -> None:
    """Replace every file in ``files`` or none of them."""
    originals: dict[Path, bytes | None] = {}
    temps: dict[Path, Path] = {}
    replaced: list[Path] = []
    try:
        modes: dict[Path, int | None] = {}
        for path in files:
            try:
                originals[path] = path.read_bytes()
                modes[path] = path.stat().st_mode & 0o7777
            except FileNotFoundError:
                originals[path] = None
                modes[path] = None
        # Temp files are written and fsynced in parallel: fsync waits on the disk, not
        # the CPU, and a 500-crate bump writes 500 manifests.
        with ThreadPoolExecutor(max_workers=min(16, len(files) or 1)) as pool:
            futures = {path: pool.submit(_write_temp, path, data, modes[path]) for path, data in files.items()}
            failure: BaseException | None = None
            for path, future in futures.items():
                try:
                    temps[path] = future.result()
                except BaseException as exc:  # noqa: BLE001 - re-raised after collecting every temp
                    failure = failure or exc
            if failure is not None:
                raise failure
        for index, (path, temp) in enumerate(temps.items()):
            if fault is not None:
                fault(index, path)
            os.replace(temp, path)
            replaced.append(path)
        if verify is not None:
            verify()
    except BaseException as exc:
        problems = _rollback(replaced, originals)
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
                temp = _write_temp(path, original, path.stat().st_mode & 0o7777)
                os.replace(temp, path)
        except OSError:
            problems.append(str(path))
    return problems
