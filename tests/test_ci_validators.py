"""Generated files checked by the real validators: check-jsonschema, zizmor, gitlab-ci-local (under bun)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ci_support import (
    CONFIGS,
    REPO,
    load_yaml,
    node_tools,
    pipeline_cli,
    render_workspace,
    write_config_workspace,
    write_tree,
)

EXAMPLE = REPO / "examples" / "prism4d"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: `pip install {name}` (or run .ci/install-validators.sh)")
    return found


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, Path]:
    """Each case's rendered files written into a directory laid out like a repository."""
    cases = {"example": render_workspace(EXAMPLE)}
    for name, config in CONFIGS.items():
        root = write_config_workspace(tmp_path_factory.mktemp(f"ws-{name}") / "ws", config, git=False)
        cases[name] = render_workspace(root)
    return {name: write_tree(tmp_path_factory.mktemp(f"out-{name}"), files) for name, files in cases.items()}


def _run(argv: list[str], cwd: Path | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_github_workflows_pass_check_jsonschema(trees, schema):
    tool = _tool("check-jsonschema")
    files = [str(p) for tree in trees.values() for p in sorted((tree / ".github" / "workflows").glob("*.yml"))]
    assert len(files) == 7
    result = _run([tool, "--builtin-schema", schema, *files])
    assert result.returncode == 0, result.stdout + result.stderr


def test_gitlab_pipelines_pass_check_jsonschema(trees):
    tool = _tool("check-jsonschema")
    files = [str(tree / ".gitlab-ci.yml") for tree in trees.values() if (tree / ".gitlab-ci.yml").exists()]
    assert len(files) == 3
    result = _run([tool, "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci",
                   "--regex-variant", "nonunicode", *files])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", ["example", *CONFIGS])
def test_zizmor_pedantic_reports_nothing(trees, case):
    tool = _tool("zizmor")
    result = _run([tool, "--offline", "--pedantic", "--no-progress", "--format", "json",
                   str(trees[case] / ".github" / "workflows")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_zizmor_auditor_reports_only_guarded_self_hosted_runners(trees):
    """The auditor persona reports self-hosted runners, and the generated zizmor.yml disables no audit:
    every finding is a `self-hosted-runner` on a job that carries the fork-PR guard."""
    tool = _tool("zizmor")
    workflows = trees["example"] / ".github" / "workflows"
    config = trees["example"] / ".github" / "zizmor.yml"
    assert "disable:" not in config.read_text() and "rules: {}" in config.read_text()
    result = _run([tool, "--offline", "--persona=auditor", "--no-progress", "--format", "json",
                   "--config", str(config), str(workflows)])
    findings = json.loads(result.stdout)
    assert findings and {f["ident"] for f in findings} == {"self-hosted-runner"}, result.stdout[-2000:]
    guard = "github.event.pull_request.head.repo.full_name == github.repository"
    docs = {p.name: load_yaml(p.read_text()) for p in workflows.glob("*.yml")}
    for finding in findings:
        for location in finding["locations"]:
            symbolic = location["symbolic"]
            name = Path(symbolic["key"]["Local"]["verbatim_path"]).name
            route = [c.get("Key") for c in symbolic["route"]["route"]]
            job = docs[name]["jobs"][route[1]]
            on = docs[name]["on"]
            assert guard in job.get("if", "") or "pull_request" not in on, (name, route)


def test_zizmor_catches_a_tag_only_image(tmp_path):
    """A tag-pinned image is accepted by configuration but the pedantic audit flags it: the docs say use a digest."""
    tool = _tool("zizmor")
    root = write_config_workspace(tmp_path / "ws", '\n[workspace.metadata.pipeline.ci]\n'
                                  'cuda-image = "nvidia/cuda:13.0.0-devel-ubuntu24.04"\n', crates=1, git=False)
    tree = write_tree(tmp_path / "out", render_workspace(root))
    result = _run([tool, "--offline", "--pedantic", "--no-progress", "--format", "json",
                   str(tree / ".github" / "workflows")])
    assert {f["ident"] for f in json.loads(result.stdout)} == {"unpinned-images"}


# ---------------------------------------------------------------------------
# gitlab-ci-local: list the jobs and run the cheap non-GPU ones with the shell executor


@pytest.fixture(scope="module")
def gitlab_repo(tmp_path_factory) -> Path:
    """A git copy of this repository whose example config says runners come provisioned (this machine is)."""
    _, reason = node_tools()
    if reason:
        pytest.skip(reason)
    repo = tmp_path_factory.mktemp("gitlab") / "repo"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    for rel in filter(None, listed.stdout.split("\0")):
        source = REPO / rel
        if source.is_file():
            target = repo / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    import tomlkit

    manifest = repo / "examples" / "prism4d" / "Cargo.toml"
    doc = tomlkit.parse(manifest.read_text())
    ci = doc["workspace"]["metadata"]["pipeline"]["ci"]  # type: ignore[index]
    # Offline here: no rustup download, no pip install; the shell executor uses this machine's cargo and nox.
    ci["setup-toolchain"] = False  # type: ignore[index]
    ci["pip-install"] = []  # type: ignore[index]
    manifest.write_text(tomlkit.dumps(doc))
    result = pipeline_cli("generate", cwd=repo, env={"PYTHONPATH": str(repo)})
    assert result.returncode == 0, result.stderr
    git = ["git", "-c", "user.name=Tests", "-c", "user.email=tests@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "test copy"], cwd=repo, check=True)
    return repo


def _gitlab_ci_local(repo: Path, *args: str) -> subprocess.CompletedProcess:
    argv, _ = node_tools()
    env_path = f"{Path(sys.executable).parent}:{subprocess.os.environ.get('PATH', '')}"
    return subprocess.run([*argv, *args], cwd=repo, capture_output=True, text=True,
                          env={**subprocess.os.environ, "PATH": env_path, "PYTHONPATH": str(repo)})


def _listed(repo: Path, *extra: str) -> list[str]:
    result = _gitlab_ci_local(repo, "--list-json", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    # --list-json also shows jobs whose rules leave them out (`when: never`).
    return [job["name"] for job in json.loads(result.stdout) if job.get("when") != "never"]


def test_gitlab_ci_local_lists_the_jobs(gitlab_repo):
    branch = _listed(gitlab_repo)
    assert branch == [
        "generate", "checks: [fmt]", "checks: [lint]", "checks: [dupes]", "checks: [audit]",
        "clippy: [default,]", "clippy: [tensorcore,prism-gpu/tensorcore]",
        "test: [default,]", "test: [tensorcore,prism-gpu/tensorcore]",
        "cuda: [sm_80]", "cuda: [sm_90]", "cuda: [sm_120]", "tests", "pylint", "msrv", "report",
    ]  # no GPU job (nor the kernel build that only feeds them): this ref is not protected
    protected = _listed(gitlab_repo, "--variable", "CI_COMMIT_REF_PROTECTED=true",
                        "--ignore-predefined-vars", "CI_COMMIT_REF_PROTECTED")
    assert set(protected) - set(branch) == {"cuda-kernels", "gpu-smoke", "gpu-test"}
    tagged = _listed(gitlab_repo, "--variable", "CI_COMMIT_TAG=prism4d-v0.4.2",
                     "--ignore-predefined-vars", "CI_COMMIT_TAG")
    assert set(tagged) - set(branch) == {"release-kernels", "release", "publish"}


def test_gitlab_ci_local_runs_the_cheap_jobs(gitlab_repo):
    result = _gitlab_ci_local(gitlab_repo, "generate", "checks: [fmt]", "checks: [lint]")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "PASS  generate" in output and "PASS  checks: [fmt]" in output and "PASS  checks: [lint]" in output
    assert "Session generate was successful" in output and "cargo fmt --all --check" in output
