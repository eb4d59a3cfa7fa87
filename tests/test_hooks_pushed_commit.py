"""The pre-push hook checks the commits a push sends, not the work tree (real git, real `cargo fmt`).

Every push below goes to a local bare remote through the installed hook. Only `cargo fmt --check`
is enabled (clippy off), so each check is a fraction of a second on a two-crate workspace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hooks_support import commit_all, env, git, hooked_clone, pipeline

CRATE = "gen-crate-0001"
BAD = "pub fn   badly_formatted( )->u8{1}\n"
GOOD = "pub fn well_formatted() -> u8 {\n    1\n}\n"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    return hooked_clone(tmp_path, 2, "run-clippy = false\n")


def lib(repo: Path) -> Path:
    return repo / "crates" / CRATE / "src" / "lib.rs"


def push(repo: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`git push ARGS` with the hook's temporary directory under ``tmp`` (so what it leaves is visible)."""
    tmp.mkdir(exist_ok=True)
    return subprocess.run(["git", "push", *args], cwd=repo, capture_output=True, text=True,
                          env={**env(), "TMPDIR": str(tmp)})


def remote_sha(repo: Path, ref: str) -> str | None:
    out = git(repo, "ls-remote", "origin", ref).stdout.split()
    return out[0] if out else None


def assert_no_worktree_left(repo: Path, tmp: Path) -> None:
    assert list(tmp.iterdir()) == [], f"temporary checkout left behind: {list(tmp.iterdir())}"
    listed = git(repo, "worktree", "list", "--porcelain").stdout
    assert listed.count("worktree ") == 1, listed
    assert not (repo / ".git" / "worktrees").exists() or not list((repo / ".git" / "worktrees").iterdir())


def test_a_bad_commit_fixed_only_in_the_work_tree_is_refused(clone: Path, tmp_path: Path) -> None:
    before = remote_sha(clone, "refs/heads/main")
    original = lib(clone).read_text()
    lib(clone).write_text(original + BAD)
    commit_all(clone, "bad formatting")
    lib(clone).write_text(original + GOOD)  # fixed, but not committed: the push would still send BAD
    result = push(clone, tmp_path / "tmp", "origin", "main")
    assert result.returncode != 0, result.stderr
    assert "temporary worktree: the work tree has uncommitted or untracked changes" in result.stderr
    assert f"pre-push checks failed: fmt ({CRATE}) [refs/heads/main (" in result.stderr
    assert "commit the fix" in result.stderr
    assert remote_sha(clone, "refs/heads/main") == before
    assert lib(clone).read_text() == original + GOOD  # the work tree is left as it was
    assert_no_worktree_left(clone, tmp_path / "tmp")


def test_a_good_commit_with_a_bad_uncommitted_edit_passes(clone: Path, tmp_path: Path) -> None:
    original = lib(clone).read_text()
    lib(clone).write_text(original + GOOD)
    sha = commit_all(clone, "good change")
    lib(clone).write_text(original + GOOD + BAD)  # not part of the push
    result = push(clone, tmp_path / "tmp", "origin", "main")
    assert result.returncode == 0, result.stderr
    assert "temporary worktree" in result.stderr and "1 checks passed" in result.stderr
    assert remote_sha(clone, "refs/heads/main") == sha
    assert lib(clone).read_text() == original + GOOD + BAD
    assert_no_worktree_left(clone, tmp_path / "tmp")


def test_a_clean_head_is_checked_in_place(clone: Path, tmp_path: Path) -> None:
    lib(clone).write_text(lib(clone).read_text() + GOOD)
    commit_all(clone, "good change")
    result = push(clone, tmp_path / "tmp", "origin", "main")
    assert result.returncode == 0, result.stderr
    assert "temporary worktree" not in result.stderr and "1 checks passed" in result.stderr


def test_a_bad_non_head_branch_is_refused_and_named(clone: Path, tmp_path: Path) -> None:
    git(clone, "checkout", "-q", "-b", "bad")
    lib(clone).write_text(lib(clone).read_text() + BAD)
    bad = commit_all(clone, "bad formatting on a branch")
    git(clone, "checkout", "-q", "main")
    lib(clone).write_text(lib(clone).read_text() + GOOD)
    good = commit_all(clone, "good change on main")
    # HEAD (main) is clean and good; the branch pushed beside it is not.
    result = push(clone, tmp_path / "tmp", "origin", "main", "bad")
    assert result.returncode != 0, result.stderr
    assert f"fmt ({CRATE}) [refs/heads/bad ({bad[:12]})]" in result.stderr
    assert "refs/heads/main (" not in result.stderr.split("pre-push checks failed:")[1]
    assert f"ok   fmt ({CRATE}) (" in result.stderr  # main's check ran and passed
    assert "after checking out refs/heads/bad" in result.stderr
    assert remote_sha(clone, "refs/heads/bad") is None and remote_sha(clone, "refs/heads/main") != good
    assert_no_worktree_left(clone, tmp_path / "tmp")
    # Alone, the good branch goes through.
    assert push(clone, tmp_path / "tmp", "origin", "main").returncode == 0


