"""Kernel sets as real projects have them: exclusions, kernels in `exclude`d crates (real nvcc)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import HAVE_NVCC, NVCC_MISSING, kernel_workspace, pipeline_env, run_pipeline

from pipeline.cuda.build import BuildOptions, build
from pipeline.project import load_project

needs_nvcc = pytest.mark.skipif(not HAVE_NVCC, reason=NVCC_MISSING)
SET = "\n[[workspace.metadata.pipeline.cuda.kernel-sets]]\n"


def _build(root: Path):
    project = load_project(root)
    return build(project.workspace, project.config.cuda, BuildOptions(progress=False, archs=("sm_90",)),
                 gpu_archs=lambda: [])


def _cli(root: Path):
    return run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90"], env=pipeline_env(None, None))


@pytest.mark.nvcc
@needs_nvcc
def test_exclude_leaves_matching_files_out(tmp_path: Path) -> None:
    config = SET + 'name = "main"\nsources = ["crates/*/kernels/**/*.cu"]\n' \
        'exclude = ["crates/*/kernels/experimental/*.cu", "crates/gpu-kernels/kernels/k1.cu"]\n'
    root = kernel_workspace(tmp_path / "ws", kernels=3, headers=1, config=config)
    experimental = root / "crates/gpu-kernels/kernels/experimental"
    experimental.mkdir()
    # would not even compile: proves the file never reaches nvcc
    (experimental / "wip.cu").write_text("this is not CUDA yet\n")
    result = _build(root)
    names = sorted(k["name"] for k in result.manifest["kernels"])
    assert names == ["k0", "k2"]
    assert not (root / "target/cuda/wip.fatbin").exists()
    assert (root / "target/cuda/k0.fatbin").stat().st_size > 0


def test_exclude_matching_nothing_is_a_located_config_error(tmp_path: Path) -> None:
    config = SET + 'sources = ["crates/*/kernels/*.cu"]\nexclude = ["crates/*/kernels/old/*.cu"]\n'
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1, config=config)
    result = _cli(root)
    assert result.returncode == 2, result.stderr
    line = (root / "Cargo.toml").read_text().splitlines().index('exclude = ["crates/*/kernels/old/*.cu"]') + 1
    assert f"Cargo.toml:{line}:" in result.stderr
    assert "`exclude` glob 'crates/*/kernels/old/*.cu' matches no file" in result.stderr
    assert "hint:" in result.stderr


@pytest.mark.nvcc
@needs_nvcc
def test_kernels_in_an_excluded_crate_are_found_when_configured(tmp_path: Path) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1)
    # the workspace excludes the kernels crate, as projects do for a crate built on its own
    text = (root / "Cargo.toml").read_text().replace('members = ["crates/*"]',
                                                     'members = ["crates/*"]\nexclude = ["kernels-crate"]')
    crate = root / "kernels-crate"
    (crate / "src").mkdir(parents=True)
    (crate / "src/lib.rs").write_text("")
    (crate / "Cargo.toml").write_text('[package]\nname = "outside-kernels"\nversion = "0.1.0"\nedition = "2021"\n')
    (crate / "cuda").mkdir()
    (crate / "cuda/gemm.cu").write_text('extern "C" __global__ void gemm(float* p) { p[0] = 3.0f; }\n')
    (root / "Cargo.toml").write_text(text)
    # without a kernel set only member crates are searched
    assert sorted(k["name"] for k in _build(root).manifest["kernels"]) == ["k0"]
    (root / "Cargo.toml").write_text(
        text + SET + 'name = "all"\nsources = ["crates/*/kernels/*.cu", "kernels-crate/cuda/*.cu"]\n')
    by_name = {k["name"]: k for k in _build(root).manifest["kernels"]}
    assert sorted(by_name) == ["gemm", "k0"]
    assert by_name["gemm"]["crate"] == "outside-kernels"
    assert by_name["gemm"]["source"] == "kernels-crate/cuda/gemm.cu"
    assert (root / "target/cuda/gemm.fatbin").stat().st_size > 0


@pytest.mark.parametrize(("key", "value"), [("sources", "../elsewhere/*.cu"), ("exclude", "/abs/*.cu"),
                                            ("include-dirs", "../include")])
def test_set_pointing_outside_the_root_is_a_config_error_naming_the_key(tmp_path: Path, key: str,
                                                                         value: str) -> None:
    extra = "" if key == "sources" else f'{key} = ["{value}"]\n'
    sources = f'["{value}"]' if key == "sources" else '["crates/*/kernels/*.cu"]'
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1, config=SET + f"sources = {sources}\n{extra}")
    result = _cli(root)
    assert result.returncode == 2, result.stderr
    lines = (root / "Cargo.toml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if f'"{value}"' in text)
    assert f"Cargo.toml:{line}:" in result.stderr
    assert f"`{key}` entry {value!r} is outside the workspace root" in result.stderr
    assert "hint:" in result.stderr


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.cu").write_text('extern "C" __global__ void evil(float* p) { p[0] = 1.0f; }\n')
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1, config=SET + 'sources = ["linked/*.cu"]\n')
    (root / "linked").symlink_to(outside)
    result = _cli(root)
    assert result.returncode == 2, result.stderr
    assert "outside the workspace root" in result.stderr and "symlink" in result.stderr
