"""The installed pre-push hook, exercised by real pushes to a local bare remote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hooks_support import commit_all, env, git, hooked_clone, pipeline

LEAF = "gen-crate-0003"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of a bare remote holding a 4-crate workspace, with the hook installed."""
    return hooked_clone(tmp_path, 4, lockfile=False)


def push(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "push", *args], cwd=repo, capture_output=True, text=True, env=env())


def remote_head(repo: Path, branch: str = "main") -> str:
    return git(repo, "ls-remote", "origin", f"refs/heads/{branch}").stdout.split()[0]


def test_push_with_a_formatting_error_is_rejected(clone: Path) -> None:
    before = remote_head(clone)
    lib = clone / "crates" / LEAF / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "pub fn   badly_formatted( )->u8{1}\n")
    commit_all(clone, "bad formatting")
    result = push(clone, "origin", "main")
    assert result.returncode != 0
    assert f"cargo fmt -p {LEAF} --check" in result.stderr
    assert "pre-push checks failed: fmt" in result.stderr
    assert "git push --no-verify" in result.stderr
    assert f"run `cargo fmt -p {LEAF}`" in result.stderr  # how to fix
    assert remote_head(clone) == before


def test_clean_push_is_accepted_and_checks_only_affected_crates(clone: Path) -> None:
    lib = clone / "crates" / LEAF / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "pub fn well_formatted() -> u8 {\n    1\n}\n")
    sha = commit_all(clone, "clean change")
    result = push(clone, "origin", "main")
    assert result.returncode == 0, result.stderr
    assert f"affected crates: {LEAF}" in result.stderr
    assert "checks passed" in result.stderr
    assert remote_head(clone) == sha


def test_docs_only_push_exits_at_once(clone: Path) -> None:
    (clone / "NOTES.md").write_text("notes\n")
    commit_all(clone, "docs")
    result = push(clone, "origin", "main")
    assert result.returncode == 0, result.stderr
    assert "nothing to check" in result.stderr
    assert "cargo" not in result.stderr.replace("cargo-gpu", "")


def test_new_branch_is_compared_with_the_default_branch(clone: Path) -> None:
    git(clone, "checkout", "-q", "-b", "feature")
    (clone / "NOTES.md").write_text("notes\n")
    commit_all(clone, "docs on a branch")
    result = push(clone, "origin", "feature")
    assert result.returncode == 0, result.stderr
    assert "nothing to check" in result.stderr  # not "every file is new"


def test_new_branch_with_bad_code_is_rejected(clone: Path) -> None:
    git(clone, "checkout", "-q", "-b", "feature")
    lib = clone / "crates" / LEAF / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "pub fn   bad( ) {}\n")
    commit_all(clone, "bad")
    result = push(clone, "origin", "feature")
    assert result.returncode != 0 and "pre-push checks failed" in result.stderr


def test_branch_deletion_checks_nothing(clone: Path) -> None:
    git(clone, "branch", "doomed")
    assert push(clone, "--no-verify", "origin", "doomed").returncode == 0
    # Make the work tree unformatted: a deletion must not look at it.
    lib = clone / "crates" / LEAF / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "pub fn   bad( ) {}\n")
    result = push(clone, "origin", "--delete", "doomed")
    assert result.returncode == 0, result.stderr
    assert "no checks" in result.stderr


def test_hook_runs_from_stdin_lines_directly(clone: Path) -> None:
    """`pipeline hooks run` is what the script calls: git's lines on stdin."""
    base = git(clone, "rev-parse", "HEAD").stdout.strip()
    (clone / "NOTES.md").write_text("notes\n")
    head = commit_all(clone, "docs")
    line = f"refs/heads/main {head} refs/heads/main {base}\n"
    result = pipeline(clone, "--workspace", str(clone), "hooks", "run", "origin", "url", stdin=line)
    assert result.returncode == 0 and "nothing to check" in result.stderr
