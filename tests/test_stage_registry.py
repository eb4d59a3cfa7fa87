"""The stage registry is the spine: nox sessions, hook checks, release gates and CI jobs follow it,
and the runner turns a stage run into a structured outcome."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from factory import make_workspace

import pipeline.nox_sessions as sessions  # registers the real sessions now, before a test swaps the registry
from pipeline import cli
from pipeline.changes.affected import compute_affected, crate_dirs
from pipeline.foundation.git import Change
from pipeline.project import Project, load_config, load_project
from pipeline.stages import registry, runner

PIPELINE = Path(__file__).resolve().parent.parent / "pipeline"


@pytest.fixture
def renamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry where `fmt` is called `format` and a new check stage `spelling` exists."""
    fmt = registry.get("fmt")
    lint = registry.get("lint")
    assert lint.ci is not None
    spelling = dataclasses.replace(lint, name="spelling", gate=False,
                                   ci=dataclasses.replace(lint.ci, release_job=False))
    stages = tuple(dataclasses.replace(s, name="format") if s.name == "fmt" else s for s in registry.STAGES)
    monkeypatch.setattr(registry, "STAGES", (*stages, spelling))
    assert fmt.session is not None and fmt.session.name == ""  # the session is named after the stage


def test_nox_sessions_follow_the_registry(renamed, monkeypatch: pytest.MonkeyPatch) -> None:
    import nox.registry


    monkeypatch.setattr(nox.registry, "_REGISTRY", {})
    names = sessions.register()
    assert "format" in names and "spelling" in names and "fmt" not in names
    registered = nox.registry.get()
    assert registered["format"].venv_backend == "none" and registered["format"].default
    assert set(registered) == set(names)


def test_hook_checks_follow_the_registry(renamed, tmp_path: Path) -> None:
    from pipeline.hooks.prepush import plan_checks

    root = tmp_path / "ws"
    make_workspace(root, 2)
    project = load_project(root)
    result = compute_affected([Change("M", "crates/gen-crate-0001/src/lib.rs")], base="b", head="h", prefix="",
                              workspace=project.workspace, dirs=crate_dirs(project.workspace, project.workspace.root))
    checks = plan_checks(project, result)
    assert [c.name for c in checks] == ["format (gen-crate-0001)", "clippy (gen-crate-0001)"]
    assert checks[0].stage == "format" and checks[0].args == ("-p", "gen-crate-0001")


def test_release_gates_follow_the_registry(renamed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.release.steps.gates import run_gates

    config = load_config({}, tmp_path / "Cargo.toml")
    assert config.release.gates[0] == "format" and "spelling" not in config.release.gates
    with pytest.raises(Exception, match="`gates` names `fmt`, which is not a pipeline stage"):
        load_config({"pipeline": {"release": {"gates": ["fmt"]}}}, tmp_path / "Cargo.toml")
    root = tmp_path / "ws"
    make_workspace(root, 2)
    outcomes = run_gates(load_project(root), ["format", "spelling"])
    assert [(o["stage"], o["status"]) for o in outcomes] == [("format", "passed"), ("spelling", "passed")]
    assert "release: gate format: passed" in capsys.readouterr().err


def test_ci_jobs_follow_the_registry(renamed, tmp_path: Path) -> None:
    from pipeline.ci.model import Context, Workflow, build_pipeline

    config = load_config({}, tmp_path / "Cargo.toml")
    assert "format" in config.ci.stages and "fmt" not in config.ci.stages
    context = Context(workspace=".", lockfile="Cargo.lock", dist_dir="dist", cuda_cache_dir="target/cuda-cache",
                      tool_version="0", config_file="Cargo.toml")
    pipeline = build_pipeline(config.ci, context)
    checks = pipeline.job(Workflow.CI, "checks")
    assert checks.sessions[0] == "format" and "spelling" in checks.sessions and "fmt" not in checks.sessions
    assert "format" in pipeline.job(Workflow.RELEASE, "checks").sessions  # `fmt` gated releases; `format` does
    assert "spelling" not in pipeline.job(Workflow.RELEASE, "checks").sessions


def test_registry_matches_the_commands() -> None:
    """Every stage runs a real command through its module; every stage name is unique."""
    names = registry.names()
    assert len(set(names)) == len(names)
    for stage in registry.stages():
        module, _help = cli.COMMANDS[stage.command]
        assert module == stage.module, stage.name
    for task in registry.TASKS:
        assert cli.COMMANDS[task.command][0] == task.module


def test_no_other_list_of_stage_names() -> None:
    """The consumers name no stage lists of their own (the registry is the only one)."""
    stage_list = re.compile(r"\(\s*\"fmt\",\s*\"clippy\"|\(\"generate\", \"fmt\"|\"dupes\", \"audit\", \"cuda\"")
    for rel in ("ci/settings.py", "ci/model.py", "release/settings.py", "release/flow.py", "nox_sessions.py",
                "hooks/prepush.py", "hooks/settings.py"):
        assert not stage_list.search((PIPELINE / rel).read_text()), rel


def test_only_cli_calls_main_or_reads_commands() -> None:
    offenders = [
        str(path.relative_to(PIPELINE)) for path in PIPELINE.rglob("*.py")
        if re.search(r"cli\.main|cli\.COMMANDS", path.read_text()) and path.name not in ("cli.py", "__main__.py")
    ]
    assert offenders == []


# ---------------------------------------------------------------------------
# The runner


def _project(tmp_path: Path) -> Project:
    root = tmp_path / "ws"
    make_workspace(root, 2)
    return load_project(root)


def test_outcomes_passed_failed_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path)
    passed = runner.run_stage("lint", project)
    assert passed.status == "passed" and passed.ok and passed.seconds >= 0
    lib = project.root / "crates" / "gen-crate-0001" / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "pub fn   ugly( ){}\n")
    failed = runner.run_stage("fmt", project)
    assert failed.status == "failed" and "stage `fmt` failed" in failed.detail and "--fix" in failed.hint
    assert not (project.root / "Cargo.lock").exists()
    skipped = runner.run_stage("dupes", project)
    assert skipped.status == "skipped" and skipped.detail == f"no Cargo.lock in {project.root}"
    required = runner.run_stage("dupes", project, required=True)
    assert required.status == "failed" and "cargo generate-lockfile" in required.hint
    assert skipped.to_json()["status"] == "skipped" and skipped.line().startswith("skipped: no Cargo.lock")


def test_child_output_goes_to_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path)
    outcome = runner.run_stage("test", project)
    assert outcome.status == "passed", outcome
    out, err = capfd.readouterr()
    assert out == ""
    assert "test result: ok" in err  # cargo test prints its report on stdout: sent to stderr


def test_bug_inside_a_gate_exits_3_with_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from release_support import make_shapes

    root = make_shapes(tmp_path / "ws", lockfile=True, git_repo=True,
                       extra_root='\n[workspace.metadata.pipeline.release]\nartifacts = false\ngates = ["lint"]\n')
    import pipeline.commands.lint as lint

    def broken(args):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug in the lint stage")

    monkeypatch.setattr(lint, "run", broken)
    assert cli.main(["release", "minor", "--execute", "--workspace", str(root)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "a bug in the lint stage" in err and "internal error" in err
