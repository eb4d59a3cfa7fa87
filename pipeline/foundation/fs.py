"""The one atomic write and the one file lock.

Writes: every new content goes to a temporary file beside its target (same directory,
so the rename never crosses a filesystem), is made durable, then replaces the target
with ``os.replace``: a reader, or a crash, sees the old bytes or the new ones, never a
mix. :func:`atomic_write` does one file (fsync of the file, rename, fsync of the
directory); :func:`write_all` does several files all or nothing: if a write, a rename
or the caller's ``verify`` fails, every target already replaced gets its original bytes
back and files that did not exist are removed. No temporary file survives a failure.

Modes: a replaced file keeps its permission bits exactly; a new file gets what the
umask gives (``0o666 & ~umask``, as ``open()`` would), unless the caller names a mode.
Temporary files are opened with ``O_CREAT | O_EXCL`` and a name of our own rather
than ``mkstemp``, which makes 0600 files (and costs more on 500 manifests).

Locks: an exclusive ``flock`` on a lock file. The kernel drops it when the file
descriptor closes, so a lock ends with its process, also on SIGKILL: no stale lock,
nothing to clean up. Lock files are never deleted (deleting one would let two
processes lock two different inodes of the same name). They are opened with
``O_NOFOLLOW``, created 0600, must be regular files of this user, and their mode is
never changed. A holder may write its pid and program name (never its arguments) into
the file (:meth:`FileLock.write_holder`) so that others can say what they wait for.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.foundation.errors import OperationFailed, PipelineError

# Test seam (documented boundary): called with the index and path of each file just
# before it replaces its target, so a test can inject a failure midway.
FaultHook = Callable[[int, Path], None]

_NEW_FILE_MODE = 0o666  # the kernel applies the umask to it


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root``, posix (``../x`` for a path beside it), as messages and JSON show files.

    String work first, not Path.relative_to: a release names the file of every requirement site.
    """
    text, top = str(path), str(root).rstrip(os.sep) + os.sep
    if text.startswith(top):
        return text[len(top) :].replace(os.sep, "/")
    return os.path.relpath(path, root).replace(os.sep, "/")


# ---------------------------------------------------------------------------
# Atomic writes


def _open_temp(target: Path, mode: int) -> tuple[int, Path]:
    """A new, exclusive temporary file beside ``target`` (safe between threads and processes)."""
    made_directory = False
    while True:
        name = target.parent / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), name
        except FileExistsError:  # left by a crashed run with our pid, or a 1-in-4-billion clash
            continue
        except FileNotFoundError as exc:  # a new file in a new directory
            # Try once more after making the directory. Whether it exists *now* says nothing:
            # another thread writing into the same new directory may just have made it.
            if made_directory:
                raise FileNotFoundError(exc.errno, exc.strerror, str(target)) from exc
            target.parent.mkdir(parents=True, exist_ok=True)
            made_directory = True
        except OSError as exc:  # name the file the caller writes, not our temporary one
            raise type(exc)(exc.errno, exc.strerror, str(target)) from exc


def _existing_mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def _write_temp(target: Path, data: bytes, mode: int | None, *, sync: bool) -> Path:
    """``data`` in a temp file beside ``target``; ``mode`` None gives what the umask gives."""
    fd, name = _open_temp(target, _NEW_FILE_MODE if mode is None else mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            # Exactly these bits, whatever the umask (or a directory's default ACL) made of
            # them; fstat first: where open() already gave them (0644 under umask 022, the
            # usual case) a chmod would only be one more journaled inode change per file.
            if mode is not None and os.fstat(fd).st_mode & 0o7777 != mode:
                os.fchmod(fd, mode)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return name


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int | None = None, sync: bool = True,
                 sync_dir: bool | None = None) -> None:
    """Replace ``path`` with ``data`` atomically; its directory is created if missing.

    ``mode`` None keeps the mode of the file replaced (what the umask gives for a new
    one). ``sync`` False skips the fsyncs, for outputs that are only a copy of something
    durable elsewhere (still atomic for readers). ``sync_dir`` (default: ``sync``) also
    fsyncs the directory, so the new name itself survives a crash.
    """
    kept = _existing_mode(path) if mode is None else mode
    temp = _write_temp(path, data, kept, sync=sync)
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if sync if sync_dir is None else sync_dir:
        fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int | None = None, sync: bool = True,
                      sync_dir: bool | None = None) -> None:
    atomic_write(path, text.encode("utf-8"), mode=mode, sync=sync, sync_dir=sync_dir)


