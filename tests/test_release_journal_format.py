"""The journal file's encoding: bytes come back exactly (text where UTF-8, base64 otherwise), a
journal written by an earlier version (format 1, base64 only) is still read, damage is refused."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from pipeline.foundation.errors import OperationFailed
from pipeline.release.journal import FileChange, Journal, load, save

FILES = (
    FileChange("Cargo.toml", b'[workspace]\nmembers = ["a"]\n', b'[workspace]\nmembers = ["a"] # moved\n'),
    FileChange("a/Cargo.toml", "\ufeff[package]\nname = \"a\" # caf\u00e9\r\n".encode(), b"[package]\nname = \"a\"\n"),
    FileChange("blob.bin", b"\xff\xfe\x00not utf-8", b"\x80"),
    FileChange("CHANGELOG.md", None, b"# Changelog\n"),
)


def _journal(files: tuple[FileChange, ...] = FILES) -> Journal:
    return Journal(root="/ws", head="a" * 40, branch="main", started=1.5, command="release", files=files,
                   commit_message="chore(release): 1.0.0")


def test_every_byte_comes_back_and_later_saves_keep_the_files(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    journal = _journal()
    save(path, journal)
    assert load(path) == journal
    stored = {f["path"]: f for f in json.loads(path.read_text())["files"]}
    assert stored["Cargo.toml"]["new_text"].endswith("# moved\n")  # readable, not base64
    assert "old" in stored["blob.bin"] and "old_text" not in stored["blob.bin"]
    assert stored["CHANGELOG.md"]["old"] is None
    later = journal.with_step("files").with_step("commit", commit="b" * 40)
    save(path, later)
    again = load(path)
    assert again == later and again is not None and again.files == FILES


def test_a_format_1_journal_is_still_read(tmp_path: Path) -> None:
    def b64(data: bytes | None) -> str | None:
        return None if data is None else base64.b64encode(data).decode()

    def sha(data: bytes | None) -> str | None:
        return None if data is None else hashlib.sha256(data).hexdigest()

    data = json.loads(_journal().dumps())
    data["format"] = 1
    data["files"] = [{"path": f.path, "old_sha256": sha(f.old), "new_sha256": sha(f.new), "old": b64(f.old),
                      "new": b64(f.new)} for f in FILES]
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(data, indent=1))
    assert load(path) == _journal()


def test_a_damaged_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    save(path, _journal())
    data = json.loads(path.read_text())
    data["files"][0]["new_text"] += " "
    path.write_text(json.dumps(data))
    with pytest.raises(OperationFailed, match="damaged"):
        load(path)
