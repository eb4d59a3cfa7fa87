"""Helpers for the release tests: small workspaces with every requirement shape, git, snapshots."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from factory import init_git  # noqa: E402

__all__ = ["REPO", "cli", "git", "init_git", "make_shapes", "snapshot"]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline ARGS`` from this checkout, as a user runs it."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], cwd=cwd or REPO, env=full_env, capture_output=True, text=True
    )


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except .git and target, by relative path."""
    result = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in (".git", "target") or not path.is_file():
            continue
        result[rel.as_posix()] = path.read_bytes()
    return result


ROOT_MANIFEST = """\
# Shapes workspace: every way a requirement on a member can be written.
[workspace]
resolver = "2"
members = ["crates/*"]

[workspace.package]
version = "0.4.2"  # lockstep
edition = "2021"
license = "MIT"

[workspace.dependencies]
core = { path = "crates/core", version = "0.4.2" }  # shared line
tk = { path = "crates/tk" }
"""

CRATES = {
    "core": '[package]\nname = "core"\nversion.workspace = true\nedition.workspace = true\n',
    "util": '[package]\nname = "util"\nversion = { workspace = true }\nedition.workspace = true\n',
    "own": (
        '[package]\nname = "own"\nversion = "1.2.0"  # own line\nedition = "2021"\n\n'
        "[dependencies]\n"
        'core = { path = "../core", version = "0.4" }\n'
    ),
    "app": (
        '[package]\nname = "app"\nversion.workspace = true\nedition.workspace = true\n\n'
        "[dependencies]\n"
        "# renamed: the code says core_types\n"
        'core-types = { package = "core", path = "../core", version = "=0.4.2" }\n\n'
        "[target.'cfg(unix)'.dependencies]\n"
        'util = { path = "../util", version = "^0.4" }\n\n'
        "[build-dependencies]\n"
        'own = { path = "../own", version = "~1.2.0" }\n\n'
        "[dev-dependencies]\n"
        "tk.workspace = true\n"
    ),
    "tk": (
        '[package]\nname = "tk"\nversion.workspace = true\nedition.workspace = true\npublish = false\n\n'
        "[dependencies]\ncore = { workspace = true }\n"
    ),
    "ranged": (
        '[package]\nname = "ranged"\nversion = "3.0.0"\nedition = "2021"\n\n'
        "[dependencies]\n"
        'core = { path = "../core", version = ">=0.4, <0.6" }\n'
        'util = { path = "../util", version = "*" }\n'
    ),
    "sub": (
        '[package]\r\nname = "sub"\r\nversion.workspace = true\r\nedition.workspace = true\r\n\r\n'
        "[dependencies.util]\r\n"
        'path = "../util"\r\n'
        'version = "0.4.2"   # CRLF manifest, sub-table form\r\n'
    ),
}


def make_shapes(root: Path, *, lockfile: bool = False, git_repo: bool = False, extra_root: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Cargo.toml").write_text(ROOT_MANIFEST + extra_root)
    for name, manifest in CRATES.items():
        directory = root / "crates" / name
        (directory / "src").mkdir(parents=True, exist_ok=True)
        (directory / "Cargo.toml").write_bytes(manifest.encode())
        (directory / "src" / "lib.rs").write_text(f"pub fn name() -> &'static str {{\n    \"{name}\"\n}}\n")
    (root / ".gitignore").write_text("/target\n/dist\n")
    if lockfile:
        subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    if git_repo:
        init_git(root)
    return root
