"""A release of many crates at once (bevy's 72) makes a commit with a short subject and every tag
in the body; the plan shows the subject."""

from __future__ import annotations

from pathlib import Path

from release_support import cli, git, init_git


def test_seven_crates_released_at_once(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    names = [f"part{i}" for i in range(7)]
    (root / "crates").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n')
    for name in names:
        (root / "crates" / name / "src").mkdir(parents=True)
        (root / "crates" / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\n'
            f'description = "{name}"\n')
        (root / "crates" / name / "src" / "lib.rs").write_text("")
    init_git(root)
    plan = cli("release", "patch", "--no-verify", "--workspace", str(root))
    assert plan.returncode == 0, plan.stderr
    subject = "chore(release): part0-v0.1.1, part1-v0.1.1, part2-v0.1.1 and 4 more"
    assert f"commit: {subject} (and 7 lines below it)" in plan.stdout
    done = cli("release", "patch", "--execute", "--no-verify", "--workspace", str(root))
    assert done.returncode == 0, done.stderr
    assert git(root, "log", "-1", "--format=%s").strip() == subject
    assert git(root, "log", "-1", "--format=%b").split() == [f"{n}-v0.1.1" for n in names]
    assert sorted(git(root, "tag", "--points-at", "HEAD").split()) == [f"{n}-v0.1.1" for n in names]