def atomic_write_json(path: Path, data: Any, *, sync: bool = True, sync_dir: bool | None = None) -> None:
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=False) + "\n").encode(), sync=sync, sync_dir=sync_dir)


def _syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2): flush one filesystem with one call instead of one fsync per file."""
    import ctypes  # only where files are made durable: a read-only command never loads it

    try:
        # The running program's own symbols include libc's (dlopen(NULL)); cheaper than
        # ctypes.util.find_library, which runs `ldconfig -p`.
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def _flush(temps: Mapping[Path, Path], devices: Mapping[Path, int] | None = None) -> None:
    """Make every temp file durable before any target is replaced.

    ``devices``: the filesystem (``st_dev``) of targets already stat'ed; a temp file beside its
    target is on the same one, so only the others are stat'ed to find which filesystems to sync."""
    known = devices or {}
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
    for target, temp in temps.items():
        device = known.get(target)
        if device is None:
            device = os.stat(temp).st_dev
        if device in seen:
            continue
        seen.add(device)
        fd = os.open(temp, os.O_RDONLY)
        try:
            if syncfs(fd) != 0:
                import ctypes

                error = ctypes.get_errno()
                raise OSError(error, os.strerror(error), str(temp))
        finally:
            os.close(fd)


def write_all(
    files: Mapping[Path, bytes],
    *,
    verify: Callable[[], None] | None = None,
    fault: FaultHook | None = None,
    originals: Mapping[Path, bytes | None] | None = None,
    what: str = "the files",
    hint: str = "check permissions and free disk space, then run the command again",
) -> None:
    """Replace every file in ``files`` or none of them.

    Every temp file is written first, then made durable with one syncfs per filesystem
    (an fsync per file where syncfs is missing): a 500-crate bump writes 500 manifests,
    and 500 fsyncs cost more than the rest of the bump. The directories are not fsynced
    after the renames: that would only make the new names durable sooner (a crash could
    show the old, complete file), and on a 500-crate workspace it costs a third of the bump.

    Before the renames, each replaced file is opened (read-only): the rename then only
    moves a name, and the old inode is freed when that descriptor closes, which a thread
    does while ``verify`` (cargo) runs. Freeing 500 inodes inside the renames costs more than
    the renames themselves (under a busy disk, several times more). Holding a descriptor
    changes nothing on disk: a kill closes it, and a power cut leaves an orphan inode that
    the filesystem drops at mount, exactly as for a file deleted while open.

    The flush stays before the first rename; it does not run beside ``verify``. A rename can
    reach the disk before the data of the file it names unless that data is durable first
    (ext4's rename heuristic happens to cover it by default; XFS and others do not), and a
    power cut would then leave a target that is neither its old nor its new content, which
    the release journal's recovery must refuse to overwrite. Freeing the old inodes is what
    can run beside the check: nothing a crash can see depends on when it happens.

    ``originals`` (path -> bytes, None for a file that does not exist) saves reading
    each file again when the caller already holds what a rollback must restore. An
    OSError becomes an :class:`OperationFailed` naming the file and saying nothing was
    changed (``what`` and ``hint`` word it for the caller).
    """
    held_bytes = originals or {}
    saved: dict[Path, bytes | None] = {}  # what a rollback puts back
    temps: dict[Path, Path] = {}
    replaced: list[Path] = []
    old_inodes: list[int] = []  # descriptors of the files being replaced (see above)
    closer: Any = None  # the threading.Thread closing them
    try:
        modes: dict[Path, int | None] = {}
        devices: dict[Path, int] = {}
        for path in files:
            try:
                info = path.stat()
                held = held_bytes.get(path)
                saved[path] = held if held is not None else path.read_bytes()
                modes[path] = info.st_mode & 0o7777
                devices[path] = info.st_dev
            except FileNotFoundError:
                saved[path] = None
                modes[path] = None
        for path, data in files.items():
            temps[path] = _write_temp(path, data, modes[path], sync=False)
        _flush(temps, devices)
        old_inodes = _hold_open([path for path in temps if saved[path] is not None])
        for index, (path, temp) in enumerate(temps.items()):
            if fault is not None:
                fault(index, path)
            os.replace(temp, path)
            replaced.append(path)
        if old_inodes:
            import threading  # here: most commands that import fs never replace a file

            closer = threading.Thread(target=_close_all, args=(old_inodes,), name="fs-release-old", daemon=True)
            closer.start()
        if verify is not None:
            verify()
        if closer is not None:
            closer.join()
    except BaseException as exc:
        if closer is not None:
            closer.join()
        else:
            _close_all(old_inodes)
        problems = _rollback(replaced, saved)
        for temp in temps.values():
            with contextlib.suppress(OSError):
                temp.unlink()
        if problems:
            raise OperationFailed(
                f"writing {what} failed and these files could not be restored: " + ", ".join(problems),
                "restore them with `git checkout -- FILE`",
            ) from exc
        if isinstance(exc, (PipelineError, KeyboardInterrupt)):
            raise
        if isinstance(exc, OSError):
            raise OperationFailed(
                f"could not write {getattr(exc, 'filename', None) or 'a file'}: {exc.strerror or exc}; "
                "nothing was changed",
                hint,
            ) from exc
        raise


