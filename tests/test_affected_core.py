"""The pure core of change detection: changed paths -> crates, triggers and kernels."""

from __future__ import annotations

from pathlib import Path

import pytest
from factory import make_workspace

from pipeline.changes.affected import (
    Rules,
    compute_affected,
    crate_dirs,
    cuda_include_graph,
    owner,
    root_manifest_change,
)
from pipeline.foundation.git import Change, parse_name_status
from pipeline.hooks.settings import HooksSettings
from pipeline.workspace.load import load_workspace
from pipeline.workspace.model import DepKind

RULES = Rules(ignore=HooksSettings().ignore, ci_paths=HooksSettings().ci_paths)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    """A 12-crate workspace in the subdirectory `ws` of the (pretend) repository top."""
    top = tmp_path_factory.mktemp("repo")
    make_workspace(top / "ws", 12)
    workspace = load_workspace(top / "ws")
    return workspace, crate_dirs(workspace, top.resolve())


def run(generated, *changes: Change, **kwargs):
    workspace, dirs = generated
    return compute_affected(
        list(changes), base="base", head="head", prefix="ws", workspace=workspace, dirs=dirs, rules=RULES, **kwargs
    )


def test_owner_is_the_deepest_crate_directory() -> None:
    dirs = {"": "root", "crates/a": "a", "crates/a/nested": "nested"}
    assert owner("crates/a/nested/src/lib.rs", dirs) == "nested"
    assert owner("crates/a/src/lib.rs", dirs) == "a"
    assert owner("crates/ab/src/lib.rs", dirs) == "root"  # a prefix of the name is not a parent
    assert owner("README.md", {"crates/a": "a"}) is None


def test_leaf_change_selects_only_the_leaf(generated) -> None:
    result = run(generated, Change("M", "ws/crates/gen-crate-0011/src/lib.rs"))
    assert result.changed_crates == ("gen-crate-0011",)
    assert result.crates == ("gen-crate-0011",)
    assert result.test_crates == ("gen-crate-0011",)
    assert not result.whole_workspace and not result.generate_check


def test_core_change_selects_every_dependent(generated) -> None:
    workspace, _ = generated
    result = run(generated, Change("M", "ws/crates/gen-crate-0000/src/lib.rs"))
    assert set(result.crates) == set(workspace.names)  # every crate reaches crate 0 through the i-1 chain
    assert result.crates[0] == "gen-crate-0000"  # dependencies first


def test_dev_dependents_are_tested_but_not_rebuilt(generated) -> None:
    # gen-crate-0006 has gen-crate-0004 as a dev-dependency; 0004's normal dependents are 0005...
    result = run(generated, Change("M", "ws/crates/gen-crate-0010/src/lib.rs"))
    assert set(result.crates) == {"gen-crate-0010", "gen-crate-0011"}
    workspace, _ = generated
    dev_users = {p.name for p in workspace.members for d in p.dependencies if d.kind == "dev" and d.member}
    assert dev_users  # the factory makes some
    dev_edge = next(
        (p.name, d.member) for p in workspace.members for d in p.dependencies if d.kind == "dev" and d.member
    )
    user, used = dev_edge
    only_dev = run(generated, Change("M", f"ws/crates/{used}/src/lib.rs"))
    assert user in only_dev.test_crates


@pytest.mark.parametrize(
    "path",
    ["ws/Cargo.lock", "ws/rust-toolchain.toml", "ws/rust-toolchain", "ws/.cargo/config.toml",
     "ws/.cargo/config", "rust-toolchain.toml", ".cargo/config.toml", "ws/rustfmt.toml"],
)
def test_workspace_files_select_every_crate(generated, path: str) -> None:
    workspace, _ = generated
    result = run(generated, Change("M", path))
    assert result.whole_workspace == (path,)
    assert set(result.crates) == set(workspace.names)
    assert result.packages() is None  # cargo runs with --workspace


