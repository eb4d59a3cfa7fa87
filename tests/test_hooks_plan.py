"""Which checks the hook plans for a push, from configuration and the affected set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from factory import make_workspace
from hooks_support import commit_all, env, git, pipeline

from pipeline.changes.affected import compute_affected, crate_dirs, rules_from
from pipeline.foundation.git import Change
from pipeline.hooks.prepush import EMPTY_TREE, parse_push_lines, plan_checks, push_ranges
from pipeline.project import Project, load_config
from pipeline.stages import registry
from pipeline.workspace.load import load_workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("plan") / "ws"
    make_workspace(root, 4)
    return load_workspace(root)


def planned(workspace, changes: list[Change], **hooks) -> list[str]:
    project = Project(workspace, load_config({"pipeline": {"hooks": hooks}}, workspace.manifest_path))
    result = compute_affected(
        changes, base="b", head="h", prefix="", workspace=workspace,
        dirs=crate_dirs(workspace, workspace.root), rules=rules_from(project.config, registry.inputs_by_stage()),
    )
    return [check.name for check in plan_checks(project, result)]


def test_leaf_change_plans_fmt_and_clippy_on_it(workspace) -> None:
    assert planned(workspace, [Change("M", "crates/gen-crate-0003/src/lib.rs")]) == [
        "fmt (gen-crate-0003)", "clippy (gen-crate-0003)",
    ]


def test_tests_only_when_configured(workspace) -> None:
    change = [Change("M", "crates/gen-crate-0002/src/lib.rs")]
    assert "test" not in planned(workspace, change)
    assert planned(workspace, change, **{"run-tests": True, "run-clippy": False}) == [
        "fmt (gen-crate-0002)", "test",  # formatting of dependents cannot change
    ]


def test_whole_workspace_runs_once_with_workspace_scope(workspace) -> None:
    assert planned(workspace, [Change("M", "Cargo.lock")])[:2] == ["fmt (workspace)", "clippy (workspace)"]


def test_ci_and_lockfile_changes_plan_generate_check_and_dupes(workspace) -> None:
    names = planned(workspace, [Change("M", ".github/workflows/ci.yml"), Change("M", "Cargo.lock")])
    assert "generate --check" in names and "dupes" in names
    assert "dupes" not in planned(workspace, [Change("M", "crates/gen-crate-0001/src/lib.rs")])
    assert planned(workspace, [Change("M", ".gitlab-ci.yml")], **{"run-generate-check": False}) == []


def test_push_lines_and_ranges(tmp_path: Path) -> None:
    root = tmp_path / "r"
    make_workspace(root, 2, git=True)
    first = git(root, "rev-parse", "HEAD").stdout.strip()
    (root / "x.md").write_text("x\n")
    second = commit_all(root, "x")
    zero = "0" * 40
    text = (
        f"refs/heads/main {second} refs/heads/main {first}\n"
        f"refs/heads/new {second} refs/heads/new {zero}\n"
        f"(delete) {zero} refs/heads/old {first}\n"
        "garbage line\n"
    )
    refs = parse_push_lines(text)
    assert [r.local_ref for r in refs] == ["refs/heads/main", "refs/heads/new", "(delete)"]
    assert refs[2].deletion and refs[1].new
    # No remote-tracking branches here: a new branch falls back to everything (the empty tree).
    assert push_ranges(root, "origin", refs, None) == [(first, second), (EMPTY_TREE, second)]
    git(root, "branch", "trunk", first)
    assert push_ranges(root, "origin", refs[1:2], "trunk") == [(first, second)]


def test_pre_commit_framework_environment_gives_the_range(tmp_path: Path) -> None:
    root = tmp_path / "r"
    make_workspace(root, 2, git=True)
    first = git(root, "rev-parse", "HEAD").stdout.strip()
    (root / "notes.md").write_text("x\n")
    second = commit_all(root, "docs")
    run_env = env() | {"PRE_COMMIT_FROM_REF": first, "PRE_COMMIT_TO_REF": second}
    result = subprocess.run([sys.executable, "-m", "pipeline", "hooks", "run"], cwd=root, env=run_env,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "nothing to check" in result.stderr


def test_hooks_run_rejects_force(tmp_path: Path) -> None:
    root = tmp_path / "r"
    make_workspace(root, 2, git=True)
    result = pipeline(root, "--workspace", str(root), "hooks", "run", "--force", stdin="")
    assert result.returncode == 2 and "--force applies to `hooks install`" in result.stderr


def test_pre_commit_all_files_mode_checks_everything(tmp_path: Path) -> None:
    # pre-commit runs pre-push hooks without a range (and without git's lines) when the push
    # includes a root commit: that used to read as "nothing pushed" and pass unchecked.
    root = tmp_path / "r"
    make_workspace(root, 2, git=True)
    lib = root / "crates" / "gen-crate-0001" / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "pub fn   bad( ) {}\n")
    commit_all(root, "bad formatting")
    run_env = env() | {"PRE_COMMIT_REMOTE_NAME": "origin", "PRE_COMMIT_REMOTE_URL": str(tmp_path / "remote.git")}
    result = subprocess.run([sys.executable, "-m", "pipeline", "hooks", "run"], cwd=root, env=run_env,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 1, result.stderr
    assert "pre-push checks failed: fmt (workspace)" in result.stderr
