"""The one-pass history core: attribution by directory, each crate's range from its own tag."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from history_factory import make_history

from pipeline.release import unreleased as h


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def test_attribution_takes_the_deepest_directory_and_the_root_package_owns_the_rest() -> None:
    a = h.Attributor({"app": "", "core": "crates/core", "inner": "crates/core/inner", "io": "crates/io"})
    assert a.crates(["crates/core/src/lib.rs"]) == ("core",)
    assert a.crates(["crates/core/inner/src/a/b/c.rs", "crates/io/x.md"]) == ("inner", "io")
    assert a.crates(["README.md", "src/main.rs", "crates/other/x.rs"]) == ("app",)
    # `crates/core-extra` is not inside `crates/core`: directories, not string prefixes.
    assert a.crates(["crates/core-extra/src/lib.rs"]) == ("app",)
    assert h.Attributor({"core": "crates/core"}).crates(["README.md", "docs/x.md"]) == ()


def test_reach_masks_follow_merges() -> None:
    # d merges b and c; tag bits: b=1, c=2.  a is the parent of both.
    revlist = "d b c\nc a\nb a\na\n"
    masks = h.reach_masks(revlist, {"b": 1, "c": 2})
    assert masks["a"] == 3 and masks["b"] == 1 and masks["c"] == 2 and masks.get("d", 0) == 0


@pytest.fixture(scope="module")
def small_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("hist") / "repo"
    shape = make_history(root, crates=6, commits=400, seed=3, untagged=("hist-crate-05",))
    return root, shape


def test_each_crate_runs_from_its_own_tag(small_history: tuple[Path, object]) -> None:
    root, shape = small_history
    since = {n: shape.last_tags.get(n) for n in shape.crates}  # type: ignore[attr-defined]
    assert since["hist-crate-05"] is None
    history = h.read_history(root, "", {n: f"crates/{n}" for n in shape.crates}, since,  # type: ignore[attr-defined]
                             tag_shas=dict(h.tag_commits(root)))
    for name in shape.crates:  # type: ignore[attr-defined]
        tag = since[name]
        expected = git(root, "log", "--no-merges", "--format=%H", f"{tag}..HEAD" if tag else "HEAD", "--",
                       f"crates/{name}").split()
        got = [c.sha for c in history.for_crate(name)]
        assert got == expected, name
    assert set(history.changed(shape.crates)) == set(shape.crates)  # type: ignore[attr-defined]


def test_merged_branches_and_a_prefix(tmp_path: Path) -> None:
    """A crate tagged on a side branch: commits of the main line after the fork stay unreleased."""
    top = tmp_path / "top"
    ws = top / "ws"
    (ws / "a").mkdir(parents=True)
    (ws / "b").mkdir()
    git(tmp_path, "init", "-q", "-b", "main", str(top))
    for key, value in (("user.email", "t@e"), ("user.name", "T"), ("commit.gpgsign", "false")):
        git(top, "config", key, value)

    _commit(top, "ws/a/x.rs", "feat: a1")
    _commit(top, "outside/readme", "docs: outside the workspace")
    git(top, "tag", "a-v0.1.0")
    git(top, "checkout", "-q", "-b", "side")
    _commit(top, "ws/b/y.rs", "fix: b on side")
    git(top, "tag", "b-v0.1.0")
    git(top, "checkout", "-q", "main")
    main_b = _commit(top, "ws/b/z.rs", "feat: b on main")
    main_a = _commit(top, "ws/a/w.rs", "fix: a on main")
    git(top, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    history = h.read_history(top, "ws/", {"a": "a", "b": "b"}, {"a": "a-v0.1.0", "b": "b-v0.1.0"})
    assert [c.sha for c in history.for_crate("a")] == [main_a]
    assert [c.sha for c in history.for_crate("b")] == [main_b]
    assert all(not f.startswith("ws/") for c in history.commits for f in c.files)
    assert history.changed(["a", "b"]) == ("a", "b")


def test_release_commits_are_skipped() -> None:
    r, f = h.RECORD, h.FIELD
    text = f"{r}1{f}chore(release): v1{f}{f}\na/x\n{r}2{f}fix: y{f}{f}\na/y\n"
    commits = h.parse_log(text, "", h.Attributor({"a": "a"}), "chore(release): ")
    assert [c.sha for c in commits] == ["2"] and commits[0].crates == ("a",)


def test_masks_from_a_log_out_of_topological_order_match_the_topological_ones() -> None:
    # d merges b and c; c's commit date is older than a's (clock skew), so date order lists a
    # before c: the single pass notices the late mask and walks the graph in a true order.
    topological = [("d", "b c"), ("b", "a"), ("c", "a"), ("a", "z"), ("z", "")]
    skewed = [("d", "b c"), ("b", "a"), ("a", "z"), ("c", "a"), ("z", "")]
    tips = {"b": 1, "c": 2}
    expected = h.reach_masks_of(topological, tips)
    assert expected["a"] == 3 and expected["z"] == 3 and expected.get("d", 0) == 0
    assert h.reach_masks_of(skewed, tips) == expected


def _repo(top: Path) -> None:
    git(top.parent, "init", "-q", "-b", "main", str(top))
    for key, value in (("user.email", "t@e"), ("user.name", "T"), ("commit.gpgsign", "false"),
                       ("tag.gpgsign", "false")):
        git(top, "config", key, value)


def _commit(top: Path, path: str, message: str) -> str:
    file = top / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(file.read_text() + "x\n" if file.exists() else "x\n")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", message)
    return git(top, "rev-parse", "HEAD").strip()


def test_merges_at_the_top_of_the_repository_give_each_crate_its_own_range(tmp_path: Path) -> None:
    """No path limit: the one log carries the graph (merges included, then left out of the commits)."""
    top = tmp_path / "repo"
    _repo(top)
    _commit(top, "a/x.rs", "feat: a1")
    git(top, "tag", "a-v0.1.0")
    git(top, "checkout", "-q", "-b", "side")
    _commit(top, "b/y.rs", "fix: b on side")
    git(top, "tag", "b-v0.1.0")
    git(top, "checkout", "-q", "main")
    main_b = _commit(top, "b/z.rs", "feat: b on main")
    main_a = _commit(top, "a/w.rs", "fix: a on main")
    git(top, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    after = _commit(top, "a/v.rs", "fix: a after the merge")
    history = h.read_history(top, "", {"a": "a", "b": "b"}, {"a": "a-v0.1.0", "b": "b-v0.1.0"})
    assert [c.sha for c in history.for_crate("a")] == [after, main_a]
    assert [c.sha for c in history.for_crate("b")] == [main_b]
    assert all(c.subject != "merge side" for c in history.commits)
    expected = git(top, "log", "--no-merges", "--format=%H", "b-v0.1.0..HEAD", "--", "b").split()
    assert [c.sha for c in history.for_crate("b")] == expected


def test_a_tag_head_does_not_reach_is_not_a_release_tag(tmp_path: Path) -> None:
    """With a crate never tagged the whole history is read at once, and the tags HEAD reaches are
    taken from it: a tag on an unmerged branch is not one of them (as `--merged HEAD` says)."""
    from pipeline.project import load_project
    from pipeline.release.unreleased import read_release_history

    top = tmp_path / "ws"
    (top / "a").mkdir(parents=True)
    (top / "b").mkdir()
    (top / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["a", "b"]\n')
    for name in ("a", "b"):
        (top / name / "Cargo.toml").write_text(f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n')
    _repo(top)
    first = _commit(top, "a/src/lib.rs", "feat: a")
    git(top, "tag", "a-v0.1.0")
    git(top, "checkout", "-q", "-b", "side")
    _commit(top, "b/src/lib.rs", "feat: b on side")
    git(top, "tag", "b-v0.1.0")  # never merged into main
    git(top, "checkout", "-q", "main")
    late = _commit(top, "b/src/main.rs", "fix: b on main")
    project = load_project(str(top))
    found = read_release_history(top, project.workspace, project.config.release)
    reachable = git(top, "for-each-ref", "--merged", "HEAD", "--format=%(refname:lstrip=2)", "refs/tags").split()
    assert list(found.tags) == reachable == ["a-v0.1.0"]
    assert set(found.every_tag or ()) == {"a-v0.1.0", "b-v0.1.0"}
    assert found.last.tags == {"a": "a-v0.1.0", "b": None}
    # b has no tag HEAD reaches: its whole history (the first commit made its manifest) is unreleased.
    assert [c.sha for c in found.history.for_crate("b")] == [late, first]
    assert found.history.for_crate("a") == []
    assert found.changed(["a", "b"]) == ("b",)
