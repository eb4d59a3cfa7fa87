"""Helpers for the CI generator tests: workspaces with a CI configuration, rendering, parsing, goldens."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
GOLDEN = TESTS / "golden" / "ci"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from factory import init_git, make_workspace  # noqa: E402

# Flat golden file names for the generated paths.
GOLDEN_NAMES = {
    ".github/workflows/ci.yml": "github-ci.yml",
    ".github/workflows/release.yml": "github-release.yml",
    ".github/zizmor.yml": "zizmor.yml",
    ".gitlab-ci.yml": "gitlab-ci.yml",
}

DIGEST_IMAGE = (
    "nvidia/cuda:13.0.0-devel-ubuntu24.04@sha256:1e8ac7a54c184a1af8ef2167f28fa98281892a835c981ebcddb1fad04bdd452d"
)

# Generated configurations rendered in tests (besides the bundled example).
CONFIGS: dict[str, str] = {
    "defaults": "",
    # A monorepo-like case: 3 archs x 4 feature sets, custom runners, an extra GPU session, stages off PRs.
    "matrix": f"""
[workspace.metadata.pipeline.ci]
workflow-name = "Build: GPU #1"
default-branch = "develop"
cpu-runner = ["self-hosted", "linux", "x64", "cpu"]
gpu-runner = ["self-hosted", "linux", "x64", "h100"]
cpu-tags = ["docker", "cpu"]
gpu-tags = ["gpu", "h100"]
gpu-pool = "h100"
gpus = 2
cuda-image = "{DIGEST_IMAGE}"
gitlab-image = "rust:1.85.0-bookworm"
cuda-archs = ["sm_80", "sm_90", "sm_120"]
toolchain = "1.85.0"
pip-install = ["cargo-gpu-pipeline[gpu]>=0.1"]
pr-stages = ["generate", "fmt", "clippy", "lint", "test", "cuda"]
timeouts = {{ test = 90, gpu_test = 120, profile = 30 }}
profile = ["cargo", "bench", "-p", "crate-a", "--", "--quick"]
profile-tool = "ncu"
cache-dirs = ["target", ".cache/sccache"]
feature-sets = {{ default = [], gpu = ["gpu"], tensorcore = ["gpu", "tensorcore"], \
full = ["gpu", "tensorcore", "onnx"] }}

[workspace.metadata.pipeline.ci.release]
tag-prefix = "release-v"
gates = ["fmt", "clippy", "test", "cuda", "gpu_test"]
environment = "production"
expire-in = "12 weeks"
publish-crates = true

target-runners = {{ "aarch64-unknown-linux-gnu" = ["self-hosted", "linux", "arm64"] }}
target-tags = {{ "x86_64-unknown-linux-gnu" = "x64", "aarch64-unknown-linux-gnu" = "arm64" }}

[workspace.metadata.pipeline.release]
targets = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]
cross = {{ "aarch64-unknown-linux-gnu" = "zigbuild" }}

[workspace.metadata.pipeline.ci.pins."actions/checkout"]
sha = "08eba0b27e820071cde6df949e0beb9ba4906955"
version = "v4.3.0"

[workspace.metadata.pipeline.runner]
enforce = true

[[workspace.metadata.pipeline.ci.extra-sessions]]
name = "bench-gpu"
session = "bench"
args = ["--quick", "--out=target/bench.json"]
runner = "gpu"
needs = ["cuda"]
timeout = 45
pull-requests = false
""",
    # Provisioned runners, GitHub only, a few stages, no release workflow, no container.
    "minimal": """
[workspace.metadata.pipeline.ci]
gitlab = false
stages = ["fmt", "clippy", "test"]
setup-toolchain = false
pip-install = []
cuda-image = ""
noxfile = "ci/noxfile.py"

[workspace.metadata.pipeline.ci.release]
enabled = false
""",
}


def write_config_workspace(root: Path, config: str, crates: int = 4, *, git: bool = True) -> Path:
    """A generated workspace whose root Cargo.toml ends with ``config``; a git repository if ``git``."""
    make_workspace(root, crates=crates)
    manifest = root / "Cargo.toml"
    manifest.write_text(manifest.read_text() + config)
    if git:
        init_git(root)
    return root


def pipeline_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m pipeline ARGS`` from this checkout."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("PIPELINE_WORKSPACE", None)
    for variable in ("CI_PROJECT_DIR", "GITHUB_WORKSPACE"):
        full_env.pop(variable, None)
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd or REPO, env=full_env,
                          capture_output=True, text=True)


def render_workspace(root: Path) -> dict[str, str]:
    """Rendered files (repository-relative path -> text) for the workspace at ``root``."""
    from pipeline.ci.generate import pipeline_for
    from pipeline.ci.render import render_all
    from pipeline.project import load_project

    pipeline, _ = pipeline_for(load_project(root))
    return render_all(pipeline)


def load_yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def check_golden(case: str, files: dict[str, str]) -> None:
    """Compare ``files`` with tests/golden/ci/CASE/ (UPDATE_GOLDEN=1 rewrites them)."""
    directory = GOLDEN / case
    if UPDATE:
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        for rel, text in files.items():
            (directory / GOLDEN_NAMES[rel]).write_text(text)
        return
    expected = {p.name: p.read_text() for p in directory.glob("*.yml")} if directory.is_dir() else {}
    actual = {GOLDEN_NAMES[rel]: text for rel, text in files.items()}
    assert sorted(actual) == sorted(expected), f"golden files of {case} differ in names; rerun with UPDATE_GOLDEN=1"
    for name, text in actual.items():
        assert text == expected[name], f"{case}/{name} differs from its golden file; rerun with UPDATE_GOLDEN=1"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def node_tools() -> tuple[list[str], str | None]:
    """argv prefix running gitlab-ci-local under bun, or (``[]``, reason it cannot run here)."""
    bun = REPO / "node_modules" / ".bin" / "bun"
    script = REPO / "node_modules" / "gitlab-ci-local" / "dist" / "index.js"
    if not bun.exists() or not script.exists():
        return [], (f"gitlab-ci-local/bun not installed in {REPO / 'node_modules'}: "
                    "run .ci/install-validators.sh (npm install gitlab-ci-local bun)")
    if shutil.which("rsync") is None:
        return [], "rsync not on PATH (gitlab-ci-local syncs files with it): apt-get install -y rsync"
    return [str(bun), str(script)], None
