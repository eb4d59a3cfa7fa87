"""The pure CI job model: which jobs exist, what they run, in which order, on which runners."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from ci_support import CONFIGS, write_config_workspace

from pipeline.ci.generate import context_for, pipeline_for
from pipeline.ci.model import Context, Runner, Workflow, build_pipeline, critical_path
from pipeline.ci.settings import CiSettings
from pipeline.project import load_project

CONTEXT = Context(workspace=".", lockfile="Cargo.lock", dist_dir="dist", cuda_cache_dir="target/cuda-cache",
                  tool_version="0.0.0", config_file="Cargo.toml")


def _ids(jobs):
    return [job.id for job in jobs]


def test_default_layout_runs_every_stage_as_a_nox_session():
    pipeline = build_pipeline(CiSettings(), CONTEXT)
    assert _ids(pipeline.ci_jobs) == ["generate", "checks", "clippy", "test", "cuda", "cuda-kernels", "gpu-smoke",
                                      "gpu-test", "report"]
    sessions = [s for job in pipeline.ci_jobs for s in job.sessions]
    assert sessions == ["generate", "fmt", "lint", "dupes", "audit", "clippy", "test", "cuda", "cuda", "gpu_smoke",
                        "gpu_test"]
    assert pipeline.job(Workflow.CI, "generate").args == ("--check",)
    cuda = pipeline.job(Workflow.CI, "cuda")
    assert cuda.runner is Runner.CPU and cuda.args == ("--arch", "$ARCH")
    assert [dict(e)["ARCH"] for e in cuda.matrix_entries] == ["sm_80", "sm_90"]
    assert cuda.container.startswith("nvidia/cuda:") and "@sha256:" in cuda.container
    triggers = [(t.event, t.pattern) for t in pipeline.triggers(Workflow.CI)]
    assert triggers == [("push", "main"), ("pull_request", "main")]
    assert [(t.event, t.pattern) for t in pipeline.triggers(Workflow.RELEASE)] == [("tag", "v")]


def test_gpu_jobs_follow_the_cuda_job_under_a_lease():
    pipeline = build_pipeline(CiSettings(gpus=2), CONTEXT)
    smoke = pipeline.job(Workflow.CI, "gpu-smoke")
    gpu_test = pipeline.job(Workflow.CI, "gpu-test")
    assert smoke.runner is Runner.GPU and smoke.needs == ("cuda-kernels",) and smoke.gpus == 2
    assert gpu_test.needs == ("gpu-smoke", "test", "cuda-kernels") and gpu_test.gpus == 2
    # Cheap checks never wait for anything: they run in parallel.
    assert all(not job.needs for job in pipeline.ci_jobs if job.stage == "check")


def test_critical_path_is_the_longest_chain_of_needs():
    pipeline = build_pipeline(CiSettings(), CONTEXT)
    chain, minutes = critical_path(pipeline.ci_jobs)
    assert chain == ["cuda-kernels", "gpu-smoke", "gpu-test"]
    assert minutes == 60 + 30 + 60
    release_chain, _ = critical_path(pipeline.release_jobs, {job.id: 1 for job in pipeline.release_jobs})
    assert release_chain[-2:] == ["release", "publish"]


def test_switched_off_stages_drop_out_of_needs():
    settings = CiSettings(stages=("fmt", "test", "gpu_test"))
    pipeline = build_pipeline(settings, CONTEXT)
    assert _ids(pipeline.ci_jobs) == ["checks", "test", "gpu-test", "report"]
    assert pipeline.job(Workflow.CI, "gpu-test").needs == ("test",)


def test_stages_not_on_pull_requests_get_their_own_check_job():
    settings = CiSettings(pr_stages=("fmt", "lint", "clippy", "test"))
    pipeline = build_pipeline(settings, CONTEXT)
    checks = pipeline.job(Workflow.CI, "checks")
    main_only = pipeline.job(Workflow.CI, "checks-main")
    assert checks.sessions == ("fmt", "lint") and checks.pull_requests
    assert main_only.sessions == ("dupes", "audit") and not main_only.pull_requests
    assert not pipeline.job(Workflow.CI, "cuda").pull_requests


def test_feature_sets_become_a_matrix_passed_to_cargo():
    settings = CiSettings(feature_sets={"default": (), "full": ("gpu", "prism-gpu/tensorcore")})
    pipeline = build_pipeline(settings, CONTEXT)
    test = pipeline.job(Workflow.CI, "test")
    assert test.feature_args
    assert [dict(e) for e in test.matrix_entries] == [
        {"FEATURE_SET": "default", "FEATURES": ""},
        {"FEATURE_SET": "full", "FEATURES": "gpu,prism-gpu/tensorcore"},
    ]


def test_release_workflow_gates_then_builds_then_publishes_without_caches():
    pipeline = build_pipeline(CiSettings(), CONTEXT)
    jobs = pipeline.release_jobs
    assert _ids(jobs) == ["checks", "clippy", "test", "release-kernels", "release", "publish"]
    assert not any(job.cache for job in jobs)
    build = pipeline.job(Workflow.RELEASE, "release")
    assert build.needs == ("checks", "clippy", "test", "release-kernels")
    # The CUDA gate builds every architecture once and hands target/cuda to the release build,
    # which packages it (on its own runner, without nvcc, it would ship no kernels).
    kernels = pipeline.job(Workflow.RELEASE, "release-kernels")
    assert kernels.session == "cuda" and kernels.args == ("--arch", "sm_80", "--arch", "sm_90")
    assert not kernels.matrix and kernels.container.startswith("nvidia/cuda:")
    assert kernels.uploads[0].path == "target/cuda" and build.downloads == kernels.uploads
    assert build.args == ("--artifacts-only",) and build.uploads[0].path == "dist"
    publish = pipeline.job(Workflow.RELEASE, "publish")
    assert publish.publish and publish.needs == ("release",) and publish.downloads == build.uploads
    assert [job.id for job in jobs if job.publish] == ["publish"]


def test_extra_sessions_become_jobs(tmp_path: Path):
    root = write_config_workspace(tmp_path / "ws", CONFIGS["matrix"])
    project = load_project(root)
    pipeline, repo = pipeline_for(project)
    assert repo == root
    bench = pipeline.job(Workflow.CI, "bench-gpu")
    assert (bench.session, bench.args, bench.runner, bench.needs, bench.timeout, bench.pull_requests) == (
        "bench", ("--quick", "--out=target/bench.json"), Runner.GPU, ("cuda-kernels",), 45, False)
    assert len(pipeline.job(Workflow.CI, "cuda").matrix_entries) == 3
    assert len(pipeline.job(Workflow.CI, "test").matrix_entries) == 4
    assert pipeline.job(Workflow.CI, "test").timeout == 90


def test_workspace_in_a_subdirectory_runs_from_the_repository_root(tmp_path: Path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)  # enough for the root search; no git needed
    write_config_workspace(repo / "rust" / "engine", "", git=False)
    project = load_project(repo / "rust" / "engine")
    context = context_for(project, repo)
    assert context.workspace == "rust/engine"
    assert context.lockfile == "rust/engine/Cargo.lock"
    assert context.dist_dir == "rust/engine/dist"
    pipeline, root = pipeline_for(project)
    assert root == repo
    assert pipeline.cache_paths == ("rust/engine/target",)  # the CUDA cache lies inside target/


def test_model_is_immutable():
    pipeline = build_pipeline(CiSettings(), CONTEXT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pipeline.ci_jobs[0].timeout = 1  # type: ignore[misc]


def test_a_job_waiting_for_one_kept_off_pull_requests_stays_off_them_too():
    # cuda only on the default branch: the GPU jobs after it cannot run on pull requests either
    # (GitLab refuses a merge-request pipeline whose job needs a job the rules left out).
    settings = CiSettings(pr_stages=("generate", "fmt", "lint", "test", "gpu_smoke", "gpu_test"))
    pipeline = build_pipeline(settings, CONTEXT)
    assert not pipeline.job(Workflow.CI, "cuda").pull_requests
    assert not pipeline.job(Workflow.CI, "gpu-smoke").pull_requests
    assert not pipeline.job(Workflow.CI, "gpu-test").pull_requests
    assert pipeline.job(Workflow.CI, "test").pull_requests
    from pipeline.ci.gitlab import gitlab_view

    jobs = {job.id: job for job in gitlab_view(pipeline).jobs}
    for job_id in ("gpu-smoke", "gpu-test"):
        assert all('== "merge_request_event"' not in rule.condition for rule in jobs[job_id].rules), job_id
