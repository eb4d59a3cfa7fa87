"""The one atomic write and the one file lock (pipeline/foundation/fs.py), on a real filesystem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.foundation import fs
from pipeline.foundation.errors import OperationFailed

REPO = Path(__file__).resolve().parent.parent


def _strays(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*.tmp"))


def test_atomic_write_keeps_a_replaced_files_mode_and_gives_new_files_the_umask(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.write_text("old")
    kept.chmod(0o640)
    previous = os.umask(0o027)
    try:
        fs.atomic_write(kept, b"new")
        fs.atomic_write(tmp_path / "sub" / "new", b"x")  # the directory is created too
        fs.atomic_write_text(tmp_path / "exe", "#!/bin/sh\n", mode=0o755)  # an explicit mode beats the umask
    finally:
        os.umask(previous)
    assert kept.read_bytes() == b"new" and kept.stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "sub" / "new").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "exe").stat().st_mode & 0o777 == 0o755
    assert _strays(tmp_path) == []


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    target.write_text("old")

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fs.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        fs.atomic_write(target, b"new")
    assert target.read_text() == "old"
    assert _strays(tmp_path) == []


def test_write_all_is_all_or_nothing_and_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    (tmp_path / "blocker").write_text("a file where a directory should be")
    with pytest.raises(OperationFailed, match=r"could not write .*blocker.*nothing was changed") as caught:
        fs.write_all({tmp_path / "a": b"A", tmp_path / "blocker" / "b": b"B"}, hint="free some space")
    assert caught.value.hint == "free some space"
    assert (tmp_path / "a").read_text() == "a"
    assert _strays(tmp_path) == []


def _descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd to count descriptors")
def test_write_all_frees_the_old_files_after_the_check_and_keeps_no_descriptor(tmp_path: Path) -> None:
    # The replaced files are held open across the renames (their inodes are freed while
    # `verify` runs): the check sees every new file, a failed check gets every old byte back,
    # and no descriptor outlives the call either way.
    files = {tmp_path / f"c{i}" / "Cargo.toml": f"new {i}\n".encode() for i in range(40)}
    for i, path in enumerate(files):
        path.parent.mkdir()
        path.write_bytes(f"old {i}\n".encode())
        path.chmod(0o640)
    (tmp_path / "c0" / "Cargo.toml").unlink()  # one new file: nothing of it to hold
    before = _descriptors()
    seen: list[bytes] = []

    def refuse() -> None:
        seen.extend(p.read_bytes() for p in files)
        raise OperationFailed("cargo refused the written tree", "fix it")

    with pytest.raises(OperationFailed, match="cargo refused"):
        fs.write_all(files, verify=refuse)
    assert seen == list(files.values())
    assert not (tmp_path / "c0" / "Cargo.toml").exists()
    assert [p.read_bytes() for p in list(files)[1:]] == [f"old {i}\n".encode() for i in range(1, 40)]
    assert _descriptors() == before
    previous = os.umask(0o077)  # stricter than the files' mode: the mode is set after open() anyway
    try:
        fs.write_all(files, verify=lambda: None)
    finally:
        os.umask(previous)
    assert [p.read_bytes() for p in files] == list(files.values())
    assert all(p.stat().st_mode & 0o777 == 0o640 for p in list(files)[1:])
    assert _descriptors() == before and _strays(tmp_path) == []


def test_a_lock_is_exclusive_between_processes_and_records_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from pipeline.foundation import fs\n"
         "with fs.locked(Path(sys.argv[1]), wait=False, command='holder cmd --token=SECRET'):\n"
         "    print('locked', flush=True); time.sleep(120)\n", str(path)],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert fs.try_lock(path) is None and fs.is_locked(path)
        found = fs.read_holder(path)
        assert found is not None and found.pid == holder.pid and found.program == "holder cmd"
        seen: list[fs.Holder | None] = []
        with pytest.raises(OperationFailed, match=rf"locked by pid {holder.pid} \(`holder cmd`\)"):
            with fs.locked(path, wait=False, command="second", on_busy=seen.append):
                pass
        assert seen == [found]
    finally:
        holder.kill()
        holder.wait()
    assert not fs.is_locked(path)  # the lock died with its process
    with fs.locked(path, wait=True, command="third") as lock:
        assert lock.held and fs.read_holder(path).program == "third"  # type: ignore[union-attr]
    assert not lock.held and not fs.is_locked(path)
    assert not fs.is_locked(tmp_path / "missing.lock") and not (tmp_path / "missing.lock").exists()


def test_atomic_write_into_a_new_directory_another_thread_just_made(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads write the first two files of a new directory (the CUDA cache's ``deps/``).

    The loser's open fails with ENOENT, and by the time it looks, the winner has made the directory:
    that is no reason to fail (it was, on 16 cores: "cannot write .../deps/KEY.json").
    """
    target = tmp_path / "deps" / "key.json"
    real_open = os.open
    raced = []

    def open_after_the_other_thread(path, flags, mode=0o777):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append(path)
            (tmp_path / "deps").mkdir()  # the other thread's mkdir, between our open and our look
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(fs.os, "open", open_after_the_other_thread)
    fs.atomic_write_json(target, {"ok": True}, sync=False)
    assert raced and json.loads(target.read_text()) == {"ok": True}
    assert [p.name for p in target.parent.iterdir()] == ["key.json"]