def test_an_annotated_tag_on_a_bad_commit_is_refused(clone: Path, tmp_path: Path) -> None:
    git(clone, "checkout", "-q", "--detach")
    lib(clone).write_text(lib(clone).read_text() + BAD)
    bad = commit_all(clone, "bad formatting, tagged")
    git(clone, "tag", "-a", "v9.9.9", "-m", "release")
    git(clone, "checkout", "-q", "main")
    result = push(clone, tmp_path / "tmp", "origin", "v9.9.9")
    assert result.returncode != 0, result.stderr
    assert f"[refs/tags/v9.9.9 ({bad[:12]})]" in result.stderr  # peeled: the commit, not the tag object
    assert remote_sha(clone, "refs/tags/v9.9.9") is None
    assert_no_worktree_left(clone, tmp_path / "tmp")


def test_refs_sending_the_same_commit_are_checked_once(clone: Path, tmp_path: Path) -> None:
    git(clone, "checkout", "-q", "--detach")
    lib(clone).write_text(lib(clone).read_text() + BAD)
    bad = commit_all(clone, "bad")
    git(clone, "checkout", "-q", "main")
    base = git(clone, "rev-parse", "main").stdout.strip()
    zero = "0" * 40
    lines = "".join(f"refs/heads/{name} {bad} refs/heads/{name} {zero}\n" for name in ("one", "two"))
    lines += f"refs/heads/main {base} refs/heads/main {base}\n"  # nothing new
    result = pipeline(clone, "--workspace", str(clone), "hooks", "run", "origin", "url", stdin=lines)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count(f"fmt ({CRATE}) ...") == 1
    assert f"[refs/heads/one, refs/heads/two ({bad[:12]})]" in result.stderr


def test_a_branch_without_the_workspace_is_not_refused(clone: Path, tmp_path: Path) -> None:
    git(clone, "checkout", "-q", "--orphan", "pages")
    git(clone, "rm", "-rq", "--cached", ".")
    for path in list(clone.iterdir()):
        if path.name != ".git":
            subprocess.run(["rm", "-rf", str(path)], check=True)
    (clone / "index.html").write_text("<p>docs</p>\n")
    commit_all(clone, "pages")
    git(clone, "checkout", "-q", "-f", "main")
    result = push(clone, tmp_path / "tmp", "origin", "pages")
    assert result.returncode == 0, result.stderr
    assert "no Cargo workspace" in result.stderr


def test_sigterm_during_a_check_removes_the_temporary_worktree(clone: Path, tmp_path: Path) -> None:
    """A hook killed while it checks (the user's terminal closed, a CI timeout) leaves no checkout."""
    lib(clone).write_text(lib(clone).read_text() + GOOD)
    sha = commit_all(clone, "good")
    git(clone, "checkout", "-q", "--detach", "HEAD~1")
    marker = tmp_path / "rustfmt-started"
    slow = tmp_path / "slow-rustfmt"
    # cargo fmt runs $RUSTFMT: this one says it started, then never finishes on its own.
    slow.write_text(f"#!/bin/sh\necho $$ > {marker}\nexec sleep 600\n")
    slow.chmod(0o755)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    base = git(clone, "rev-parse", "HEAD").stdout.strip()
    lines = tmp_path / "lines"
    lines.write_text(f"refs/heads/main {sha} refs/heads/main {base}\n")
    log = tmp_path / "stderr"
    with lines.open() as stdin, log.open("w") as stderr:
        hook = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--workspace", str(clone), "hooks", "run", "origin", "url"],
            cwd=clone, stdin=stdin, stderr=stderr, env={**env(), "TMPDIR": str(tmp), "RUSTFMT": str(slow)},
        )
    while not marker.exists() and hook.poll() is None:
        time.sleep(0.05)
    try:
        assert marker.exists(), log.read_text()
        assert list(tmp.iterdir()), "the check should be running in a temporary checkout"
        hook.send_signal(signal.SIGTERM)
        assert hook.wait() != 0
        assert "Traceback" not in log.read_text(), log.read_text()
        assert_no_worktree_left(clone, tmp)
    finally:
        text = marker.read_text().strip() if marker.exists() else ""
        if text.isdigit():
            try:
                os.kill(int(text), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_checkouts_build_in_the_hooks_own_target_dir(tmp_path: Path) -> None:
    """Cargo output of a temporary checkout goes to `target/pipeline-pre-push`, never the work tree's own."""
    clone = hooked_clone(tmp_path, 2)  # clippy on: it builds
    git(clone, "checkout", "-q", "-b", "side")
    lib(clone).write_text(lib(clone).read_text() + GOOD)
    commit_all(clone, "good change on a branch")
    git(clone, "checkout", "-q", "main")
    result = push(clone, tmp_path / "tmp", "origin", "side")
    assert result.returncode == 0, result.stderr
    assert "2 checks passed" in result.stderr  # fmt and clippy
    shared = clone / "target" / "pipeline-pre-push"
    assert (shared / "debug").is_dir(), result.stderr
    assert sorted(p.name for p in (clone / "target").iterdir()) == ["pipeline-pre-push"]
    assert_no_worktree_left(clone, tmp_path / "tmp")
