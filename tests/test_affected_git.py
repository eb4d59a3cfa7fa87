"""`pipeline affected` and `--changed-since` against real git repositories and real cargo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from factory import init_git, make_workspace
from hooks_support import EXAMPLE, affected_json, commit_all, git, pipeline

LEAF = "gen-crate-0005"
CORE = "gen-crate-0000"
ALL = [f"gen-crate-{i:04d}" for i in range(6)]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A 6-crate chain (0 <- 1 <- ... <- 5) committed on `main`."""
    root = tmp_path / "repo"
    make_workspace(root, 6, git=True)
    git(root, "branch", "base")
    return root


def edit(path: Path, text: str = "// changed\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(text)


def test_leaf_change_selects_the_leaf_alone(repo: Path) -> None:
    edit(repo / "crates" / LEAF / "src" / "lib.rs")
    commit_all(repo, "leaf")
    data = affected_json(repo, "base")
    assert data["crates"] == [LEAF]
    assert data["test_crates"] == [LEAF]
    assert data["files"] == [
        {"status": "M", "path": f"crates/{LEAF}/src/lib.rs", "old_path": None, "effect": "crate", "crate": LEAF}
    ]
    assert data["whole_workspace"] == [] and data["generate_check"] == [] and not data["nothing"]
    assert data["packages"] == [LEAF] and data["test_packages"] == [LEAF]


def test_core_change_selects_it_and_all_dependents(repo: Path) -> None:
    edit(repo / "crates" / CORE / "src" / "lib.rs")
    commit_all(repo, "core")
    data = affected_json(repo, "base")
    assert data["changed_crates"] == [CORE]
    assert data["crates"] == ALL  # in dependency order
    assert data["packages"] is None  # every member: one --workspace run
    fmt = pipeline(repo, "--workspace", str(repo), "fmt", "--changed-since", "base")
    assert fmt.returncode == 0 and f"cargo fmt -p {CORE} --check" in fmt.stderr  # dependents' code is unchanged


def test_lockfile_and_toolchain_select_the_whole_workspace(repo: Path) -> None:
    (repo / "Cargo.lock").write_text("version = 4\n")
    (repo / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "stable"\n')
    commit_all(repo, "lock")
    data = affected_json(repo, "base")
    assert sorted(data["whole_workspace"]) == ["Cargo.lock", "rust-toolchain.toml"]
    assert sorted(data["crates"]) == ALL
    assert data["packages"] is None  # cargo --workspace


def test_ci_file_triggers_generate_check(repo: Path) -> None:
    edit(repo / ".github" / "workflows" / "ci.yml", "on: push\n")
    commit_all(repo, "ci")
    data = affected_json(repo, "base")
    assert data["generate_check"] == [".github/workflows/ci.yml"]
    assert data["crates"] == [] and not data["nothing"]


def test_doc_only_change_triggers_nothing(repo: Path) -> None:
    edit(repo / "README.md", "# docs\n")
    edit(repo / "docs" / "guide.md", "guide\n")
    commit_all(repo, "docs")
    data = affected_json(repo, "base")
    assert data["nothing"] and data["crates"] == []
    human = pipeline(repo, "--workspace", str(repo), "affected", "--base", "base")
    assert human.returncode == 0 and "nothing to check" in human.stdout


def test_cuda_header_selects_including_kernels(repo: Path) -> None:
    kernels = repo / "crates" / "gen-crate-0002" / "kernels"
    edit(kernels / "common.cuh", "#pragma once\n")
    edit(kernels / "saxpy.cu", '#include "common.cuh"\n')
    edit(kernels / "plain.cu", "// no includes\n")
    commit_all(repo, "kernels")
    git(repo, "branch", "-f", "base")
    edit(kernels / "common.cuh", "#define N 4\n")
    commit_all(repo, "header")
    data = affected_json(repo, "base")
    assert data["cuda"] == {"kernels": ["crates/gen-crate-0002/kernels/saxpy.cu"], "crates": ["gen-crate-0002"]}
    assert data["crates"] == ALL[2:]


def test_rename_inside_and_between_crates(repo: Path) -> None:
    edit(repo / "crates" / "gen-crate-0004" / "src" / "util.rs", "pub fn util() -> u32 {\n    42\n}\n" * 5)
    commit_all(repo, "util")
    git(repo, "branch", "-f", "base")
    git(repo, "mv", "crates/gen-crate-0004/src/util.rs", f"crates/{LEAF}/src/util.rs")
    commit_all(repo, "move util")
    data = affected_json(repo, "base")
    (entry,) = data["files"]
    assert entry["status"] == "R"
    assert entry["old_path"] == "crates/gen-crate-0004/src/util.rs"
    assert data["changed_crates"] == ["gen-crate-0004", LEAF]


def test_deleted_crate_selects_its_dependents(repo: Path) -> None:
    # Keep only the [workspace.dependencies] entry crate 5 uses, so deleting crate 2 needs no root change.
    manifest = repo / "Cargo.toml"
    text = manifest.read_text()
    head, _, deps = text.partition("[workspace.dependencies]\n")
    kept = [line for line in deps.splitlines() if line.startswith("gen-crate-0004 ")]
    manifest.write_text(head + "[workspace.dependencies]\n" + "\n".join(kept) + "\n")
    commit_all(repo, "trim")
    git(repo, "branch", "-f", "base")
    shutil.rmtree(repo / "crates" / "gen-crate-0002")
    crate3 = repo / "crates" / "gen-crate-0003" / "Cargo.toml"
    kept_lines = [line for line in crate3.read_text().splitlines() if "gen-crate-0002" not in line]
    crate3.write_text("\n".join(kept_lines) + "\n")
    commit_all(repo, "drop crate 2")
    data = affected_json(repo, "base")
    assert data["removed_crates"] == ["gen-crate-0002"]
    assert data["crates"] == ["gen-crate-0003", "gen-crate-0004", LEAF]
    deleted = [f for f in data["files"] if f["status"] == "D"]
    assert deleted and all(f["crate"] == "gen-crate-0002" for f in deleted)


def test_nonexistent_base_is_a_usage_error(repo: Path) -> None:
    result = pipeline(repo, "--workspace", str(repo), "affected", "--base", "no-such-branch")
    assert result.returncode == 2
    assert "base `no-such-branch` is not a commit" in result.stderr
    assert "hint:" in result.stderr


def test_workspace_in_a_subdirectory_of_the_repository(tmp_path: Path) -> None:
    top = tmp_path / "top"
    make_workspace(top / "rust" / "ws", 6)
    (top / "README.md").write_text("top\n")
    init_git(top)
    git(top, "branch", "base")
    edit(top / "rust" / "ws" / "crates" / "gen-crate-0004" / "src" / "lib.rs")
    commit_all(top, "edit")
    data = affected_json(top / "rust" / "ws", "base")
    assert data["files"][0]["path"] == "rust/ws/crates/gen-crate-0004/src/lib.rs"
    assert data["crates"] == ["gen-crate-0004", LEAF]
    # A toolchain file between the workspace and the repository top applies to the workspace too.
    edit(top / "rust" / "rust-toolchain.toml", '[toolchain]\nchannel = "stable"\n')
    commit_all(top, "toolchain")
    assert affected_json(top / "rust" / "ws", "base")["whole_workspace"] == ["rust/rust-toolchain.toml"]


def test_clippy_changed_since_runs_only_affected_crates(repo: Path) -> None:
    edit(repo / "crates" / LEAF / "src" / "lib.rs", "pub fn extra() -> u8 {\n    1\n}\n")
    commit_all(repo, "leaf")
    result = pipeline(repo, "--workspace", str(repo), "clippy", "--changed-since", "base")
    assert result.returncode == 0, result.stderr
    assert f"crates affected since base: {LEAF}" in result.stderr
    assert f"cargo clippy -p {LEAF} --all-targets" in result.stderr
    assert "Checking gen-crate-0004" in result.stderr  # a dependency is built, but not linted on its own
    fmt = pipeline(repo, "--workspace", str(repo), "fmt", "--changed-since", "base")
    assert fmt.returncode == 0 and f"cargo fmt -p {LEAF} --check" in fmt.stderr


def test_changed_since_with_nothing_affected_succeeds_and_says_so(repo: Path) -> None:
    edit(repo / "README.md", "# docs\n")
    commit_all(repo, "docs")
    for stage in ("fmt", "clippy", "test"):
        result = pipeline(repo, "--workspace", str(repo), stage, "--changed-since", "base")
        assert result.returncode == 0, result.stderr
        assert "no crate affected since base: nothing to check" in result.stderr
        assert "cargo" not in result.stderr.replace("cargo-gpu", "")


def test_changed_since_bad_ref_is_usage_error(repo: Path) -> None:
    result = pipeline(repo, "--workspace", str(repo), "clippy", "--changed-since", "nope")
    assert result.returncode == 2 and "base `nope`" in result.stderr


def test_file_name_that_is_not_utf8_is_attributed_not_a_traceback(repo: Path) -> None:
    # git prints paths byte for byte with -z: an invalid UTF-8 name used to crash the decoder (exit 3).
    name = os.fsdecode(b"bad\xff.rs")
    edit(repo / "crates" / LEAF / "src" / name)
    commit_all(repo, "odd name")
    data = affected_json(repo, "base")
    assert data["changed_crates"] == [LEAF]
    assert data["crates"] == [LEAF]


def test_excluded_path_dependency_affects_the_crates_using_it(tmp_path: Path) -> None:
    # The example's prism-io depends by path on vendor/prism-legacy, which is `exclude`d from the
    # members: a change there used to affect nothing, so the hook skipped prism-io.
    root = tmp_path / "prism4d"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "dist"))
    init_git(root)
    git(root, "branch", "base")
    edit(root / "vendor" / "prism-legacy" / "src" / "lib.rs")
    commit_all(root, "legacy")
    data = affected_json(root, "base")
    assert data["files"][0]["effect"] == "path-dependency"
    assert data["changed_crates"] == [] and not data["nothing"]
    assert "prism-io" in data["crates"] and "prism-core" not in data["crates"]
    assert data["crates"] == [c for c in data["test_crates"] if c in data["crates"]]