def _hold_open(paths: list[Path]) -> list[int]:
    """Read-only descriptors of ``paths`` (see :func:`write_all`), within half the descriptor limit.

    ``O_NOFOLLOW``/``O_NONBLOCK``: a symlink (its rename frees no inode of ours) or a FIFO is
    skipped, never followed or waited on; whatever cannot be opened is simply not held.
    """
    import resource

    try:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (OSError, ValueError):
        soft = 1024
    budget = len(paths) if soft == resource.RLIM_INFINITY else max(0, soft // 2 - 64)
    held = []
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    for path in paths[:budget]:
        try:
            held.append(os.open(path, flags))
        except OSError:
            continue
    return held


def _close_all(descriptors: list[int]) -> None:
    for fd in descriptors:
        with contextlib.suppress(OSError):
            os.close(fd)


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


def read_regular(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file itself; None for a symlink, a FIFO, a device...

    ``O_NOFOLLOW`` and ``fstat`` on the open descriptor, so a link swapped in between a check and
    the read can never make us read its target (``README.env -> /proc/self/environ``).
    """
    try:
        fd = _open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):  # a symlink; a socket or FIFO without a writer
            return None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# File locks


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its lock file says: a pid and a program name, nothing more.

    Lock files may be read by other users of the host; a full command line can hold
    tokens, so it is never recorded. ``since`` is the lock file's mtime (when the
    holder wrote itself in).
    """

    pid: int
    program: str
    since: float

    def describe(self, now: float) -> str:
        return f"pid {self.pid} (`{self.program}`) for {now - self.since:.0f} s"


def _open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
    """``open`` that never follows a symlink at ``path`` itself (ELOOP instead)."""
    return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)


def read_holder(path: Path) -> Holder | None:
    try:
        fd = _open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "null")
        return Holder(int(data["pid"]), str(data["program"])[:PROGRAM_MAX], info.st_mtime)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    finally:
        os.close(fd)


PROGRAM_MAX = 64


def program_name(text: str) -> str:
    """What a holder record may say about a program: its name (a few words), never its arguments.

    ``pipeline release`` stays; ``/usr/bin/cargo test --token=X`` becomes ``cargo test``: words
    stop at the first option, assignment or path after the program itself.
    """
    kept: list[str] = []
    for word in text.split()[:3]:
        if kept and (word.startswith("-") or "=" in word or "/" in word):
            break
        kept.append(word if kept else os.path.basename(word))
    return " ".join(kept)[:PROGRAM_MAX] or "?"


