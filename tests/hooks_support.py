"""Helpers for the affected/hooks/features tests: real git repositories in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples" / "prism4d"


def env() -> dict[str, str]:
    """The environment for child processes: this checkout's package first on the path."""
    result = dict(os.environ)
    result["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + result["PYTHONPATH"] if result.get("PYTHONPATH") else "")
    result.pop("PIPELINE_WORKSPACE", None)
    result["CARGO_TERM_COLOR"] = "never"
    result["GIT_TERMINAL_PROMPT"] = "0"
    return result


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True, env=env())


def commit_all(cwd: Path, message: str) -> str:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD").stdout.strip()


def pipeline(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True, env=env(), input=stdin
    )


def affected_json(workspace: Path, base: str) -> dict:
    result = pipeline(workspace, "--workspace", str(workspace), "affected", "--base", base, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def configure_identity(repo: Path) -> None:
    git(repo, "config", "user.email", "tests@example.com")
    git(repo, "config", "user.name", "Tests")
    git(repo, "config", "commit.gpgsign", "false")


def hooked_clone(tmp_path: Path, crates: int = 2, hooks_config: str = "", *, lockfile: bool = True) -> Path:
    """A clone of a bare remote (`origin`) holding a small workspace, with the pre-push hook installed.

    ``hooks_config``: lines for `[workspace.metadata.pipeline.hooks]`, committed in the first commit.
    """
    from factory import make_workspace

    origin = tmp_path / "origin"
    make_workspace(origin, crates, lockfile=lockfile)
    if hooks_config:
        manifest = origin / "Cargo.toml"
        manifest.write_text(manifest.read_text() + "\n[workspace.metadata.pipeline.hooks]\n" + hooks_config)
    from factory import init_git

    init_git(origin)
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(origin), str(remote))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    configure_identity(work)
    result = pipeline(work, "--workspace", str(work), "hooks", "install")
    assert result.returncode == 0, result.stderr
    return work