def test_root_manifest_change_of_build_settings_is_whole_workspace(generated) -> None:
    change = root_manifest_change('[workspace]\nmembers = ["a"]\n', '[workspace]\nmembers = ["a", "b"]\n')
    result = run(generated, Change("M", "ws/Cargo.toml"), root_manifest=change)
    assert result.whole_workspace == ("ws/Cargo.toml",)
    assert result.generate_check == ()


def test_root_manifest_change_of_pipeline_config_only_runs_generate_check(generated) -> None:
    base = '[workspace]\nmembers = ["a"]\n[workspace.metadata.pipeline]\nfeatures = []\n'
    head = '[workspace]\nmembers = ["a"]\n[workspace.metadata.pipeline]\nfeatures = ["gpu"]\n'
    change = root_manifest_change(base, head)
    assert (change.build, change.pipeline_config) == (False, True)
    result = run(generated, Change("M", "ws/Cargo.toml"), root_manifest=change)
    assert result.whole_workspace == ()
    assert result.generate_check == ("ws/Cargo.toml",)
    assert result.crates == ()


@pytest.mark.parametrize("path", [".github/workflows/ci.yml", ".gitlab-ci.yml"])
def test_ci_files_trigger_generate_check_only(generated, path: str) -> None:
    result = run(generated, Change("M", path))
    assert result.generate_check == (path,)
    assert result.crates == ()
    assert not result.nothing


@pytest.mark.parametrize(
    "path", ["README.md", "docs/guide.md", "ws/README.md", "ws/docs/a/b.md", "ws/CHANGELOG.md", "scripts/x.sh"]
)
def test_docs_and_files_outside_crates_trigger_nothing(generated, path: str) -> None:
    result = run(generated, Change("M", path))
    assert result.nothing
    assert result.crates == ()


def test_rename_within_a_crate_and_between_crates(generated) -> None:
    inside = run(generated, Change("R", "ws/crates/gen-crate-0011/src/new.rs", "ws/crates/gen-crate-0011/src/old.rs"))
    assert inside.crates == ("gen-crate-0011",)
    across = run(generated, Change("R", "ws/crates/gen-crate-0011/src/m.rs", "ws/crates/gen-crate-0010/src/m.rs"))
    assert set(across.changed_crates) == {"gen-crate-0010", "gen-crate-0011"}


def test_deleted_crate_affects_its_dependents_from_the_base(tmp_path: Path) -> None:
    top = tmp_path / "top"
    make_workspace(top / "ws", 8)
    base = load_workspace(top / "ws")
    base_dirs = crate_dirs(base, top.resolve())
    # HEAD: gen-crate-0007 is gone (nothing else depended on it) and so is the edge to it.
    import shutil

    shutil.rmtree(top / "ws" / "crates" / "gen-crate-0007")
    head = load_workspace(top / "ws")
    result = compute_affected(
        [Change("D", "ws/crates/gen-crate-0007/Cargo.toml"), Change("D", "ws/crates/gen-crate-0007/src/lib.rs")],
        base="b", head="h", prefix="ws", workspace=head, dirs=crate_dirs(head, top.resolve()), rules=RULES,
        base_workspace=base, base_dirs=base_dirs,
    )
    assert result.removed_crates == ("gen-crate-0007",)
    assert result.crates == ()  # its dependents at the base: none left at HEAD
    assert not result.nothing  # a removal is still something to check


def test_deleted_core_crate_selects_base_dependents(tmp_path: Path) -> None:
    top = tmp_path / "top"
    make_workspace(top / "ws", 6)
    base = load_workspace(top / "ws")
    base_dirs = crate_dirs(base, top.resolve())
    head_dirs = {d: n for d, n in base_dirs.items() if n != "gen-crate-0002"}
    result = compute_affected(
        [Change("D", "ws/crates/gen-crate-0002/src/lib.rs")],
        base="b", head="h", prefix="ws", workspace=_without(base, "gen-crate-0002"), dirs=head_dirs, rules=RULES,
        base_workspace=base, base_dirs=base_dirs,
    )
    assert result.removed_crates == ("gen-crate-0002",)
    assert set(result.crates) == {"gen-crate-0003", "gen-crate-0004", "gen-crate-0005"}


