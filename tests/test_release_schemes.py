"""The release's history on real repositories (issue 13): scheme inference, per-crate ranges, warnings."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shapes_real import commit, git, make_real

from pipeline.release.settings import ReleaseSettings
from pipeline.release.unreleased import read_release_history
from pipeline.workspace.load import load_workspace


def test_bare_version_tags_are_inferred_and_printed(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", lockfile=False)
    fix = commit(root, "crates/app/src/lib.rs", "fix: app stops crashing")
    rh = read_release_history(root, load_workspace(root), ReleaseSettings())
    assert rh.lines[0] == 'release: tags look like "{version}" (2 tags, newest 0.11.0)'
    assert rh.last.tags["core"] == "0.11.0" and rh.last.tags["app"] == "0.11.0"
    changes = rh.changes(["core", "app"])
    assert changes.since == "0.11.0"
    assert [e.commit for e in changes.entries] == [fix]
    # macros (own version 2.7.0) has no tag of its own: said, with the nearest tags, never silent.
    assert any("no release tag of `macros` (2.7.0)" in line and "nearest tags: " in line for line in rh.lines)
    # tool is publish = false (`unpublished = "skip"`): not tracked at all.
    assert "tool" not in rh.last.tags


def test_independent_versions_start_from_their_own_tags(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", lockfile=False, tags=False)
    git(root, "tag", "-a", "macros-v2.7.0", "-m", "m")
    git(root, "tag", "-a", "v0.11.0", "-m", "w")
    macros_fix = commit(root, "macros/src/lib.rs", "fix: macros expand once")
    git(root, "tag", "-a", "macros-v2.7.1", "-m", "m")  # released after that fix...
    (root / "macros/Cargo.toml").write_text((root / "macros/Cargo.toml").read_text().replace("2.7.0", "2.7.1"))
    git(root, "commit", "-qam", "chore(release): macros-v2.7.1")
    core_feat = commit(root, "crates/core/src/lib.rs", "feat: core grows")
    rh = read_release_history(root, load_workspace(root), ReleaseSettings())
    assert rh.last.tags["macros"] == "macros-v2.7.1" and rh.last.tags["core"] == "v0.11.0"
    assert rh.changed(["core", "app", "macros"]) == ("core",)
    all_changes = rh.changes(["core", "app", "macros"])
    assert [e.commit for e in all_changes.entries] == [core_feat]
    assert macros_fix not in {e.commit for e in all_changes.entries}
    assert all_changes.since == "v0.11.0" and all_changes.since_by_crate == {
        "core": "v0.11.0", "app": "v0.11.0", "macros": "macros-v2.7.1"}
    assert rh.changes(["macros"]).entries == ()


def test_a_configured_scheme_is_used_as_given(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", lockfile=False, tags=False)
    git(root, "tag", "-a", "ws@0.11.0", "-m", "w")
    settings = ReleaseSettings(shared_tag="ws@{version}", crate_tag="{crate}@{version}")
    rh = read_release_history(root, load_workspace(root), settings)
    assert rh.scheme.shared == "ws@{version}" and rh.last.tags["core"] == "ws@0.11.0"


def test_no_tags_at_all_is_a_first_release_without_warnings(tmp_path: Path) -> None:
    root = make_real(tmp_path / "ws", lockfile=False, tags=False)
    rh = read_release_history(root, load_workspace(root), ReleaseSettings())
    assert rh.lines == () and set(rh.last.untagged()) == {"core", "app", "macros"}
    assert len(rh.changes(["core"]).entries) == 1
