"""Requirements the member manifests do not show: excluded crates, examples, [patch], [replace] (issue 13)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shapes_real import make_real

from pipeline.foundation.errors import UsageError
from pipeline.release.levels import Target
from pipeline.release.plan import make_plan
from pipeline.workspace.load import load_workspace
from pipeline.workspace.outside import gather


@pytest.fixture
def real(tmp_path: Path) -> Path:
    return make_real(tmp_path / "ws", tags=False, lockfile=False)


def _edits(plan: object, root: Path) -> dict[tuple[str, tuple[str, ...]], tuple[str, str]]:
    return {(e.file.relative_to(root).as_posix(), e.path): (e.old, e.new) for e in plan.edits}  # type: ignore[attr-defined]


def test_gather_finds_outside_crates_and_patch_edges(real: Path) -> None:
    ws = load_workspace(real)
    outside = gather(ws)
    found = {(r.file.relative_to(real).as_posix(), r.member, r.via, r.owner) for r in outside.requirements}
    assert found == {
        ("kernels/Cargo.toml", "core", "path", "kernels"),
        ("examples/demo/Cargo.toml", "core", "path", "demo"),
        ("crates/app/Cargo.toml", "macros", "patch", "app"),
    }
    assert outside.dependents()["macros"] == (("app", "patch"),)
    assert {c.name for c in outside.crates} == {"kernels", "demo"}
    assert outside.patched == {"macros": ("crates-io",)}


def test_minor_updates_outside_requirements_only_where_they_break(real: Path) -> None:
    ws = load_workspace(real)
    plan = make_plan(ws, Target(level="minor"), outside=gather(ws))
    edits = _edits(plan, real)
    assert edits[("kernels/Cargo.toml", ("dependencies", "core", "version"))] == ("0.11.0", "0.12.0")
    assert edits[("examples/demo/Cargo.toml", ("dependencies", "core", "version"))] == ("^0.11", "^0.12")
    # Through the patch: operator and precision kept.
    assert edits[("crates/app/Cargo.toml", ("dependencies", "macros"))] == ("~2.7.0", "~2.8.0")
    assert not plan.blockers
    # publish = false with its own version (`unpublished = "skip"`): stays, its requirement follows.
    assert plan.change("tool") is None
    assert edits[("crates/tool/Cargo.toml", ("dependencies", "core", "version"))] == ("0.11", "0.12")


def test_a_patch_edge_moves_the_dependent_as_cargo_release_does(real: Path) -> None:
    ws = load_workspace(real)
    plan = make_plan(ws, Target(level="minor"), ["macros"], outside=gather(ws))
    edits = _edits(plan, real)
    assert edits[("crates/app/Cargo.toml", ("dependencies", "macros"))] == ("~2.7.0", "~2.8.0")
    assert plan.change("app") is not None and "macros" in plan.change("app").reason  # type: ignore[union-attr]
    # The shared line moves a patch for app; kernels' `0.11.0` still accepts 0.11.1: left alone.
    assert ("kernels/Cargo.toml", ("dependencies", "core", "version")) not in edits


def test_compatible_outside_requirements_are_left_alone(real: Path) -> None:
    ws = load_workspace(real)
    plan = make_plan(ws, Target(level="patch"), outside=gather(ws))
    files = {e.file.relative_to(real).as_posix() for e in plan.edits}
    assert "kernels/Cargo.toml" not in files and "examples/demo/Cargo.toml" not in files


def test_extra_crates_are_released_with_the_workspace(real: Path) -> None:
    ws = load_workspace(real)
    plan = make_plan(ws, Target(level="minor"), outside=gather(ws), extra_crates=["kernels"])
    change = plan.change("kernels")
    assert change is not None and str(change.new) == "0.12.0" and change.inherited
    edits = _edits(plan, real)
    assert edits[("kernels/Cargo.toml", ("package", "version"))] == ("0.11.0", "0.12.0")
    assert edits[("kernels/Cargo.toml", ("dependencies", "core", "version"))] == ("0.11.0", "0.12.0")


def test_unknown_extra_crate_names_the_candidates(real: Path) -> None:
    ws = load_workspace(real)
    with pytest.raises(UsageError) as caught:
        make_plan(ws, Target(level="minor"), outside=gather(ws), extra_crates=["kernel"])
    assert "kernel" in caught.value.message and "demo, kernels" in (caught.value.hint or "")


def test_resolution_check_names_file_line_requirement_version_and_fix(real: Path) -> None:
    demo = real / "examples/demo/Cargo.toml"
    demo.write_text(demo.read_text().replace('"^0.11"', '">=0.11, <0.12"'))
    ws = load_workspace(real)
    plan = make_plan(ws, Target(level="minor"), outside=gather(ws))
    (blocker,) = (b.message for b in plan.blockers)
    assert blocker.startswith("examples/demo/Cargo.toml:10: ")
    assert "`>=0.11, <0.12`" in blocker and "0.12.0" in blocker and "fix: " in blocker
    assert plan.blockers[0].location == "examples/demo/Cargo.toml:10"


def test_replace_key_naming_the_old_version_is_renamed(tmp_path: Path) -> None:
    replace = '\n[replace]\n"macros:2.7.0" = { path = "macros" }\n'
    root = make_real(tmp_path / "ws", tags=False, lockfile=False, extra_root=replace)
    ws = load_workspace(root)
    plan = make_plan(ws, Target(level="minor"), ["macros"], outside=gather(ws))
    assert not plan.blockers
    (rename,) = [e for e in plan.edits if e.key]
    assert (rename.file, rename.path, rename.old, rename.new) == (
        root / "Cargo.toml", ("replace", "macros:2.7.0"), "macros:2.7.0", "macros:2.8.0")


def test_replace_key_naming_another_version_blocks(tmp_path: Path) -> None:
    replace = '\n[replace]\n"macros:2.6.0" = { path = "macros" }\n'
    root = make_real(tmp_path / "ws", tags=False, lockfile=False, extra_root=replace)
    ws = load_workspace(root)
    plan = make_plan(ws, Target(level="minor"), ["macros"], outside=gather(ws))
    assert any("[replace] entry `macros:2.6.0`" in b.message and "macros:2.8.0" in b.message
               and b.location == "Cargo.toml:14" for b in plan.blockers)


def test_unpublished_bump_and_release_move_publish_false_crates(real: Path) -> None:
    ws = load_workspace(real)
    for policy in ("bump", "release"):
        plan = make_plan(ws, Target(level="minor"), outside=gather(ws), unpublished=policy)
        change = plan.change("tool")
        assert change is not None and str(change.new) == "0.4.0"
        assert plan.listed(change) and plan.tagged(change) is (policy == "release")


def test_a_member_on_an_outside_crate_of_the_version_line_is_told_about_extra_crates(tmp_path: Path) -> None:
    app = ('[package]\nname = "app"\nversion.workspace = true\nedition.workspace = true\n\n'
           '[dependencies]\ncore = { path = "../core", version = "0.11.0" }\nmacros = "~2.7.0"\n'
           'kernels = { path = "../../kernels", version = "0.11.0" }\n')
    root = make_real(tmp_path / "ws", tags=False, lockfile=False, files={"crates/app/Cargo.toml": app})
    ws = load_workspace(root)
    plan = make_plan(ws, Target(level="minor"), outside=gather(ws))
    (warning,) = [w for w in plan.warnings if "`kernels`" in w]
    assert "not released by this plan" in warning
    assert 'on the workspace\'s version line (0.11.0), `release.extra-crates = ["kernels"]`' in warning
    plan = make_plan(ws, Target(level="minor"), outside=gather(ws), extra_crates=["kernels"])
    assert not [w for w in plan.warnings if "`kernels`" in w]  # released with it: nothing to warn about
    assert plan.change("kernels") is not None