def _without(workspace, name: str):
    from dataclasses import replace

    members = tuple(p for p in workspace.members if p.name != name)
    cleaned = tuple(
        replace(p, dependencies=tuple(d for d in p.dependencies if d.member != name)) for p in members
    )
    return replace(workspace, members=cleaned)


def test_cuda_header_maps_to_the_kernels_including_it() -> None:
    sources = {
        "g/kernels/common.cuh": "#pragma once\n",
        "g/kernels/math.cuh": '#include "common.cuh"\n',
        "g/kernels/saxpy.cu": '#include "common.cuh"\n__global__ void k() {}\n',
        "g/kernels/reduce.cu": '  #  include "math.cuh"\n',
        "g/kernels/alone.cu": "#include <cuda_runtime.h>\n",
        "g/other/stencil.cu": '#include "../kernels/math.cuh"\n',
    }
    graph = cuda_include_graph(sources)
    dirs = {"g": "gpu-crate"}
    hit = {k for k, inc in graph.items() if "g/kernels/common.cuh" in inc}
    assert hit == {"g/kernels/saxpy.cu", "g/kernels/reduce.cu", "g/other/stencil.cu"}
    assert owner("g/kernels/saxpy.cu", dirs) == "gpu-crate"
    # A system header is no file of the workspace: it never matches a change of one.
    assert graph["g/kernels/alone.cu"] & set(sources) == {"g/kernels/alone.cu"}


def test_cuda_change_selects_kernels_and_their_crate(generated) -> None:
    graph = cuda_include_graph({
        "ws/crates/gen-crate-0002/kernels/a.cu": '#include "h.cuh"\n',
        "ws/crates/gen-crate-0002/kernels/b.cu": "\n",
        "ws/crates/gen-crate-0002/kernels/h.cuh": "\n",
    })
    result = run(generated, Change("M", "ws/crates/gen-crate-0002/kernels/h.cuh"), cuda_graph=graph)
    assert result.cuda_kernels == ("ws/crates/gen-crate-0002/kernels/a.cu",)
    assert result.cuda_crates == ("gen-crate-0002",)
    assert "gen-crate-0002" in result.crates  # build.rs compiles kernels: the crate is affected too


def test_parse_name_status_with_renames_and_odd_names() -> None:
    text = "M\0a b.rs\0R087\0old/x.rs\0new/x.rs\0D\0gone.rs\0A\0tab\there.rs\0"
    assert parse_name_status(text) == [
        Change("M", "a b.rs"), Change("R", "new/x.rs", "old/x.rs"), Change("D", "gone.rs"), Change("A", "tab\there.rs"),
    ]


def test_path_dependency_outside_the_members_affects_its_users(generated) -> None:
    # An `exclude`d or vendored crate is built as part of the members that use it by path.
    external = {"ws/vendor/legacy": (("gen-crate-0010", DepKind.NORMAL), ("gen-crate-0011", DepKind.DEV))}
    result = run(generated, Change("M", "ws/vendor/legacy/src/lib.rs"), external=external)
    assert [f.effect for f in result.files] == ["path-dependency"]
    assert result.changed_crates == ()  # no member's own file changed: nothing to format
    assert result.crates == ("gen-crate-0010", "gen-crate-0011")  # 11 depends on 10 normally
    assert result.test_crates == ("gen-crate-0010", "gen-crate-0011")
    dev_only = run(generated, Change("M", "ws/vendor/legacy/src/lib.rs"),
                   external={"ws/vendor/legacy": (("gen-crate-0011", DepKind.DEV),)})
    assert dev_only.crates == () and dev_only.test_crates == ("gen-crate-0011",)
    # Inside the crate's directory every file is the crate's, its readme included (issue 13).
    docs = run(generated, Change("M", "ws/vendor/legacy/README.md"), external=external)
    assert docs.files[0].effect == "path-dependency" and docs.crates == ("gen-crate-0010", "gen-crate-0011")
