"""Generated GPU jobs check their runner first (`pipeline runner check`); the manual `profile` job."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ci_support import load_yaml, pipeline_cli, render_workspace, write_config_workspace

WARN = ("\"$PIPELINE_VENV/bin/pipeline\" runner check || echo 'warning: this GPU runner does not match "
        "[workspace.metadata.pipeline.runner] (findings above); runner.enforce = true stops the job here'")

PROFILE = """
[workspace.metadata.pipeline.runner]
enforce = true

[workspace.metadata.pipeline.ci]
profile = ["cargo", "bench", "-p", "crate-a"]
profile-tool = "nsys"
"""


def _run_step(job: dict) -> list[str]:
    step = next(s for s in job["steps"] if str(s.get("name", "")).startswith("nox -s"))
    return step["run"].splitlines()


def test_gpu_jobs_run_the_runner_check_first_and_warn_by_default(tmp_path: Path) -> None:
    files = render_workspace(write_config_workspace(tmp_path / "ws", "", git=False))
    github = load_yaml(files[".github/workflows/ci.yml"])
    for job_id in ("gpu-smoke", "gpu-test"):
        lines = _run_step(github["jobs"][job_id])
        assert lines[0] == WARN, lines
        assert lines[1].startswith('"$PIPELINE_VENV/bin/pipeline" gpu run --gpus 1 -- ')
    assert not [line for line in _run_step(github["jobs"]["clippy"]) if "runner check" in line]
    assert "workflow_dispatch" not in github["on"] and "profile" not in github["jobs"]
    gitlab = load_yaml(files[".gitlab-ci.yml"])
    assert gitlab["gpu-test"]["script"][0] == WARN
    assert "profile" not in gitlab


def test_enforced_runner_check_and_the_manual_profile_job(tmp_path: Path) -> None:
    files = render_workspace(write_config_workspace(tmp_path / "ws", PROFILE, git=False))
    github = load_yaml(files[".github/workflows/ci.yml"])
    assert _run_step(github["jobs"]["gpu-test"])[0] == '"$PIPELINE_VENV/bin/pipeline" runner check'
    assert "workflow_dispatch" in github["on"]
    profile = github["jobs"]["profile"]
    assert profile["if"] == "github.event_name == 'workflow_dispatch'"
    assert profile["runs-on"] == ["self-hosted", "linux", "x64", "gpu"]
    lines = _run_step(profile)
    assert lines[0] == '"$PIPELINE_VENV/bin/pipeline" runner check'
    # `pipeline profile` leases its GPUs itself: no `gpu run` around it
    assert lines[1].endswith("-s profile -- --tool nsys --gpus 1 --require -- cargo bench -p crate-a")
    assert "gpu run" not in lines[1]
    upload = next(s for s in profile["steps"] if s.get("name") == "Upload profile")
    assert upload["with"]["path"] == "target/profile" and upload["with"]["if-no-files-found"] == "error"
    assert "profile" not in github["jobs"]["gpu-test"].get("needs", [])
    gitlab = load_yaml(files[".gitlab-ci.yml"])
    job = gitlab["profile"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE != "merge_request_event" && '
                                   '$CI_COMMIT_REF_PROTECTED == "true"', "when": "manual"}]
    assert job["allow_failure"] is True and job["artifacts"]["paths"] == ["target/profile"]
    assert job["script"][0] == '"$PIPELINE_VENV/bin/pipeline" runner check'
    assert "allow_failure" not in gitlab["gpu-test"]


def test_a_profile_command_word_with_shell_syntax_is_refused(tmp_path: Path) -> None:
    root = write_config_workspace(tmp_path / "ws", '\n[workspace.metadata.pipeline.ci]\nprofile = ["cargo", '
                                  '"bench;curl x|sh"]\n', git=False)
    result = pipeline_cli("--workspace", str(root), "generate")
    assert result.returncode == 2
    assert "`profile` = 'bench;curl x|sh' is not a plain argument" in result.stderr
