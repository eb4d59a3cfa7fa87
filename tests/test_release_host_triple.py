"""`rustc -vV` (the host triple) is asked only where it names something: a binary crate's tarball.

A fake `rustc` first on PATH records each call; the plan of a library-only workspace never
starts it, the plan of a workspace with a binary names its tarball with the triple it printed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from release_support import cli, init_git

FAKE_RUSTC = """#!/bin/sh
echo called >> "{log}"
printf 'rustc 1.95.0 (fake)\\nbinary: rustc\\nhost: x86_64-fake-linux-gnu\\nrelease: 1.95.0\\n'
"""


def _workspace(root: Path, *, binary: bool) -> Path:
    (root / "crates" / "core" / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n')
    (root / "crates" / "core" / "Cargo.toml").write_text(
        '[package]\nname = "core"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\ndescription = "c"\n')
    (root / "crates" / "core" / "src" / ("main.rs" if binary else "lib.rs")).write_text("fn main() {}\n")
    init_git(root)
    return root


def _env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "rustc-calls"
    fake = bin_dir / "rustc"
    fake.write_text(FAKE_RUSTC.format(log=log))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, log


def test_a_library_workspace_plan_never_asks_rustc(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", binary=False)
    env, log = _env(tmp_path)
    result = cli("release", "patch", "--no-verify", "--workspace", str(root), env=env)
    assert result.returncode == 0, result.stderr
    assert "dist/manifest.json" in result.stdout
    assert not log.exists()


def test_a_binary_crate_plan_names_its_tarball_with_the_host_triple(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", binary=True)
    env, log = _env(tmp_path)
    result = cli("release", "patch", "--no-verify", "--workspace", str(root), env=env)
    assert result.returncode == 0, result.stderr
    assert "x86_64-fake-linux-gnu.tar.gz" in result.stdout
    assert log.read_text().count("called") == 1
    # --target names the triple itself: rustc is not asked.
    log.unlink()
    result = cli("release", "patch", "--no-verify", "--target", "aarch64-unknown-linux-gnu", "--workspace",
                 str(root), env=env)
    assert result.returncode == 0, result.stderr
    assert "aarch64-unknown-linux-gnu.tar.gz" in result.stdout and not log.exists()


BROKEN_RUSTC = """#!/bin/sh
echo "error: toolchain '1.76-x86_64-unknown-linux-gnu' is not installed" >&2
exit 1
"""


def test_a_toolchain_that_cannot_run_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """wgpu pins 1.76 in rust-toolchain.toml: without it no binary builds, so the release says so
    in the plan and refuses at --execute before the commit and tags, not after them."""
    from release_support import git, snapshot

    root = _workspace(tmp_path / "ws", binary=True)
    env, _log = _env(tmp_path)
    (tmp_path / "bin" / "rustc").write_text(BROKEN_RUSTC)
    head = git(root, "rev-parse", "HEAD")
    plan = cli("release", "patch", "--no-verify", "--workspace", str(root), env=env)
    assert plan.returncode == 0, plan.stderr
    assert ("`rustc -vV` fails here (error: toolchain '1.76-x86_64-unknown-linux-gnu' is not installed): the "
            "release's binaries cannot be built (--execute would refuse)") in plan.stdout + plan.stderr
    before = snapshot(root)
    refused = cli("release", "patch", "--execute", "--no-verify", "--workspace", str(root), env=env)
    assert refused.returncode == 1
    assert "hint: install the toolchain the workspace asks for" in refused.stderr
    assert snapshot(root) == before and git(root, "rev-parse", "HEAD") == head and git(root, "tag") == ""