class FileLock:
    """A held ``flock``; released by :meth:`release`, the ``with`` block, or the end of the process."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def write_holder(self, program: str) -> None:
        """Record this process as the holder (its pid and ``program``'s name) in the lock file."""
        if self._fd is None:
            return
        record = json.dumps({"pid": os.getpid(), "program": program_name(program)})
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, record.encode(), 0)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


LOCK_MODE = 0o600


def _open_lock_file(path: Path, mode: int) -> int:
    """The lock file, never through a symlink, and only a regular file this user owns.

    ``O_NOFOLLOW``: a symlink planted at the lock's name (in a directory someone else can
    write) would otherwise make us open, truncate and write whatever it points at. The
    mode is what the file is created with (less the umask) and is never changed later:
    no ``fchmod`` can widen someone else's file. Not inherited by children (PEP 446):
    a child must not keep our lock alive.
    """
    fd = _open_nofollow(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, mode)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if info.st_uid != os.geteuid():
            raise OSError(errno.EPERM, f"owned by uid {info.st_uid}, not by this user ({os.geteuid()})", str(path))
        if info.st_nlink > 1:  # a hard link to a file elsewhere
            raise OSError(errno.EPERM, "has other hard links", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def try_lock(path: Path, *, mode: int = LOCK_MODE) -> FileLock | None:
    """The lock on ``path`` now, or None if another process holds it (never waits)."""
    fd = _open_lock_file(path, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return FileLock(path, fd)


def wait_lock(path: Path, *, mode: int = LOCK_MODE,
              on_wait: Callable[[Holder | None], None] | None = None) -> FileLock:
    """The lock on ``path``, waiting as long as it takes; ``on_wait`` is told once if it must wait."""
    lock = try_lock(path, mode=mode)
    if lock is not None:
        return lock
    if on_wait is not None:
        on_wait(read_holder(path))
    fd = _open_lock_file(path, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return FileLock(path, fd)


def is_locked(path: Path) -> bool:
    """Whether another process holds the lock on ``path`` now (a missing file is not locked)."""
    try:
        # flock needs no write access; nothing created, nothing followed
        fd = _open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symlink is never one of our locks
            return False
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)  # also releases the probe's lock
    return False


@contextlib.contextmanager
def locked(path: Path, *, wait: bool, command: str, mode: int = LOCK_MODE,
           on_busy: Callable[[Holder | None], None] | None = None) -> Iterator[FileLock]:
    """Hold the lock on ``path`` for a ``with`` block, recording this process as the holder.

    ``command`` is the program's name (``pipeline release``); only its name is recorded.
    ``wait`` False: a held lock calls ``on_busy`` (which should raise) and, if it returns,
    raises a generic OperationFailed. ``wait`` True: ``on_busy`` is told once, then it waits.
    A lock that cannot be taken at all (no space for the file, an unwritable directory,
    a symlink in its place) is an OperationFailed naming the lock file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if wait:
            lock = wait_lock(path, mode=mode, on_wait=on_busy)
        else:
            maybe = try_lock(path, mode=mode)
            if maybe is None:
                holder = read_holder(path)
                if on_busy is not None:
                    on_busy(holder)
                who = holder.describe(time.time()) if holder else "another process"
                raise OperationFailed(f"{path} is locked by {who}",
                                      "wait for it to finish; the lock is released when that process exits")
            lock = maybe
    except OSError as exc:
        raise lock_error(path, exc) from None
    try:
        with contextlib.suppress(OSError):  # a full disk: the lock holds, only the record is missing
            lock.write_holder(command)
        yield lock
    finally:
        lock.release()


def lock_error(path: Path, exc: OSError) -> OperationFailed:
    reason = "it is a symlink" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))
    return OperationFailed(
        f"cannot take the lock {path}: {reason}",
        "check that its directory is writable by you, has free space, and holds no link in the lock's place",
    )
