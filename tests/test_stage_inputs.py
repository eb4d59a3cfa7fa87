"""The registry's stage inputs drive `pipeline affected`, the hook's "inputs" rule and GitLab's change rules."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from factory import make_workspace

from pipeline.changes.affected import compute_affected, crate_dirs, rules_from
from pipeline.changes.patterns import CI_FILES, MEMBER_FILES, gitlab_changes, matches
from pipeline.foundation.git import Change
from pipeline.project import load_config, load_project
from pipeline.stages import registry

# Workspace-relative paths of the shapes a workspace holds, for comparing the two pattern languages.
SAMPLES = (
    "Cargo.toml", "Cargo.lock", "crates/a/Cargo.toml", "crates/a/src/lib.rs", "src/main.rs", "build.rs",
    "crates/a/kernels/k.cu", "kernels/common.cuh", "include/x.cuhpp", "rust-toolchain.toml", ".cargo/config.toml",
    "crates/a/.cargo/config.toml", "rustfmt.toml", "clippy.toml", "requirements.txt", "py/requirements-dev.txt",
    "pyproject.toml", "py/pyproject.toml", "README.md", "docs/guide.md", "crates/a/tests/data.json",
)


def gitlab_glob(glob: str) -> re.Pattern[str]:
    """GitLab's `changes:` glob (Ruby fnmatch, FNM_PATHNAME | FNM_DOTMATCH): `**/` spans directories."""
    out = ""
    for part in re.split(r"(\*\*/|\*)", glob):
        out += "(?:[^/]+/)*" if part == "**/" else "[^/]*" if part == "*" else re.escape(part)
    return re.compile(out + r"\Z")


@pytest.mark.parametrize("prefix", ["", "examples/prism4d"])
def test_gitlab_globs_match_what_the_stage_inputs_match(prefix: str) -> None:
    workspace = prefix or "."
    for stage in registry.stages():
        globs = gitlab_changes(stage.inputs, workspace)  # raises for a shape with no faithful glob
        if MEMBER_FILES in stage.inputs or not stage.inputs:
            assert globs is None or not stage.inputs
            continue
        assert globs is not None
        compiled = [gitlab_glob(g) for g in globs]
        for rel in SAMPLES:
            top_rel = f"{prefix}/{rel}" if prefix else rel
            assert any(c.match(top_rel) for c in compiled) == matches(rel, top_rel, stage.inputs), (stage.name, rel)
        for ci_file in (".github/workflows/ci.yml", ".gitlab-ci.yml"):
            assert any(c.match(ci_file) for c in compiled) == matches(None, ci_file, stage.inputs)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("inputs") / "ws"
    make_workspace(root, 3)
    return load_project(root).workspace


def stages_for(workspace, *paths: str, prefix: str = "") -> tuple[str, ...]:
    rules = rules_from(load_config({}, workspace.manifest_path), registry.inputs_by_stage())
    result = compute_affected([Change("M", p) for p in paths], base="b", head="h", prefix=prefix,
                              workspace=workspace, dirs=crate_dirs(workspace, workspace.root), rules=rules)
    return result.stages


def test_affected_lists_the_stages_whose_inputs_changed(workspace) -> None:
    rust = stages_for(workspace, "crates/gen-crate-0001/src/lib.rs")
    assert rust == ("fmt", "clippy", "test", "gpu_test")
    # Any file of a crate is the crate's: clippy and tests read it, fmt does not.
    assert stages_for(workspace, "crates/gen-crate-0001/tests/data.json") == ("clippy", "test", "gpu_test")
    lock = stages_for(workspace, "Cargo.lock")
    assert {"dupes", "audit", "clippy", "test"} <= set(lock) and "fmt" not in lock and "lint" not in lock
    assert stages_for(workspace, "crates/gen-crate-0002/kernels/k.cu")[:2] == ("clippy", "test")
    assert {"cuda", "gpu_smoke"} <= set(stages_for(workspace, "crates/gen-crate-0002/kernels/k.cu"))
    assert stages_for(workspace, ".github/workflows/ci.yml") == ("generate",)
    assert stages_for(workspace, "README.md") == ()  # top-level documentation: nothing to run
    assert "fmt" in stages_for(workspace, "rustfmt.toml")


