"""`release auto` says, per version line, what it judged from (issue 13 points 5 and 6):
`release: auto: macros 2.7.0: major (1 commit since macros-v2.7.0: 1 breaking)`, for per-crate
tags, bare-version tags and a crate with no tag yet (with the warning naming the nearest tags);
the shared line is judged on its own crates' commits, never on another line's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release_support import cli, init_git
from shapes_real import commit, git, make_real


def _lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("release: auto: ")]


def test_per_crate_tags_each_line_judged_on_its_own_commits(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", lockfile=False, tags=False)
    git(root, "tag", "-a", "v0.11.0", "-m", "w")
    git(root, "tag", "-a", "macros-v2.7.0", "-m", "m")
    commit(root, "crates/core/src/lib.rs", "fix: core stops crashing")
    commit(root, "crates/core/src/lib.rs", "feat: core counts")
    commit(root, "crates/app/src/lib.rs", "Tidy app")
    commit(root, "macros/src/lib.rs", "feat!: macros expand differently")
    result = cli("release", "auto", "--no-verify", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    assert _lines(result.stderr) == [
        "release: auto: the shared version 0.11.0 (app, core): patch "
        "(3 commits since v0.11.0: 1 feat, 1 fix, 1 other)",
        "release: auto: macros 2.7.0: major (1 commit since macros-v2.7.0: 1 breaking)",
    ]
    # The breaking change of macros does not move the shared 0.x line by a minor.
    assert "core    0.11.0 -> 0.11.1" in result.stdout and "macros  2.7.0 -> 3.0.0" in result.stdout


def test_bare_version_tags_and_a_crate_never_tagged(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", lockfile=False)  # tags 0.10.0 and 0.11.0
    commit(root, "crates/app/src/lib.rs", "fix: app stops crashing")
    commit(root, "macros/src/lib.rs", "docs: macros explained")
    result = cli("release", "auto", "--no-verify", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stderr)
    assert lines[0] == "release: auto: the shared version 0.11.0 (app, core): patch (1 commit since 0.11.0: 1 fix)"
    assert lines[1].startswith("release: auto: macros 2.7.0: patch (")
    assert "commits in the whole history (no release tag yet): " in lines[1] and "1 docs" in lines[1]
    # ...and the warning that says so, with the nearest tags.
    assert "no release tag of `macros` (2.7.0)" in result.stderr and "nearest tags: " in result.stderr


def test_a_crate_without_commits_stays_and_says_so(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", lockfile=False, tags=False)
    git(root, "tag", "-a", "v0.11.0", "-m", "w")
    git(root, "tag", "-a", "macros-v2.7.0", "-m", "m")
    commit(root, "crates/core/src/lib.rs", "feat: core counts")
    result = cli("release", "auto", "--no-verify", "--crate", "core", "--crate", "macros",
                 "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    assert "release: auto: macros 2.7.0: stays (0 commits since macros-v2.7.0)" in _lines(result.stderr)


def test_another_crates_release_commit_is_not_a_change_of_the_root_package(tmp_path: Path) -> None:
    # clap's shape: the root package owns Cargo.lock, and every release of another crate
    # (cargo-release's `chore: Release`) moves the lock.
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "macros/src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
                                     '[workspace]\nmembers = ["macros"]\n\n'
                                     '[dependencies]\nmacros = { path = "macros", version = "1.0.0" }\n')
    (root / "macros/Cargo.toml").write_text('[package]\nname = "macros"\nversion = "1.0.0"\nedition = "2021"\n')
    for rel in ("src/lib.rs", "macros/src/lib.rs"):
        (root / rel).write_text("pub fn f() {}\n")
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    init_git(root)
    git(root, "tag", "-a", "v0.1.0", "-m", "app")
    git(root, "tag", "-a", "macros-v1.0.0", "-m", "macros")
    commit(root, "macros/src/lib.rs", "fix: macros expand once")
    for rel in ("macros/Cargo.toml", "Cargo.lock"):
        path = root / rel
        old, new = 'name = "macros"\nversion = "1.0.0"', 'name = "macros"\nversion = "1.0.1"'
        path.write_text(path.read_text().replace(old, new))
    git(root, "commit", "-qam", "chore: Release")
    git(root, "tag", "-a", "macros-v1.0.1", "-m", "macros")
    result = cli("release", "auto", "--no-verify", "--workspace", str(root))
    # Nothing is unreleased: the lock moved by macros' release is no change of app.
    assert result.returncode == 1 and "nothing to release" in result.stderr, result.stderr
    changed = cli("bump", "patch", "--changed", "--workspace", str(root))
    assert changed.returncode == 1 and "no crate of" in changed.stderr, changed.stderr
    # A lock change of its own (not a release commit) still counts.
    lock = root / "Cargo.lock"
    lock.write_text(lock.read_text() + "# touched\n")
    git(root, "commit", "-qam", "chore: update the lock")
    result = cli("release", "auto", "--no-verify", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    assert "release: auto: app 0.1.0: patch (1 commit since v0.1.0: 1 chore)" in _lines(result.stderr)


def test_crates_alike_without_a_tag_share_one_warning(tmp_path: Path) -> None:
    """bevy's shape: every crate at the same -dev version, none of them tagged: one line, not one per crate."""
    root = tmp_path / "ws"
    names = [f"part{i}" for i in range(5)]
    (root / "Cargo.toml").parent.mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n')
    for name in names:
        (root / "crates" / name / "src").mkdir(parents=True)
        (root / "crates" / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.20.0-dev"\nedition = "2021"\n')
        (root / "crates" / name / "src" / "lib.rs").write_text("")
    init_git(root)
    git(root, "tag", "-a", "v0.16.0", "-m", "an old release")
    commit(root, "crates/part0/src/lib.rs", "fix: part0 works")
    result = cli("changelog", "--workspace", str(root))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "no release tag of" in line]
    assert warnings == [
        "release: warning: no release tag of 5 crates at 0.20.0-dev (`part0`, `part1`, `part2` and 2 more) among "
        "1 tags: their whole history counts as unreleased; nearest tags: v0.16.0 (set `shared-tag` / `crate-tag` / "
        "`primary-crate` if the scheme is not recognised)"]
