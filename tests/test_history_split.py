"""A long log read as two halves by two git processes gives exactly what one log gives.

The cut is a tag's commit; each property is checked for every commit of a small history
with merges as the cut, plus cuts HEAD does not reach, so the answer never depends on the tag
the history happens to be cut at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from history_factory import DatedRepo as Repo
from history_factory import git

from pipeline.release import unreleased as h

DIRS = {"a": "a", "b": "b", "c": "c"}


@pytest.fixture
def one_core_then_two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h, "_cores", lambda: 2)  # the split is taken even on a one-core machine


def _branchy(top: Path, *, skew: int = 0) -> tuple[Repo, str]:
    """main and two side branches whose commits interleave in time, merged back; one branch
    (`stale`) never merged. Returns the repo and the sha at the tip of `stale`."""
    repo = Repo(top)
    repo.commit("a/1.rs", "feat: a one")
    repo.commit("b/1.rs", "fix: b one")
    git(top, "checkout", "-q", "-b", "side")
    git(top, "checkout", "-q", "-b", "stale")
    git(top, "checkout", "-q", "side")
    repo.commit("c/1.rs", "feat: c on side")
    git(top, "checkout", "-q", "main")
    repo.commit("a/2.rs", "fix: a on main")
    git(top, "checkout", "-q", "side")
    repo.commit("b/2.rs", "feat: b on side", skew=skew)
    git(top, "checkout", "-q", "stale")
    stale = repo.commit("c/stale.rs", "feat: c never merged")
    git(top, "checkout", "-q", "main")
    repo.commit("README.md", "docs: workspace readme")
    repo.merge("side")
    git(top, "checkout", "-q", "-b", "late")
    repo.commit("a/3.rs", "feat: a on late")
    git(top, "checkout", "-q", "main")
    repo.commit("c/2.rs", "fix: c on main")
    repo.merge("late")
    repo.commit("b/3.rs", "chore: b after the merges")
    return repo, stale


def _read(top: Path, revs: list[str], cut: str | None) -> tuple[list[str], set[tuple[str, str]]]:
    commits, edges = h._log(top, "", h.Attributor(DIRS), "", revs, graph=True, split_at=cut)
    return [c.sha for c in commits], set(edges)


def test_every_cut_gives_the_one_log_answer_in_its_order(tmp_path: Path, one_core_then_two: None) -> None:
    repo, stale = _branchy(tmp_path / "repo")
    whole = _read(repo.top, [], None)
    assert whole[0] == git(repo.top, "log", "--no-merges", "--format=%H", "HEAD").split()
    every = git(repo.top, "rev-list", "--all").split()
    assert stale in every and stale not in whole[0]
    for cut in every:  # the commits HEAD reaches, the never-merged one, and HEAD itself
        assert _read(repo.top, [], cut) == whole, cut


def test_cuts_inside_a_limited_range(tmp_path: Path, one_core_then_two: None) -> None:
    repo, _stale = _branchy(tmp_path / "repo")
    base = git(repo.top, "rev-list", "--max-parents=0", "HEAD").strip()
    second = git(repo.top, "rev-list", "--reverse", "HEAD").split()[1]
    for revs in ([f"^{base}"], [f"^{second}"]):
        one = _read(repo.top, revs, None)
        for cut in git(repo.top, "rev-list", "--all").split():  # cuts inside, below and beside the range
            assert _read(repo.top, revs, cut) == one, (revs, cut)


def test_a_skewed_clock_keeps_the_commits_and_the_ranges(tmp_path: Path, one_core_then_two: None) -> None:
    """A commit dated before its parent (a wrong clock): the order may differ from one log's, but
    the commits and each crate's range may not."""
    repo, _stale = _branchy(tmp_path / "repo", skew=-10_000)
    git(repo.top, "tag", "b-v0.1.0", "HEAD~3")
    git(repo.top, "tag", "a-v0.1.0", "HEAD~1")
    shas = dict(h.tag_commits(repo.top))
    since = {"a": "a-v0.1.0", "b": "b-v0.1.0", "c": None}
    one_commits, one_edges = h._log(repo.top, "", h.Attributor(DIRS), "", [], graph=True)
    one = h.ranged(one_commits, one_edges, since, shas)
    for cut in git(repo.top, "rev-list", "HEAD").split():
        commits, edges = h._log(repo.top, "", h.Attributor(DIRS), "", [], graph=True, split_at=cut)
        assert sorted(c.sha for c in commits) == sorted(c.sha for c in one_commits)
        split = h.ranged(commits, edges, since, shas)
        for crate in DIRS:
            assert {c.sha for c in split.for_crate(crate)} == {c.sha for c in one.for_crate(crate)}, (cut, crate)


def test_the_release_history_reads_split_and_whole_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """read_release_history end to end, on one core (no split) and on two (split at a tag)."""
    from history_factory import make_history

    root = tmp_path / "hist"
    make_history(root, crates=5, commits=300, seed=11, untagged=("hist-crate-04",))
    (root / "Cargo.toml").write_text((root / "Cargo.toml").read_text())
    from pipeline.project import load_project

    project = load_project(str(root))
    seen = []
    real_split = h._split_log

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(args[4])  # the cut: (top, attributor, skip_prefix, revs, cut, ...)
        return real_split(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(h, "_split_log", spy)
    monkeypatch.setattr(h, "_whole_in_parts", lambda *a, **k: None)  # the whole history read, as one log or two
    monkeypatch.setattr(h, "_cores", lambda: 1)
    alone = h.read_release_history(root, project.workspace, project.config.release)
    assert seen == []
    monkeypatch.setattr(h, "_cores", lambda: 2)
    split = h.read_release_history(root, project.workspace, project.config.release)
    assert len(seen) == 1 and seen[0] in dict(h.tag_commits(root, merged=False)).values()
    assert split.history.commits == alone.history.commits
    for crate in alone.crates:
        assert split.history.for_crate(crate) == alone.history.for_crate(crate)


def test_a_tag_of_a_tree_is_no_release_and_no_cut(tmp_path: Path, one_core_then_two: None) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("a/1.rs", "feat: a")
    git(repo.top, "tag", "a-v0.1.0")
    tree = git(repo.top, "rev-parse", "HEAD^{tree}").strip()
    git(repo.top, "tag", "tree-tag", tree)
    git(repo.top, "tag", "-a", "-m", "annotated tree", "annotated-tree-tag", tree)
    assert [t for t, _sha in h.tag_commits(repo.top, merged=False)] == ["a-v0.1.0"]
