"""`release auto` says, per version line, what it judged from (issue 13 points 5 and 6):
`release: auto: macros 2.7.0: major (1 commit since macros-v2.7.0: 1 breaking)`, for per-crate
tags, bare-version tags and a crate with no tag yet (with the warning naming the nearest tags);
the shared line is judged on its own crates' commits, never on another line's."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release_support import cli
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
