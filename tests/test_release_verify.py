"""After writing, `bump` and `release` run `cargo metadata --offline --locked` (issue 13 point 3):
accepted, refused (every file restored), or skipped with the reason (no Cargo.lock, no cargo, no
registry cache to resolve offline)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release_support import cli, snapshot
from shapes_real import cargo_resolves, git, make_real

CHECK = "`cargo metadata --offline --locked`"
pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def test_bump_checks_the_workspace_and_the_excluded_crates_own_lock(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", tags=False)
    result = cli("bump", "minor", "--execute", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    assert f"bump: {CHECK} accepts the written manifests and Cargo.lock" in result.stderr
    # kernels (excluded, its own [workspace] and Cargo.lock) had its requirement on core moved.
    assert f"bump: {CHECK} in kernels accepts the written manifests and Cargo.lock" in result.stderr
    assert cargo_resolves(root).returncode == 0 and cargo_resolves(root / "kernels").returncode == 0


def test_release_checks_too(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws")
    result = cli("release", "minor", "--execute", "--no-verify", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    assert f"release: {CHECK} accepts the written manifests and Cargo.lock" in result.stderr


def test_a_lock_cargo_rejects_restores_every_file(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", tags=False)
    # A member added after the lock was made: cargo --locked refuses the tree.
    (root / "crates/late/src").mkdir(parents=True)
    (root / "crates/late/Cargo.toml").write_text('[package]\nname = "late"\nversion = "0.1.0"\nedition = "2021"\n')
    (root / "crates/late/src/lib.rs").write_text("")
    before = snapshot(root)
    result = cli("bump", "minor", "--execute", "--workspace", str(root))
    assert result.returncode == 1
    assert "cargo metadata" in result.stderr and "nothing was changed" in result.stderr
    assert snapshot(root) == before


def test_no_registry_cache_is_said_not_hidden(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", tags=False)
    # A registry dependency cargo has never downloaded here: it cannot resolve offline.
    lock = root / "Cargo.lock"
    lock.write_text(lock.read_text() + '\n[[package]]\nname = "zzz-not-cached"\nversion = "1.0.0"\n'
                    'source = "registry+https://github.com/rust-lang/crates.io-index"\n'
                    'checksum = "' + "0" * 64 + '"\n')
    tool = root / "crates/tool/Cargo.toml"
    tool.write_text(tool.read_text() + 'zzz-not-cached = "1"\n')
    empty_home = tmp_path / "cargo-home"
    empty_home.mkdir()
    result = cli("bump", "minor", "--execute", "--workspace", str(root), env={"CARGO_HOME": str(empty_home)})
    assert result.returncode == 0, result.stderr
    assert f"bump: {CHECK} skipped: cargo cannot resolve offline here (error: " in result.stderr
    assert "run it with the network to check" in result.stderr


def test_no_lockfile_and_no_cargo_are_said(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", tags=False, lockfile=False)
    result = cli("bump", "patch", "--execute", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    assert f"bump: {CHECK} skipped: the workspace has no Cargo.lock" in result.stderr
    locked = make_real(tmp_path / "locked", tags=False)
    bare = tmp_path / "bin"
    bare.mkdir()
    os.symlink(shutil.which("git") or "/usr/bin/git", bare / "git")
    result = cli("bump", "patch", "--execute", "--workspace", str(locked), env={"PATH": str(bare)})
    assert result.returncode == 0, result.stderr
    assert f"bump: {CHECK} skipped: cargo is not installed here" in result.stderr
    assert 'version = "0.11.1"' in (locked / "Cargo.toml").read_text()
    git(locked, "status")  # the repository is fine


RUSTUP_REFUSAL = """#!/bin/sh
echo "error: toolchain '1.76-x86_64-unknown-linux-gnu' is not installed" >&2
echo "help: run \\`rustup toolchain install\\` to install it" >&2
exit 1
"""


def test_a_pinned_toolchain_this_machine_lacks_is_a_skip_not_a_refusal(tmp_path: Path) -> None:
    """wgpu's rust-toolchain.toml pins 1.76: rustup refuses to start cargo, so the check was not
    made (cargo read no manifest); the bump is kept and the line says why and how to check."""
    root = make_real(tmp_path / "ws", tags=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "cargo"
    fake.write_text(RUSTUP_REFUSAL)
    fake.chmod(0o755)
    result = cli("bump", "patch", "--execute", "--workspace", str(root),
                 env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    assert (f"bump: {CHECK} skipped: cargo cannot run here (error: toolchain '1.76-x86_64-unknown-linux-gnu' is "
            "not installed); install that toolchain") in result.stderr
    assert 'version = "0.11.1"' in (root / "Cargo.toml").read_text()
