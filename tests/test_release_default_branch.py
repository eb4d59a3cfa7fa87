"""The remote's default branch (origin/HEAD) is a release branch while `allowed-branches` is unset."""

from __future__ import annotations

from pathlib import Path

from release_support import cli, git, init_git


def _workspace(root: Path) -> Path:
    (root / "crates" / "core" / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n')
    (root / "crates" / "core" / "Cargo.toml").write_text(
        '[package]\nname = "core"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\ndescription = "c"\n')
    (root / "crates" / "core" / "src" / "lib.rs").write_text("")
    init_git(root)
    return root


def test_a_clone_whose_origin_head_is_trunk_releases_from_trunk(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws")
    git(root, "branch", "-m", "trunk")
    git(root, "update-ref", "refs/remotes/origin/trunk", "HEAD")
    git(root, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    plan = cli("release", "patch", "--no-verify", "--workspace", str(root))
    assert plan.returncode == 0, plan.stderr
    assert "releases are made from" not in plan.stdout + plan.stderr
    git(root, "checkout", "-q", "-b", "topic")
    plan = cli("release", "patch", "--no-verify", "--workspace", str(root))
    assert "releases are made from main, master, release/*, trunk; this is branch `topic`" in plan.stdout + plan.stderr
