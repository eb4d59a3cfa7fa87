"""The one git module (pipeline/foundation/git.py) against real git in tmp repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline.foundation import git
from pipeline.foundation.errors import EXIT_FAILED, EXIT_USAGE, OperationFailed


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    top = tmp_path / "repo"
    (top / "ws" / "src").mkdir(parents=True)
    _git(top, "init", "-q", "-b", "main")
    _git(top, "config", "user.name", "T")
    _git(top, "config", "user.email", "t@example.com")
    _git(top, "config", "commit.gpgsign", "false")
    return top


def test_failures_are_one_family_with_the_documented_exit_codes(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(git.GitError, match=r"`git log -1 HEAD --` failed in .* \(exit 128\)") as failed:
        git.run_git(repo, "log", "-1", "HEAD", "--")  # no commits yet
    assert failed.value.exit_code == EXIT_FAILED and failed.value.hint
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(git.NotARepository, match="is not inside a git repository") as not_repo:
        git.toplevel(outside)
    assert not_repo.value.exit_code == EXIT_USAGE and isinstance(not_repo.value, git.GitError)
    with pytest.raises(git.UnknownRevision) as unknown:
        git.require_commit(repo, "no-such-branch")
    assert unknown.value.exit_code == EXIT_USAGE
    assert git.find_toplevel(outside) is None and git.open_repo(outside) is None


def test_a_workspace_in_a_subdirectory_reads_and_writes_through_the_cli(repo: Path) -> None:
    ws = repo / "ws"
    (ws / "src" / "lib.rs").write_text("// one\n")
    (repo / "elsewhere.txt").write_text("x\n")
    opened = git.open_repo(ws)
    assert opened is not None and opened.top == git.toplevel(ws) and opened.prefix == "ws/"
    assert opened.head() is None and opened.branch() == "main" and opened.commits(None) == []
    sha = opened.commit([ws / "src" / "lib.rs"], "feat: one\n\nbody")
    assert sha == opened.head() == git.resolve(repo, "main")
    assert "elsewhere.txt" not in _git(repo, "ls-files")  # exactly the paths given
    opened.tag("v1", "release v1")
    assert opened.tag_exists("v1") and opened.tags_at_head() == ["v1"] == opened.tags_merged()
    (ws / "src" / "lib.rs").write_text("// two\n")
    assert opened.dirty_files() == ["ws/src/lib.rs"]
    [info] = opened.commits(None)
    assert (info.sha, info.subject, info.body, info.files) == (sha, "feat: one", "body", ("src/lib.rs",))
    assert opened.commit_time() == int(_git(repo, "log", "-1", "--format=%ct"))
    opened.delete_tag("v1")
    assert not opened.tag_exists("v1")
    with pytest.raises(OperationFailed, match="git push"):
        opened.push("nowhere", [])


def test_a_refusing_commit_hook_is_a_git_error(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho hook says no >&2\nexit 1\n")
    hook.chmod(0o755)
    (repo / "ws" / "f").write_text("x\n")
    opened = git.open_repo(repo / "ws")
    assert opened is not None
    with pytest.raises(git.GitError, match="hook says no"):
        opened.commit([repo / "ws" / "f"], "chore: f")
    assert git.git_path(repo, "hooks") == repo / ".git" / "hooks"
