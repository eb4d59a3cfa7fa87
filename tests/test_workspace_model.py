"""The workspace model against cargo's own view (`cargo metadata`) and hand-written expectations."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import EXAMPLE
from factory import make_workspace

from pipeline.format.workspace import workspace_json
from pipeline.foundation.errors import ManifestError
from pipeline.workspace.load import load_workspace
from pipeline.workspace.model import DepKind


def cargo_metadata(root: Path) -> dict:
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1"],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def cargo_view(root: Path) -> dict[str, tuple[str, set[tuple[str, str | None, str, str | None]]]]:
    """name -> (version, {(dep name, rename, kind, target)}) as cargo reports it."""
    view = {}
    for package in cargo_metadata(root)["packages"]:
        deps = {(d["name"], d["rename"], d["kind"] or "normal", d["target"]) for d in package["dependencies"]}
        view[package["name"]] = (package["version"], deps)
    return view


def our_view(root: Path) -> dict[str, tuple[str, set[tuple[str, str | None, str, str | None]]]]:
    view = {}
    for package in load_workspace(root).members:
        deps = {(d.name, d.key if d.renamed else None, d.kind.value, d.target) for d in package.dependencies}
        view[package.name] = (package.version, deps)
    return view


def test_example_matches_cargo_metadata() -> None:
    assert our_view(EXAMPLE) == cargo_view(EXAMPLE)


@pytest.mark.parametrize("crates", [12, 120, 500])
def test_generated_workspace_matches_cargo_metadata(tmp_path: Path, crates: int) -> None:
    make_workspace(tmp_path, crates)
    assert our_view(tmp_path) == cargo_view(tmp_path)


def test_example_shapes_are_resolved() -> None:
    ws = load_workspace(EXAMPLE)
    assert ws.version == "0.4.2"
    assert len(ws.members) == 9
    io = ws.package("prism-io")
    assert (io.version, io.version_inherited) == ("1.2.0", False)
    gpu = ws.package("prism-gpu")
    assert gpu.version_inherited and gpu.has_build_script
    assert gpu.features["default"] == ("gpu",)
    renamed = next(d for d in io.dependencies if d.key == "core-types")
    assert (renamed.name, renamed.member, renamed.requirement) == ("prism-core", "prism-core", "0.4")
    legacy = next(d for d in io.dependencies if d.name == "prism-legacy")
    assert legacy.external_path and legacy.member is None
    physics = ws.package("prism-physics")
    target = next(d for d in physics.dependencies if d.name == "prism-gpu")
    assert target.target == "cfg(unix)"
    assert (target.table, target.requirement) == (("target", "cfg(unix)", "dependencies"), "=0.4.2")
    assert any(d.kind is DepKind.DEV and d.member == "prism-testkit" for d in physics.dependencies)
    nhs = ws.package("prism-nhs")
    sub = next(d for d in nhs.dependencies if d.name == "prism-core")
    assert (sub.requirement, sub.workspace) == ("0.4.2", False)
    py = ws.package("prism-py")
    dotted = next(d for d in py.dependencies if d.name == "prism-core")
    assert dotted.workspace and dotted.member == "prism-core" and dotted.requirement == "0.4.2"
    binary = ws.package("prism")
    assert binary.has_binary
    assert any(d.kind is DepKind.BUILD and d.member == "prism-buildinfo" for d in binary.dependencies)
    assert not ws.package("prism-testkit").publish
    assert not ws.has("prism-legacy")


def test_topological_order_puts_dependencies_first() -> None:
    ws = load_workspace(EXAMPLE)
    order = ws.topological_order()
    position = {name: i for i, name in enumerate(order)}
    for dependent, dep in ws.internal_edges([DepKind.NORMAL, DepKind.BUILD]):
        assert position[dep.member] < position[dependent], (dependent, dep.member)
    assert set(order) == set(ws.names)


def test_reverse_dependencies_and_closure() -> None:
    ws = load_workspace(EXAMPLE)
    assert "prism-io" in ws.reverse_dependencies()["prism-core"]
    closure = ws.dependents_closure(["prism-nhs"])
    assert closure == {"prism-nhs", "prism-physics", "prism"}


def test_single_package_root_is_a_workspace_of_one(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text("")
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "solo"\nversion = "2.0.1"\nedition = "2021"\n')
    ws = load_workspace(tmp_path)
    assert [(p.name, p.version) for p in ws.members] == [("solo", "2.0.1")]
    assert not ws.virtual


def test_path_dependencies_inside_root_become_members(tmp_path: Path) -> None:
    make_workspace(tmp_path, 3)
    manifest = tmp_path / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('members = ["crates/*"]', 'members = ["crates/gen-crate-0002"]'))
    names = set(load_workspace(tmp_path).names)
    assert names == set(cargo_view(tmp_path))


def test_json_shape(tmp_path: Path) -> None:
    make_workspace(tmp_path, 6)
    data = workspace_json(load_workspace(tmp_path))
    assert set(data) == {"root", "version", "virtual", "members", "excluded", "order"}
    member = data["members"][1]
    assert member["name"] == "gen-crate-0001"
    assert member["manifest_path"] == "crates/gen-crate-0001/Cargo.toml"
    dep = member["dependencies"][0]
    assert set(dep) == {"key", "name", "kind", "target", "requirement", "path", "workspace", "optional",
                        "member", "external_path", "patched"}
    json.dumps(data)


def test_package_lookup_error_names_members() -> None:
    with pytest.raises(ManifestError) as info:
        load_workspace(EXAMPLE).package("nope")
    assert "prism-core" in info.value.hint


_BLOCK_TOMLI = "import sys; sys.modules['tomli'] = None; from pipeline import cli; sys.exit(cli.main(sys.argv[1:]))"


@pytest.mark.parametrize("damaged", [False, True])
def test_stdlib_tomllib_fallback_reads_the_same(tmp_path: Path, damaged: bool) -> None:
    """Without the tomli wheel the stdlib parser gives the same model and the same error positions."""
    import os
    import sys

    from conftest import REPO_ROOT

    from pipeline.workspace.manifest import toml_loads

    assert toml_loads.__module__.startswith("tomli")  # else both runs below would use tomllib
    make_workspace(tmp_path, 12)
    if damaged:
        manifest = tmp_path / "crates" / "gen-crate-0003" / "Cargo.toml"
        manifest.write_text(manifest.read_text() + 'description = "unterminated\n')
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    argv = ["workspace", "--json", "--workspace", str(tmp_path)]
    fast = subprocess.run([sys.executable, "-m", "pipeline", *argv], capture_output=True, text=True, env=env)
    stdlib = subprocess.run([sys.executable, "-c", _BLOCK_TOMLI, *argv], capture_output=True, text=True, env=env)
    assert (stdlib.returncode, stdlib.stdout) == (fast.returncode, fast.stdout)
    if damaged:  # the same path:line:column (the wording may differ between parser versions)
        position = re.search(re.escape(str(manifest)) + r":\d+:\d+:", fast.stderr)
        assert fast.returncode == 2 and position is not None and position.group() in stdlib.stderr
    else:
        assert fast.returncode == 0 and len(json.loads(fast.stdout)["members"]) == 12
