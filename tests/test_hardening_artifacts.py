"""Artifacts never follow symlinks, names stay inside dist/, and dist/ holds only this release's files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline.foundation import fs
from pipeline.foundation.errors import OperationFailed
from pipeline.release import artifacts
from pipeline.release.settings import ReleaseSettings
from pipeline.workspace.load import load_workspace

needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def test_read_regular_never_follows_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("ok")
    (tmp_path / "link").symlink_to("/proc/self/environ")
    os.mkfifo(tmp_path / "fifo")
    assert fs.read_regular(tmp_path / "real") == b"ok"
    assert fs.read_regular(tmp_path / "link") is None
    assert fs.read_regular(tmp_path / "fifo") is None  # and never blocks on it


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "-x"])
def test_project_name_that_becomes_a_path_outside_dist_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="`project-name`"):
        ReleaseSettings(project_name=name)


@pytest.mark.parametrize("dist", ["/tmp/dist", "../dist", "a/../../dist"])
def test_dist_dir_outside_the_workspace_is_refused(dist: str) -> None:
    with pytest.raises(ValueError, match="`dist-dir`"):
        ReleaseSettings(dist_dir=dist)


def _bin_workspace(root: Path) -> Path:
    (root / "tool" / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["tool"]\n')
    (root / "tool" / "Cargo.toml").write_text('[package]\nname = "tool"\nversion = "0.1.0"\nedition = "2021"\n')
    (root / "tool" / "src" / "main.rs").write_text("fn main() {}\n")
    (root / "tool" / "README.md").write_text("# tool\n")
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    return root


def _build(root: Path, commit: str = "a" * 40) -> list[Path]:
    return artifacts.build(load_workspace(root), dist=root / "dist", project="tool", versions={"tool": "0.1.0"},
                           workspace_version=None, tags=["v0.1.0"], commit=commit, commit_time=1_700_000_000,
                           crates=["tool"])


@needs_cargo
def test_symlinked_readme_and_license_are_not_packaged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _bin_workspace(tmp_path / "ws")
    secret = tmp_path / "outside-secret"
    secret.write_text("TOKEN=do-not-ship\n")
    (root / "tool" / "README.env").symlink_to("/proc/self/environ")
    (root / "tool" / "LICENSE").symlink_to(secret)
    written = _build(root)
    tarball = next(p for p in written if p.name.startswith("tool-0.1.0-"))
    with tarfile.open(tarball) as tar:
        names = sorted(Path(n).name for n in tar.getnames())
        contents = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
    assert "README.md" in names and "README.env" not in names and "LICENSE" not in names
    assert b"do-not-ship" not in contents and b"PATH=" not in contents
    err = capsys.readouterr().err
    assert "README.env is a symlink or not a regular file: not packaged" in err
    assert "LICENSE is a symlink or not a regular file: not packaged" in err


@needs_cargo
def test_dist_holds_only_this_releases_files(tmp_path: Path) -> None:
    root = _bin_workspace(tmp_path / "ws")
    first = {p.name for p in _build(root, "a" * 40)}
    second = {p.name for p in _build(root, "b" * 40)}
    assert first != second
    assert {p.name for p in (root / "dist").iterdir()} == second  # the previous release's tarball is gone
    sums = (root / "dist" / "SHA256SUMS").read_text()
    listed = {line.split("  ", 1)[1] for line in sums.splitlines()}
    assert listed == second - {"SHA256SUMS"}
    (root / "dist" / "notes.txt").write_text("mine")
    with pytest.raises(OperationFailed, match=r"holds files no release of this tool wrote: notes\.txt"):
        _build(root, "c" * 40)
    assert (root / "dist" / "notes.txt").read_text() == "mine"
    assert json.loads((root / "dist" / "manifest.json").read_text())["commit"] == "b" * 40


@needs_cargo
def test_a_symlinked_dist_is_refused(tmp_path: Path) -> None:
    root = _bin_workspace(tmp_path / "ws")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "dist").symlink_to(elsewhere)
    with pytest.raises(OperationFailed, match="is a symlink"):
        _build(root)
    assert list(elsewhere.iterdir()) == []
