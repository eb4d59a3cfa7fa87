"""Synthetic workspaces with the shapes of real ones (issue 13), each with a git history.

``make_real(root)`` writes:

* members ``crates/core`` and ``crates/app`` on the shared version 0.11.0, and ``macros``
  (own version 2.7.0) which ``app`` uses as ``macros = "~2.7.0"`` through
  ``[patch.crates-io] macros = { path = "macros" }`` (serde's shape);
* ``kernels``: ``exclude``d (built apart for nvcc), its own ``[workspace]``, on the
  workspace's version line, ``core = { path = "../crates/core", version = "0.11.0" }``;
* ``examples/demo``: an example with its own manifest (``publish = false``, 0.0.0)
  requiring ``core = "^0.11"`` by path;
* ``crates/tool``: a ``publish = false`` member with its own version;
* a history: tags ``{version}`` style (bare ``0.10.0``, ``0.11.0``) by default.

Everything is std-only with path dependencies, so ``cargo metadata --offline`` resolves.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = """\
[workspace]
resolver = "2"
members = ["crates/*", "macros"]
exclude = ["kernels"]

[workspace.package]
version = "0.11.0"
edition = "2021"

[patch.crates-io]
macros = { path = "macros" }
"""

FILES = {
    "crates/core/Cargo.toml": '[package]\nname = "core"\nversion.workspace = true\nedition.workspace = true\n',
    "crates/app/Cargo.toml": (
        '[package]\nname = "app"\nversion.workspace = true\nedition.workspace = true\n\n'
        "[dependencies]\n"
        'core = { path = "../core", version = "0.11.0" }\n'
        'macros = "~2.7.0"\n'
    ),
    "crates/tool/Cargo.toml": (
        '[package]\nname = "tool"\nversion = "0.3.0"\nedition = "2021"\npublish = false\n\n'
        '[dependencies]\ncore = { path = "../core", version = "0.11" }\n'
    ),
    "macros/Cargo.toml": '[package]\nname = "macros"\nversion = "2.7.0"\nedition = "2021"\n',
    "kernels/Cargo.toml": (
        '[package]\nname = "kernels"\nversion = "0.11.0"\nedition = "2021"\n\n[workspace]\n\n'
        '[dependencies]\ncore = { path = "../crates/core", version = "0.11.0" }\n'
    ),
    "examples/demo/Cargo.toml": (
        '[package]\nname = "demo"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[workspace]\n\n'
        '[dependencies]\ncore = { path = "../../crates/core", version = "^0.11" }\n'
    ),
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def make_real(root: Path, *, extra_root: str = "", files: dict[str, str] | None = None, tags: bool = True,
              lockfile: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Cargo.toml").write_text(ROOT + extra_root)
    for rel, text in {**FILES, **(files or {})}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        (path.parent / "src").mkdir(exist_ok=True)
        (path.parent / "src" / "lib.rs").write_text("pub fn f() {}\n")
    (root / ".gitignore").write_text("/target\n/dist\ntarget/\n")
    if lockfile:
        for directory in (root, root / "kernels", root / "examples" / "demo"):
            subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=directory, check=True,
                           capture_output=True)
    git(root, "init", "-q", "-b", "main")
    for key, value in (("user.email", "t@example.com"), ("user.name", "T"), ("commit.gpgsign", "false"),
                       ("tag.gpgsign", "false")):
        git(root, "config", key, value)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "chore: initial commit")
    if tags:
        git(root, "tag", "-a", "0.10.0", "-m", "0.10.0")
        commit(root, "crates/core/src/lib.rs", "feat: core learns to count")
        git(root, "tag", "-a", "0.11.0", "-m", "0.11.0")
    return root


def commit(root: Path, rel: str, message: str) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(f"// {message}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def cargo_resolves(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["cargo", "metadata", "--offline", "--locked", "--format-version", "1"], cwd=directory,
                          capture_output=True, text=True)
