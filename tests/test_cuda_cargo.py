"""One kernel build for cargo and `pipeline cuda`: the example's build.rs through the tool, prebuilt
hash-checked fatbins and the plain-nvcc fallback; cuobjdump on the built test binary."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import REPO, pipeline_env, run_pipeline

from pipeline.cuda import verify
from pipeline.cuda.toolkit import find_cuda_tool
from pipeline.foundation.errors import PipelineError

try:
    find_cuda_tool("nvcc")
    CUOBJDUMP: Path | None = verify.find_cuobjdump()
    MISSING = ""
except PipelineError as exc:
    CUOBJDUMP, MISSING = None, exc.message
MISSING = MISSING or ("" if shutil.which("cargo") else "cargo is not installed")

pytestmark = [pytest.mark.nvcc, pytest.mark.skipif(bool(MISSING), reason=f"needs nvcc, cuobjdump, cargo: {MISSING}")]

ARCHS = ("sm_80", "sm_90", "sm_120")
TOOL = f"{sys.executable} -m pipeline"


def _copy_example(root: Path) -> Path:
    shutil.copytree(REPO / "examples" / "prism4d", root, ignore=shutil.ignore_patterns("target", "dist"))
    return root


def _cargo_env(target: Path, **extra: str) -> dict[str, str]:
    env = pipeline_env(None, None, CARGO_TARGET_DIR=str(target), **extra)
    for name in ("PRISM_NO_CUDA", "PIPELINE_CUDA_ARCHS", "PIPELINE_CUDA_PREBUILT", "PIPELINE_CUDA_WRAPPER",
                 "RUSTC_WRAPPER", "PIPELINE_CUDA_CACHE", "PIPELINE_WORKSPACE"):
        if name not in extra:
            env.pop(name, None)
    return env


def _test_binary(root: Path, env: dict[str, str]) -> tuple[Path, str]:
    """``cargo test --no-run -p prism-gpu --features gpu``: the unit-test executable and cargo's stderr."""
    result = subprocess.run(
        ["cargo", "test", "--no-run", "--offline", "-p", "prism-gpu", "--features", "gpu",
         "--message-format=json-render-diagnostics"], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        message = json.loads(line) if line.startswith("{") else {}
        if message.get("reason") == "compiler-artifact" and message.get("executable") \
                and message["target"]["name"] == "prism_gpu":
            return Path(message["executable"]), result.stderr
    raise AssertionError(f"no prism_gpu test executable in cargo's output:\n{result.stdout[-2000:]}")


def _listing(path: Path) -> verify.Found:
    assert CUOBJDUMP is not None
    return verify.inspect(CUOBJDUMP, path)


def _build_output(target: Path) -> str:
    outputs = sorted((target / "debug" / "build").glob("prism-gpu-*/output"), key=lambda p: p.stat().st_mtime)
    return outputs[-1].read_text()


def test_build_rs_arch_list_is_the_configured_one() -> None:
    """The plain-nvcc fallback builds what the workspace configures (no Python to read it then)."""
    build_rs = (REPO / "examples/prism4d/crates/prism-gpu/build.rs").read_text()
    listed = re.search(r"const ARCHS: &\[&str\] = &\[(.*?)\];", build_rs)
    assert listed is not None
    from pipeline.project import load_project

    configured = load_project(REPO / "examples" / "prism4d").config.cuda.architectures
    assert tuple(re.findall(r'"(sm_\w+)"', listed.group(1))) == tuple(configured) == ARCHS


def test_cargo_build_through_the_tool_then_pipeline_cuda_compiles_nothing(tmp_path: Path) -> None:
    root = _copy_example(tmp_path / "prism4d")
    target = tmp_path / "target"
    binary, _ = _test_binary(root, _cargo_env(target, PIPELINE_CUDA_TOOL=TOOL))
    found = _listing(binary)
    assert found.sass == ARCHS and found.ptx == ("sm_120",)
    output = _build_output(target)
    for name in ("saxpy.cu", "reduce.cu", "stencil.cu", "common.cuh"):
        assert f"cargo:rerun-if-changed={root / 'crates/prism-gpu/kernels' / name}" in output
    assert "cargo:rustc-env=PRISM_KERNEL_ARCH=sm_80,sm_90,sm_120" in output

    result = run_pipeline(["--workspace", str(root), "cuda", "--json"], env=pipeline_env(None, None))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["compiled"] == [] and len(data["cached"]) == 12
    assert data["architectures"] == list(ARCHS)

    # A header edit reaches cargo: build.rs runs again and the tool recompiles the three kernels.
    header = root / "crates/prism-gpu/kernels/common.cuh"
    header.write_text(header.read_text() + "\n// touched\n")
    _test_binary(root, _cargo_env(target, PIPELINE_CUDA_TOOL=TOOL))
    result = run_pipeline(["--workspace", str(root), "cuda", "--json"], env=pipeline_env(None, None))
    assert json.loads(result.stdout)["compiled"] == []  # build.rs's run already compiled them

    # Prebuilt, hash-checked fatbins (a CI artifact): neither the tool nor nvcc is run.
    prebuilt = tmp_path / "prebuilt"
    shutil.copytree(root / "target" / "cuda", prebuilt)
    env = _cargo_env(target, PIPELINE_CUDA_PREBUILT=str(prebuilt), PIPELINE_CUDA_TOOL="/nonexistent/pipeline",
                     CUDA_HOME="/nonexistent")
    binary, _ = _test_binary(root, env)
    assert _listing(binary).sass == ARCHS
    data = bytearray((prebuilt / "saxpy.fatbin").read_bytes())
    data[-1] ^= 0xFF
    (prebuilt / "saxpy.fatbin").write_bytes(bytes(data))
    result = subprocess.run(["cargo", "build", "--offline", "-p", "prism-gpu", "--features", "gpu"], cwd=root,
                            env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "saxpy.fatbin has sha256" in result.stderr


def test_plain_nvcc_fallback_without_the_tool(tmp_path: Path) -> None:
    root = _copy_example(tmp_path / "prism4d")
    target = tmp_path / "target"
    binary, stderr = _test_binary(root, _cargo_env(target, PIPELINE_CUDA_TOOL="/nonexistent/pipeline"))
    assert "compiling the kernels with plain nvcc" in stderr
    found = _listing(binary)
    assert found.sass == ARCHS and found.ptx == ("sm_120",)
    output = _build_output(target)
    assert re.search(r"cargo:rerun-if-changed=\S*kernels/common\.cuh", output), output