def test_a_workspace_below_the_repository_top(workspace) -> None:
    # Workspace inputs are relative to the workspace, CI files to the repository top.
    assert stages_for(workspace, "other/Cargo.lock", prefix="sub") == ()
    assert stages_for(workspace, ".gitlab-ci.yml", prefix="sub") == ("generate",)


def test_the_hook_and_affected_follow_a_changed_input(workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.hooks.prepush import plan_checks
    from pipeline.project import Project

    dupes = registry.get("dupes")
    changed = dataclasses.replace(dupes, name="lockcheck", inputs=("deny.toml",))
    monkeypatch.setattr(registry, "STAGES", tuple(changed if s is dupes else s for s in registry.STAGES))
    project = Project(workspace, load_config({}, workspace.manifest_path))
    rules = rules_from(project.config, registry.inputs_by_stage())

    def checks(path: str) -> list[str]:
        result = compute_affected([Change("M", path)], base="b", head="h", prefix="", workspace=workspace,
                                  dirs=crate_dirs(workspace, workspace.root), rules=rules)
        return [c.name for c in plan_checks(project, result)]

    assert "lockcheck" in checks("deny.toml")
    assert "lockcheck" not in checks("Cargo.lock") and "dupes" not in checks("Cargo.lock")


def ci_pipeline(tmp_path: Path, workspace: str = "."):
    from pipeline.ci.model import Context, build_pipeline

    config = load_config({}, tmp_path / "Cargo.toml")
    context = Context(workspace=workspace, lockfile="Cargo.lock", dist_dir="dist", cuda_cache_dir="target/cuda-cache",
                      tool_version="0", config_file="Cargo.toml")
    return build_pipeline(config.ci, context)


def test_ci_change_rules_come_from_the_stage_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.ci.gitlab import gitlab_view
    from pipeline.ci.model import Workflow

    pipeline = ci_pipeline(tmp_path, "ws")
    cuda = pipeline.job(Workflow.CI, "cuda")
    assert cuda.changes == gitlab_changes(registry.get("cuda").inputs, "ws")
    assert pipeline.job(Workflow.CI, "generate").changes == ()  # not input-scoped
    assert pipeline.job(Workflow.CI, "test").changes == ()  # reads any file of its crates
    assert pipeline.job(Workflow.CI, "clippy").changes == ()
    checks = pipeline.job(Workflow.CI, "checks")
    for stage in ("fmt", "lint", "dupes", "audit"):
        if stage in pipeline.settings.pr_stages:
            assert set(gitlab_changes(registry.get(stage).inputs, "ws") or ()) <= set(checks.changes)
    assert all(job.changes == () for job in pipeline.release_jobs)  # a release checks everything

    view = {str(job.id): job for job in gitlab_view(pipeline).jobs}
    rules = view["cuda"].rules
    assert rules[0].condition.endswith('"merge_request_event"') and rules[0].changes == cuda.changes
    assert rules[1].changes == ()  # default branch and tags: always

    # Change the registry: the rules follow.
    stage = registry.get("cuda")
    monkeypatch.setattr(registry, "STAGES", tuple(
        dataclasses.replace(s, inputs=("*.cu",)) if s is stage else s for s in registry.STAGES))
    assert ci_pipeline(tmp_path, "ws").job(Workflow.CI, "cuda").changes == ("ws/**/*.cu",)


def test_ci_files_are_the_generate_stage_inputs() -> None:
    from pipeline.changes.affected import Rules
    from pipeline.hooks.settings import HooksSettings

    assert set(CI_FILES) <= set(registry.get("generate").inputs)
    assert HooksSettings().ci_paths == CI_FILES == Rules().ci_paths


def test_stage_command_help_is_the_registry_summary() -> None:
    import subprocess
    import sys

    from pipeline import cli

    for stage in registry.stages():
        if not stage.args:
            assert cli.COMMANDS[stage.command] == (stage.module, f"stage: {stage.summary}")
    # Start-up stays cheap: reading the help texts imports no command module.
    code = "import sys, pipeline.cli; print(sorted(m for m in sys.modules if m.startswith('pipeline.commands')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
