"""Release planning: requirement shapes, selection, dependents, warnings (pure, on real manifests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from release_support import make_shapes

from pipeline.foundation.errors import ManifestError, UsageError
from pipeline.release.levels import parse_target
from pipeline.release.plan import make_plan, rewrite_requirement
from pipeline.workspace.cargo_semver import Version
from pipeline.workspace.load import load_workspace

V = Version.parse


@pytest.mark.parametrize(
    ("requirement", "new", "expected"),
    [
        ("0.4", "0.5.0", "0.5"),
        ("0.4.2", "0.5.0", "0.5.0"),
        ("=0.4.2", "0.5.0", "=0.5.0"),
        ("~0.4.2", "0.5.0", "~0.5.0"),
        ("~0.4", "0.5.0", "~0.5"),
        ("^0.4", "0.5.0", "^0.5"),
        ("^0.4.2", "0.4.3", "^0.4.3"),
        ("1", "2.0.0", "2"),
        ("=1.2", "1.3.0", "=1.3"),
        ("0.4", "0.5.0-rc.1", "0.5.0-rc.1"),  # a pre-release needs the full version
        ("=0.4.2", "0.4.3-rc.1", "=0.4.3-rc.1"),
    ],
)
def test_rewrite_keeps_operator_and_precision(requirement: str, new: str, expected: str) -> None:
    rewrite = rewrite_requirement(requirement, V(new))
    assert rewrite.kind == "rewritten"
    assert rewrite.new == expected


def test_rewrite_unchanged_when_precision_hides_the_move() -> None:
    rewrite = rewrite_requirement("1", V("1.3.0"))
    assert rewrite.new is None and rewrite.kind == "unchanged" and not rewrite.breaks


@pytest.mark.parametrize(
    ("requirement", "new", "breaks"),
    [(">=0.4, <0.6", "0.5.0", False), (">=0.4, <0.6", "1.0.0", True), ("*", "2.0.0", False),
     ("0.4.*", "0.5.0", True), ("<1.0", "1.0.0", True)],
)
def test_ranges_and_wildcards_are_left_alone(requirement: str, new: str, breaks: bool) -> None:
    rewrite = rewrite_requirement(requirement, V(new))
    assert rewrite.new is None and rewrite.kind == "range" and rewrite.breaks is breaks


def _plan(root: Path, target: str, crates: list[str] | None = None):
    return make_plan(load_workspace(root), parse_target(target), crates)


def _edits(plan) -> dict[tuple[str, tuple[str, ...]], tuple[str, str]]:
    return {(e.file.parent.name if e.file.parent.name != "ws" else "ROOT", e.path): (e.old, e.new) for e in plan.edits}


def test_minor_moves_everything_and_rewrites_every_shape(tmp_path: Path) -> None:
    root = make_shapes(tmp_path / "ws")
    plan = _plan(root, "minor")
    versions = {c.crate: str(c.new) for c in plan.changes}
    assert versions == {"core": "0.5.0", "util": "0.5.0", "own": "1.3.0", "app": "0.5.0", "tk": "0.5.0",
                        "ranged": "3.1.0", "sub": "0.5.0"}
    assert plan.shared == (V("0.4.2"), V("0.5.0"))
    edits = _edits(plan)
    assert edits[("ROOT", ("workspace", "package", "version"))] == ("0.4.2", "0.5.0")
    assert edits[("ROOT", ("workspace", "dependencies", "core", "version"))] == ("0.4.2", "0.5.0")
    assert edits[("own", ("package", "version"))] == ("1.2.0", "1.3.0")
    assert edits[("own", ("dependencies", "core", "version"))] == ("0.4", "0.5")
    # Renamed (matched by path, not key), target table, build dependency, sub-table form.
    assert edits[("app", ("dependencies", "core-types", "version"))] == ("=0.4.2", "=0.5.0")
    assert edits[("app", ("target", "cfg(unix)", "dependencies", "util", "version"))] == ("^0.4", "^0.5")
    assert edits[("app", ("build-dependencies", "own", "version"))] == ("~1.2.0", "~1.3.0")
    assert edits[("sub", ("dependencies", "util", "version"))] == ("0.4.2", "0.5.0")
    # `workspace = true` entries and path-only entries have nothing to rewrite.
    assert not any(e.file.parent.name == "tk" for e in plan.edits)
    assert ("ROOT", ("workspace", "dependencies", "tk", "version")) not in edits
    # Ranges and `*` left alone: still matching -> a note, not an edit.
    assert not any(e.file.parent.name == "ranged" and e.path[0] == "dependencies" for e in plan.edits)
    assert any("`>=0.4, <0.6` left alone" in n for n in plan.notes)
    assert not plan.blockers


def test_broken_range_warns_and_blocks(tmp_path: Path) -> None:
    plan = _plan(make_shapes(tmp_path / "ws"), "major")
    assert any(">=0.4, <0.6" in w and "no longer matches 1.0.0" in w for w in plan.warnings)
    assert plan.blockers


def test_selected_own_crate_forces_a_breaking_dependent(tmp_path: Path) -> None:
    # own 1.2.0 -> 2.0.0 breaks app's `~1.2.0` build requirement: app moves, and with it the shared line,
    # by a patch (a dependent only needs a new version, not a feature level).
    plan = _plan(make_shapes(tmp_path / "ws"), "major", ["own"])
    versions = {c.crate: str(c.new) for c in plan.changes}
    assert versions["own"] == "2.0.0"
    assert versions["app"] == "0.4.3"
    assert plan.change("app").reason == "its requirement on own changes"
    assert "ranged" not in versions  # no requirement on own
    assert _edits(plan)[("app", ("build-dependencies", "own", "version"))] == ("~1.2.0", "~2.0.0")


def test_compatible_move_does_not_force_dependents(tmp_path: Path) -> None:
    plan = _plan(make_shapes(tmp_path / "ws"), "patch", ["own"])
    assert [c.crate for c in plan.changes] == ["own"]
    # the requirement still follows (lockstep), but app need not move
    assert _edits(plan)[("app", ("build-dependencies", "own", "version"))] == ("~1.2.0", "~1.2.1")


def test_shared_crate_selection_moves_the_whole_shared_line(tmp_path: Path) -> None:
    plan = _plan(make_shapes(tmp_path / "ws"), "minor", ["util"])
    moved = {c.crate for c in plan.changes}
    assert {"core", "util", "app", "tk", "sub"} <= moved
    # own's `0.4` on core breaks with 0.5.0: own is forced (patch); ranged's range still matches: stays.
    assert str(plan.change("own").new) == "1.2.1" and "ranged" not in moved


def test_dev_dependency_does_not_force_a_move(tmp_path: Path) -> None:
    root = make_shapes(tmp_path / "ws")
    manifest = root / "crates" / "ranged" / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace("[dependencies]\n", "[dependencies]\n[dev-dependencies]\n"))
    plan = _plan(root, "major", ["core"])
    assert plan.change("ranged") is None


def test_explicit_version_applies_to_the_shared_line(tmp_path: Path) -> None:
    plan = _plan(make_shapes(tmp_path / "ws"), "0.6.0")
    assert plan.shared == (V("0.4.2"), V("0.6.0"))
    assert str(plan.change("own").new) == "1.2.1"  # forced: `0.4` on core broke


def test_prerelease_plan_expands_precision(tmp_path: Path) -> None:
    plan = _plan(make_shapes(tmp_path / "ws"), "rc")
    assert str(plan.shared[1]) == "0.4.3-rc.1"
    assert _edits(plan)[("own", ("dependencies", "core", "version"))] == ("0.4", "0.4.3-rc.1")
    assert any("needs a full version" in n for n in plan.notes)


def test_errors_name_the_crate(tmp_path: Path) -> None:
    root = make_shapes(tmp_path / "ws")
    with pytest.raises(ManifestError, match="no workspace member is named `nope`"):
        _plan(root, "minor", ["nope"])
    with pytest.raises(UsageError, match="not a pre-release"):
        _plan(root, "release", ["own"])
    with pytest.raises(UsageError, match="not greater"):
        _plan(root, "0.4.2")


def test_excluded_path_dependency_is_reported() -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "prism4d"
    plan = _plan(example, "minor")
    assert any("prism-legacy" in w and "outside the workspace" in w for w in plan.warnings)
    assert str(plan.change("prism-io").new) == "1.3.0"


def test_generated_workspace_plan_is_consistent(tmp_path: Path) -> None:
    from factory import make_workspace

    make_workspace(tmp_path / "gen", crates=40)
    ws = load_workspace(tmp_path / "gen")
    plan = make_plan(ws, parse_target("minor"))
    assert len(plan.changes) == 40
    assert {str(c.new) for c in plan.changes} == {"0.5.0", "1.3.0"}
    # every requirement on a member now accepts the member's new version
    from pipeline.workspace.cargo_semver import VersionReq

    new = {e.path: e.new for e in plan.edits}
    for package in ws.members:
        for dep in package.dependencies:
            if dep.member and dep.requirement and not dep.workspace:
                req = new.get((*dep.table, dep.key, "version"), dep.requirement)
                assert VersionReq.parse(req).matches(plan.change(dep.member).new)
