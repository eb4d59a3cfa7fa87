"""`cuda.toolkits` in the generated CI: the CUDA job over toolkit x architecture, GPU jobs on the newest toolkit."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from ci_support import load_yaml, pipeline_cli, render_workspace, write_config_workspace, write_tree

# Test values only: a digest-pinned reference of the right form (nothing pulls it).
IMAGE_12_9 = "nvidia/cuda:12.9.1-devel-ubuntu24.04@sha256:" + "1" * 64
CONFIG = f"""
[workspace.metadata.pipeline.cuda]
toolkits = ["13.0", "12.9"]
architectures = ["sm_80", "sm_120"]

[workspace.metadata.pipeline.ci]
cuda-archs = ["sm_80", "sm_120"]
cuda-images = {{ "12.9" = "{IMAGE_12_9}" }}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    root = write_config_workspace(tmp_path_factory.mktemp("ws") / "ws", CONFIG, crates=2, git=False)
    (root / "crates" / "gen-crate-0000" / "kernels").mkdir(parents=True, exist_ok=True)
    (root / "crates" / "gen-crate-0000" / "kernels" / "k.cu").write_text('extern "C" __global__ void k() {}\n')
    files = render_workspace(root)
    return files, write_tree(tmp_path_factory.mktemp("out"), files)


def _default_image() -> str:
    from pipeline.ci.settings import CiSettings

    return CiSettings().cuda_image


def test_github_cuda_job_is_a_toolkit_by_architecture_matrix(rendered) -> None:
    files, _ = rendered
    ci = load_yaml(files[".github/workflows/ci.yml"])
    cuda = ci["jobs"]["cuda"]
    assert cuda["strategy"]["matrix"]["include"] == [
        {"cuda-toolkit": toolkit, "cuda-image": image, "arch": arch}
        for toolkit, image in (("12.9", IMAGE_12_9), ("13.0", _default_image()))
        for arch in ("sm_80", "sm_120")
    ]
    assert cuda["container"]["image"] == "${{ matrix.cuda-image }}"
    assert cuda["env"]["CUDA_TOOLKIT"] == "${{ matrix.cuda-toolkit }}"
    assert "matrix.cuda-toolkit" in cuda["name"] and "matrix.arch" in cuda["name"]
    run = cuda["steps"][-1]["run"]
    assert '--arch "$ARCH" --toolkit "$CUDA_TOOLKIT"' in run and "${{" not in run
    # Every GPU job builds or loads the newest toolkit's kernels.
    gpu_jobs = [job for job in ci["jobs"].values() if "gpu" in job.get("runs-on", [])]
    assert gpu_jobs
    for job in gpu_jobs:
        assert job["env"]["PIPELINE_CUDA_TOOLKIT"] == "13.0"
    release = load_yaml(files[".github/workflows/release.yml"])
    kernels = release["jobs"]["release-kernels"]
    assert kernels["env"]["PIPELINE_CUDA_TOOLKIT"] == "13.0"
    assert kernels["container"]["image"] == _default_image()


def test_gitlab_cuda_job_uses_parallel_matrix_with_the_toolkit_image(rendered) -> None:
    files, _ = rendered
    gitlab = load_yaml(files[".gitlab-ci.yml"])
    cuda = gitlab["cuda"]
    assert cuda["image"] == "$CUDA_IMAGE"
    assert cuda["parallel"]["matrix"] == [
        {"CUDA_TOOLKIT": toolkit, "CUDA_IMAGE": image, "ARCH": arch}
        for toolkit, image in (("12.9", IMAGE_12_9), ("13.0", _default_image()))
        for arch in ("sm_80", "sm_120")
    ]
    assert any('--toolkit "$CUDA_TOOLKIT"' in line for line in cuda["script"])
    gpu_jobs = [job for name, job in gitlab.items() if isinstance(job, dict) and "gpu" in job.get("tags", [])]
    assert gpu_jobs and all(job["variables"]["PIPELINE_CUDA_TOOLKIT"] == "13.0" for job in gpu_jobs)


def test_no_toolkits_means_no_toolkit_axis(tmp_path: Path) -> None:
    root = write_config_workspace(tmp_path / "ws", "", crates=1, git=False)
    files = render_workspace(root)
    assert "CUDA_TOOLKIT" not in "".join(files.values())


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: `pip install {name}` (or run .ci/install-validators.sh)")
    return found


def test_the_matrix_files_are_schema_valid_and_zizmor_clean(rendered) -> None:
    _, tree = rendered
    workflows = sorted(str(p) for p in (tree / ".github" / "workflows").glob("*.yml"))
    checker = _tool("check-jsonschema")
    result = subprocess.run([checker, "--builtin-schema", "vendor.github-workflows", *workflows],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run([checker, "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci",
                             "--regex-variant", "nonunicode", str(tree / ".gitlab-ci.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run([_tool("zizmor"), "--offline", "--pedantic", "--no-progress", "--format", "json",
                             str(tree / ".github" / "workflows")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_a_toolkit_whose_image_holds_another_cuda_is_a_config_error(tmp_path: Path) -> None:
    config = '\n[workspace.metadata.pipeline.cuda]\ntoolkits = ["12.9", "13.0"]\n'
    root = write_config_workspace(tmp_path / "ws", config, crates=1)
    (root / "crates" / "gen-crate-0000" / "kernels").mkdir(parents=True, exist_ok=True)
    (root / "crates" / "gen-crate-0000" / "kernels" / "k.cu").write_text('extern "C" __global__ void k() {}\n')
    result = pipeline_cli("--workspace", str(root), "generate", cwd=root)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the CUDA job for toolkit 12.9 would run in 'nvidia/cuda:13.0.0" in result.stderr
    assert 'hint: add `cuda-images = { "12.9" = ' in result.stderr
