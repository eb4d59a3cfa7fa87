"""A crate never tagged beside tagged ones: the history is read in parts (the log since the tags'
merge base, a log limited to the never-tagged crates' directories below it, and the tags HEAD
reaches, at once), and the answer is the one of reading the whole history.

Each case compares the parts with the whole read (the parts turned off) on the same repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from history_factory import DatedRepo, git, make_history

from pipeline.project import load_project
from pipeline.release import unreleased as h


def make_workspace_repo(top: Path, members: dict[str, str], root_package: str | None = None) -> DatedRepo:
    """A workspace of ``members`` (name -> directory), the root package too, first committed."""
    top.mkdir(parents=True)
    listed = ", ".join(f'"{d}"' for d in members.values())
    head = f'[package]\nname = "{root_package}"\nversion = "0.1.0"\nedition = "2021"\n\n' if root_package else ""
    (top / "Cargo.toml").write_text(f'{head}[workspace]\nresolver = "2"\nmembers = [{listed}]\n')
    if root_package:
        (top / "src").mkdir()
        (top / "src" / "lib.rs").write_text("")
    for name, directory in members.items():
        (top / directory / "src").mkdir(parents=True)
        (top / directory / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n')
        (top / directory / "src" / "lib.rs").write_text("")
    repo = DatedRepo(top)
    repo.commit(None, "chore: the workspace")
    return repo


def _both(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[h.ReleaseHistory, h.ReleaseHistory, list[object]]:
    project = load_project(str(root))
    taken: list[object] = []
    real = h._whole_in_parts

    def spy(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        taken.append(result)
        return result

    monkeypatch.setattr(h, "_whole_in_parts", spy)
    parts = h.read_release_history(root, project.workspace, project.config.release)
    monkeypatch.setattr(h, "_whole_in_parts", lambda *a, **k: None)
    whole = h.read_release_history(root, project.workspace, project.config.release)
    return parts, whole, taken


def _same(parts: h.ReleaseHistory, whole: h.ReleaseHistory) -> None:
    assert parts.tags == whole.tags and parts.every_tag == whole.every_tag
    assert parts.last.tags == whole.last.tags
    assert parts.changed(parts.crates) == whole.changed(whole.crates)
    for crate in whole.crates:
        assert [c.sha for c in parts.history.for_crate(crate)] == [c.sha for c in whole.history.for_crate(crate)], crate
    got, want = parts.changes(parts.crates), whole.changes(whole.crates)
    assert [(e.commit, e.crates, e.summary) for e in got.entries] == [(e.commit, e.crates, e.summary)
                                                                      for e in want.entries]


def test_a_long_history_with_a_crate_never_tagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "hist"
    make_history(root, crates=6, commits=400, seed=5, untagged=("hist-crate-05", "hist-crate-02"))
    parts, whole, taken = _both(root, monkeypatch)
    assert taken and taken[0] is not None  # the parts were read, not the whole history
    assert any(c.crates == ("hist-crate-05",) for c in parts.history.for_crate("hist-crate-05"))
    _same(parts, whole)


def test_branches_a_root_package_and_a_crate_nested_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The root package `app` (never tagged) holds the tagged `core` in its tree: core's files are
    core's, the rest app's; side branches cross the merge base of the tags."""
    repo = make_workspace_repo(tmp_path / "ws", {"core": "crates/core", "io": "crates/io"}, root_package="app")
    repo.commit("src/lib.rs", "feat: app starts")
    repo.commit("crates/core/src/lib.rs", "feat: core starts")
    git(repo.top, "checkout", "-q", "-b", "side")
    repo.commit("crates/io/src/lib.rs", "fix: io on side, before the tags")
    repo.commit("src/main.rs", "feat: app on side, before the tags")
    git(repo.top, "checkout", "-q", "main")
    repo.commit("crates/core/src/a.rs", "fix: core before its tag")
    git(repo.top, "tag", "core-v0.1.0")
    repo.commit("crates/io/src/b.rs", "feat: io before its tag")
    git(repo.top, "tag", "io-v0.1.0")
    repo.commit("README.md", "docs: workspace readme after the tags")
    repo.merge("side")
    repo.commit("crates/core/src/c.rs", "feat!: core after its tag")
    repo.commit("src/lib.rs", "fix: app after the tags")
    parts, whole, taken = _both(repo.top, monkeypatch)
    assert taken[0] is not None
    # The root package's range is the whole history; a file at the top (README.md) is its file too.
    assert [c.subject for c in parts.history.for_crate("app")] == [
        "fix: app after the tags", "docs: workspace readme after the tags", "feat: app on side, before the tags",
        "feat: app starts", "chore: the workspace"]
    _same(parts, whole)


def test_a_never_tagged_shared_line_judges_the_workspace_files_so_the_whole_history_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_workspace_repo(tmp_path / "ws", {"core": "crates/core", "tool": "crates/tool"})
    (repo.top / "Cargo.toml").write_text((repo.top / "Cargo.toml").read_text()
                                         + '\n[workspace.package]\nversion = "0.1.0"\n')
    (repo.top / "crates/core/Cargo.toml").write_text(
        '[package]\nname = "core"\nversion.workspace = true\nedition = "2021"\n')
    repo.commit(None, "feat: core joins the shared line")
    repo.commit("crates/core/src/lib.rs", "feat: core on the shared line")
    git(repo.top, "tag", "tool-v0.1.0")
    repo.commit("docs/guide.md", "docs: a workspace file")
    parts, whole, taken = _both(repo.top, monkeypatch)
    assert taken == [None]
    _same(parts, whole)


def test_tags_head_does_not_reach_move_the_ranges_so_the_whole_history_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_workspace_repo(tmp_path / "ws", {"core": "crates/core", "io": "crates/io", "new": "crates/new"})
    repo.commit("crates/core/src/lib.rs", "feat: core")
    git(repo.top, "tag", "core-v0.1.0")
    repo.commit("crates/io/src/lib.rs", "feat: io")
    git(repo.top, "checkout", "-q", "-b", "unmerged")
    repo.commit("crates/io/src/x.rs", "fix: io, never merged")
    git(repo.top, "tag", "io-v0.1.0")  # io's only tag: on a branch HEAD never merged
    git(repo.top, "checkout", "-q", "main")
    repo.commit("crates/new/src/lib.rs", "feat: new crate")
    repo.commit("crates/io/src/y.rs", "fix: io on main")
    parts, whole, taken = _both(repo.top, monkeypatch)
    assert taken == [None]
    assert whole.last.tags["io"] is None and "io-v0.1.0" not in whole.tags
    _same(parts, whole)


def test_own_paths_leave_out_the_crates_nested_inside() -> None:
    dirs = ["", "crates/core", "crates/core/inner", "crates/io", "tools/x"]
    assert h._own_paths(["crates/core"], dirs) == [":(top,literal)crates/core",
                                                    ":(top,exclude,literal)crates/core/inner"]
    assert h._own_paths([""], dirs) == [":/", ":(top,exclude,literal)crates/core",
                                        ":(top,exclude,literal)crates/core/inner", ":(top,exclude,literal)crates/io",
                                        ":(top,exclude,literal)tools/x"]
    assert h._own_paths(["", "crates/io"], dirs)[:2] == [":/", ":(top,literal)crates/io"]
    assert ":(top,exclude,literal)crates/io" not in h._own_paths(["", "crates/io"], dirs)
