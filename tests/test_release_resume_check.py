"""`release --resume` checks the finished tree as the release's write step does: `cargo metadata
--locked --offline` over the whole graph (with `--no-deps` cargo never reads Cargo.lock). A tree
cargo refuses gets the files it wrote back, and the journal stays for `--abort`."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from release_support import make_shapes, snapshot

from pipeline import cli
from pipeline.release.journal import FileChange, Journal, save
from pipeline.release.recover import journal_location

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def test_resume_of_a_tree_cargo_refuses_puts_the_files_back(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    ws = make_shapes(tmp_path / "ws", lockfile=True)
    before = snapshot(ws)
    manifest = ws / "crates" / "own" / "Cargo.toml"
    old = manifest.read_bytes()
    # A journal whose plan moves `own` but not its Cargo.lock entry: `--no-deps` would accept it.
    new = old.replace(b'version = "1.2.0"', b'version = "1.3.0"')
    assert new != old
    path = journal_location(ws)
    save(path, Journal(root=str(ws), head=None, branch=None, started=time.time(), command="bump",
                       files=(FileChange("crates/own/Cargo.toml", old, new),), commit_message=None))

    assert cli.main(["release", "--resume", "--workspace", str(ws)]) == 1
    err = capsys.readouterr().err
    assert "cargo metadata --locked --offline" in err and "--abort" in err
    assert manifest.read_bytes() == old and path.exists()

    assert cli.main(["release", "--abort", "--workspace", str(ws)]) == 0
    assert snapshot(ws) == before and not path.exists()
