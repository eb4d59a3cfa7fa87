"""`pipeline cuda` against the real nvcc (no GPU needed): outputs, manifest, cache, header invalidation, errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import HAVE_NVCC, NVCC_MISSING, REPO, kernel_workspace, pipeline_env, run_pipeline

from pipeline.cuda.build import BuildOptions, build
from pipeline.cuda.toolkit import find_cuda_tool
from pipeline.foundation.errors import PipelineError
from pipeline.project import load_project

pytestmark = [pytest.mark.nvcc, pytest.mark.skipif(not HAVE_NVCC, reason=NVCC_MISSING)]

NO_GPU = lambda: []  # noqa: E731 - architectures "auto" sees no GPU in these tests


def _build(root: Path, **options: object):
    project = load_project(root)
    return build(project.workspace, project.config.cuda, BuildOptions(progress=False, **options), gpu_archs=NO_GPU)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The bundled example copied and built once for sm_80 + sm_90 through the CLI."""
    root = tmp_path_factory.mktemp("prism4d") / "prism4d"
    shutil.copytree(REPO / "examples" / "prism4d", root, ignore=shutil.ignore_patterns("target"))
    result = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_80", "--arch", "sm_90", "--json"],
                          env=pipeline_env(None, None))
    assert result.returncode == 0, result.stderr
    return root, json.loads(result.stdout)


def test_example_outputs_and_manifest(example: tuple[Path, dict]) -> None:
    root, output = example
    out = root / "target" / "cuda"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["architectures"] == ["sm_80", "sm_90"]
    assert manifest["ptx"] == "compute_90"
    assert manifest["nvcc"].startswith("13.") or manifest["nvcc"][0].isdigit()
    by_name = {k["name"]: k for k in manifest["kernels"]}
    assert set(by_name) == {"saxpy", "reduce", "stencil"}
    assert by_name["saxpy"]["entries"] == ["saxpy"]
    assert by_name["reduce"]["entries"] == ["reduce_sum"]
    assert by_name["stencil"]["entries"] == ["stencil3"]
    assert by_name["saxpy"]["headers"] == ["crates/prism-gpu/kernels/common.cuh"]
    assert by_name["saxpy"]["crate"] == "prism-gpu"
    for kernel in manifest["kernels"]:
        assert (out / kernel["fatbin"]).stat().st_size > 0
        assert (out / kernel["ptx"]).read_text().lstrip().startswith("//")
        for arch in ("sm_80", "sm_90"):
            entry = kernel["architectures"][arch]
            assert (out / entry["cubin"]).read_bytes()[:4] == b"\x7fELF"
            for usage in entry["functions"].values():
                assert usage["registers"] > 0
                assert usage["spill_stores"] == 0 and usage["spill_loads"] == 0
    # reduce declares __shared__ float partial[256]: 1024 bytes of shared memory on every arch
    assert by_name["reduce"]["architectures"]["sm_90"]["functions"]["reduce_sum"]["shared_bytes"] == 1024
    assert sorted(output["compiled"]) == sorted(f"{k} {a}" for k in by_name for a in ("sm_80", "sm_90", "compute_90"))
    assert output["cached"] == []
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == sorted(
        ["manifest.json", "SHA256SUMS"] + [f"{k}.fatbin" for k in by_name] + [f"{k}.compute_90.ptx" for k in by_name]
        + [f"{k}.{a}.cubin" for k in by_name for a in ("sm_80", "sm_90")]
    )


def test_fatbin_holds_every_architecture(example: tuple[Path, dict]) -> None:
    root, _ = example
    out = root / "target" / "cuda"
    fatbin = (out / "saxpy.fatbin").read_bytes()
    for arch in ("sm_80", "sm_90"):  # cubins are embedded as they are (PTX is compressed)
        assert (out / f"saxpy.{arch}.cubin").read_bytes() in fatbin
    try:
        cuobjdump = find_cuda_tool("cuobjdump")
    except PipelineError:
        return  # this toolkit ships without cuobjdump
    import subprocess

    listing = subprocess.run([str(cuobjdump), "--list-elf", "--list-ptx", str(out / "saxpy.fatbin")],
                             capture_output=True, text=True, check=True).stdout
    assert "sm_80" in listing and "sm_90" in listing and ".ptx" in listing


def test_second_run_compiles_nothing(example: tuple[Path, dict]) -> None:
    root, _ = example
    result = _build(root, archs=("sm_80", "sm_90"))
    assert result.compiled == []
    assert len(result.cached) == 9
    assert json.loads(result.manifest_path.read_text()) == result.manifest


def test_fewer_architectures_reuse_cache_and_drop_stale_outputs(example: tuple[Path, dict]) -> None:
    root, _ = example
    result = _build(root, archs=("sm_90",))
    assert result.compiled == []  # sm_90 cubins and compute_90 PTX are already in the cache
    out = root / "target" / "cuda"
    assert not list(out.glob("*.sm_80.cubin"))
    assert result.manifest["architectures"] == ["sm_90"]
    _build(root, archs=("sm_80", "sm_90"))  # restore for other tests in any order


def test_touching_a_header_recompiles_exactly_its_dependents(tmp_path: Path) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=4, headers=2)
    first = _build(root, archs=("sm_90",))
    assert len(first.compiled) == 8  # 4 cubins + 4 PTX
    header = root / "crates/gpu-kernels/kernels/h1.cuh"
    header.write_text(header.read_text() + "// touched\n")
    second = _build(root, archs=("sm_90",))
    # k1 and k3 include h1.cuh; k0 and k2 include h0.cuh
    assert sorted(second.compiled) == ["k1 compute_90", "k1 sm_90", "k3 compute_90", "k3 sm_90"]
    assert sorted(second.cached) == ["k0 compute_90", "k0 sm_90", "k2 compute_90", "k2 sm_90"]
    # touching without changing content is not a change (content-addressed)
    header.touch()
    assert _build(root, archs=("sm_90",)).compiled == []
    # going back to the old header (another branch, say) finds the first build's objects in the cache
    header.write_text(header.read_text().replace("// touched\n", ""))
    back = _build(root, archs=("sm_90",))
    assert back.compiled == [] and len(back.cached) == 8


def test_no_cache_compiles_everything_and_cache_dir_is_configurable(tmp_path: Path, monkeypatch) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1,
                            config='\n[workspace.metadata.pipeline.cuda]\ncache-dir = "ci-cache/cuda"\nptx = false\n')
    assert _build(root, archs=("sm_90",)).compiled == ["k0 sm_90"]
    assert (root / "ci-cache" / "cuda" / "objects").is_dir()
    assert _build(root, archs=("sm_90",), use_cache=False).compiled == ["k0 sm_90"]
    monkeypatch.setenv("PIPELINE_CUDA_CACHE", str(tmp_path / "elsewhere"))
    assert _build(root, archs=("sm_90",)).compiled == ["k0 sm_90"]
    assert (tmp_path / "elsewhere" / "objects").is_dir()


def test_nvcc_error_is_reported_with_file_and_line(tmp_path: Path) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1)
    (root / "crates/gpu-kernels/kernels/broken.cu").write_text(
        '#include "h0.cuh"\n\nextern "C" __global__ void broken(float* p) {\n    p[0] = not_declared;\n}\n'
    )
    result = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90"], env=pipeline_env(None, None))
    assert result.returncode == 1, result.stderr
    assert 'crates/gpu-kernels/kernels/broken.cu:4: error: identifier "not_declared" is undefined' in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_kernels_that_compiled_are_finished_even_when_another_fails(tmp_path: Path) -> None:
    """Each kernel is finished (cache entries, fatbin) as soon as its own jobs end, not after every job:
    so a build where one new kernel fails keeps the others, and the next build compiles only the fixed one."""
    root = kernel_workspace(tmp_path / "ws", kernels=2, headers=1)
    broken = root / "crates/gpu-kernels/kernels/broken.cu"
    broken.write_text('extern "C" __global__ void broken(float* p) {\n    p[0] = not_declared;\n}\n')
    with pytest.raises(PipelineError, match=r"broken\.cu:2: error"):
        _build(root, archs=("sm_80", "sm_90"))
    out = root / "target" / "cuda"
    assert (out / "k0.fatbin").is_file() and (out / "k1.fatbin").is_file()
    broken.write_text('extern "C" __global__ void broken(float* p) {\n    p[0] = 1.0f;\n}\n')
    result = _build(root, archs=("sm_80", "sm_90"))
    assert sorted(result.compiled) == ["broken compute_90", "broken sm_80", "broken sm_90"]
    assert sorted(result.cached) == sorted(f"k{i} {a}" for i in (0, 1) for a in ("sm_80", "sm_90", "compute_90"))


def test_missing_header_is_reported_with_file_and_line(tmp_path: Path) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1)
    (root / "crates/gpu-kernels/kernels/k0.cu").write_text('#include "nope.cuh"\n')
    result = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90"], env=pipeline_env(None, None))
    assert result.returncode == 1
    assert "crates/gpu-kernels/kernels/k0.cu:1: error:" in result.stderr
    assert "nope.cuh" in result.stderr


def test_unsupported_architecture_fails_before_compiling(tmp_path: Path) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1)
    result = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90", "--arch", "sm_70"],
                          env=pipeline_env(None, None))
    assert result.returncode == 2
    assert "nvcc cannot build sm_70" in result.stderr
    assert "--list-gpu-code" in result.stderr
    assert not (root / "target" / "cuda").exists()  # nothing compiled, no output written
    bad = run_pipeline(["--workspace", str(root), "cuda", "--arch", "90"], env=pipeline_env(None, None))
    assert bad.returncode == 2 and "sm_XY" in bad.stderr


def test_configured_unsupported_architecture_is_a_config_error(tmp_path: Path) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1,
                            config='\n[workspace.metadata.pipeline.cuda]\narchitectures = ["sm_90", "sm_60"]\n')
    result = run_pipeline(["--workspace", str(root), "cuda"], env=pipeline_env(None, None))
    assert result.returncode == 2
    assert "sm_60 (from configuration)" in result.stderr


def test_warnings_are_reported_and_werror_fails(tmp_path: Path) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1)
    (root / "crates/gpu-kernels/kernels/k0.cu").write_text(
        'extern "C" __global__ void k0(int* p) {\n    int unused;\n    p[0] = 1;\n}\n'
    )
    ok = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90", "--json"], env=pipeline_env(None, None))
    assert ok.returncode == 0, ok.stderr
    warnings = json.loads(ok.stdout)["warnings"]
    assert any(w.startswith("crates/gpu-kernels/kernels/k0.cu:2: warning:") for w in warnings), warnings
    assert "k0.cu:2: warning:" in ok.stderr
    failed = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90", "--werror"],
                          env=pipeline_env(None, None))
    assert failed.returncode == 1
    assert "crates/gpu-kernels/kernels/k0.cu:2: error:" in failed.stderr


def test_kernel_sets_with_globs_defines_and_include_dirs(tmp_path: Path) -> None:
    config = (
        '\n[[workspace.metadata.pipeline.cuda.kernel-sets]]\nname = "physics"\n'
        'sources = ["crates/*/kernels/k*.cu"]\n'
        '\n[[workspace.metadata.pipeline.cuda.kernel-sets]]\nname = "extra"\nsources = ["extra/*.cu"]\n'
        'include-dirs = ["shared-include"]\ndefines = ["WIDTH=4", "FAST"]\nflags = ["-O3"]\n'
    )
    root = kernel_workspace(tmp_path / "ws", kernels=2, headers=1, config=config)
    (root / "shared-include").mkdir()
    (root / "shared-include" / "width.cuh").write_text("#pragma once\n#ifndef FAST\n#error FAST missing\n#endif\n")
    (root / "extra").mkdir()
    (root / "extra" / "wide.cu").write_text(
        '#include "width.cuh"\nextern "C" __global__ void wide(float* p) { p[WIDTH] = 1.0f; }\n'
    )
    (root / "crates/gpu-kernels/kernels/ignored.cu").write_text("this is not in any set\n")
    result = _build(root, archs=("sm_90",))
    by_name = {k["name"]: k for k in result.manifest["kernels"]}
    assert sorted(by_name) == ["k0", "k1", "wide"]
    assert by_name["wide"]["set"] == "extra" and by_name["wide"]["crate"] is None
    assert by_name["wide"]["headers"] == ["shared-include/width.cuh"]
    assert by_name["k0"]["set"] == "physics"


def test_glob_matching_nothing_is_a_config_error(tmp_path: Path) -> None:
    config = '\n[[workspace.metadata.pipeline.cuda.kernel-sets]]\nsources = ["nowhere/*.cu"]\n'
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1, config=config)
    result = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90"], env=pipeline_env(None, None))
    assert result.returncode == 2
    assert "'nowhere/*.cu' matches no file" in result.stderr


def test_same_stem_in_two_crates_gets_crate_prefixed_names(tmp_path: Path) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1)
    other = root / "crates" / "other"
    (other / "src").mkdir(parents=True)
    (other / "src" / "lib.rs").write_text("")
    (other / "Cargo.toml").write_text('[package]\nname = "other"\nversion = "0.1.0"\nedition = "2021"\n')
    (other / "k0.cu").write_text('extern "C" __global__ void other_k0(float* p) { p[0] = 2.0f; }\n')
    result = _build(root, archs=("sm_90",))
    assert sorted(k["name"] for k in result.manifest["kernels"]) == ["gpu-kernels-k0", "other-k0"]


def test_auto_architectures_without_gpu_use_the_fallback_list(tmp_path: Path) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1,
                            config='\n[workspace.metadata.pipeline.cuda]\nptx = false\n')
    project = load_project(root)
    result = build(project.workspace, project.config.cuda, BuildOptions(progress=False), gpu_archs=lambda: ["sm_86"])
    assert result.manifest["architectures"] == ["sm_86"]
    assert result.architectures.origin == "GPUs present"


def test_json_output_is_only_json(example: tuple[Path, dict]) -> None:
    root, _ = example
    result = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_80", "--arch", "sm_90", "--json"],
                          env=pipeline_env(None, None))
    data = json.loads(result.stdout)
    assert data["compiled"] == [] and len(data["cached"]) == 9
    assert data["architectures"] == ["sm_80", "sm_90"]
    assert "cuda: 3 kernel(s)" in result.stderr


@pytest.mark.parametrize("pattern", ["", ".", "crates/**k0.cu"])
def test_a_glob_pathlib_refuses_is_a_config_error_naming_it(tmp_path: Path, pattern: str) -> None:
    config = f'\n[[workspace.metadata.pipeline.cuda.kernel-sets]]\nname = "odd"\nsources = ["{pattern}"]\n'
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1, config=config)
    result = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90"], env=pipeline_env(None, None))
    assert result.returncode == 2, result.stderr
    assert f"kernel set 'odd': source glob {pattern!r} is not a valid glob" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr


def test_unwritable_output_or_cache_directory_is_an_error_naming_the_path(tmp_path: Path) -> None:
    root = kernel_workspace(tmp_path / "ws", kernels=1, headers=1)
    (root / "target").write_text("a file where cargo's target directory belongs\n")
    result = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90"], env=pipeline_env(None, None))
    assert result.returncode == 1, result.stderr
    assert f"cuda: cannot write {root / 'target'}" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    (root / "target").unlink()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env = pipeline_env(None, None, PIPELINE_CUDA_CACHE=str(blocker / "cache"))
    result = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90"], env=env)
    assert result.returncode == 1, result.stderr
    assert f"cuda: cannot write {blocker / 'cache'}" in result.stderr and "PIPELINE_CUDA_CACHE" in result.stderr
    assert "Traceback" not in result.stderr


def test_outputs_and_cache_entries_are_not_private_files(example: tuple[Path, dict]) -> None:
    # atomic writes go through mkstemp (0600); target/cuda and a cache shared on a CI host must
    # stay readable with the usual umask (this process runs with umask 022 or stricter, never looser).
    root, _ = example
    import os

    umask = os.umask(0o022)
    os.umask(umask)
    expected = 0o666 & ~umask
    assert (root / "target" / "cuda" / "manifest.json").stat().st_mode & 0o777 == expected
    metas = list((root / "target" / "cuda-cache" / "objects").rglob("meta.json"))
    assert metas and all(m.stat().st_mode & 0o777 == expected for m in metas)


def test_a_second_build_into_the_same_directory_waits_for_the_first(example: tuple[Path, dict]) -> None:
    # Each build deletes the outputs its own manifest does not list, so two builds sharing
    # target/cuda must not overlap: the second waits for the lock, as cargo does.
    import fcntl
    import os
    import select
    import subprocess
    import time

    root, _ = example
    lock = root / "target" / ".pipeline-cuda.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a build in progress
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--workspace", str(root), "cuda", "--arch", "sm_80", "--arch", "sm_90"],
            env=pipeline_env(None, None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 120  # only so that a regression fails instead of hanging
        waiting = ""
        while "waiting for another `pipeline cuda`" not in waiting and time.monotonic() < deadline:
            assert child.poll() is None, child.communicate()  # it must not finish while the lock is held
            if select.select([child.stderr], [], [], 1)[0]:
                waiting += os.read(child.stderr.fileno(), 4096).decode()
        assert f"lock {lock}" in waiting
        time.sleep(1)
        assert child.poll() is None  # still waiting, not building
    finally:
        os.close(fd)  # the first build ends
    _out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    assert not (root / "target" / "cuda" / ".pipeline-cuda.lock").exists()


def test_a_failing_bundle_step_is_reported_naming_the_kernel(tmp_path: Path, monkeypatch) -> None:
    from pipeline.cuda import nvcc as nv
    from pipeline.foundation.errors import CheckFailed

    root = kernel_workspace(tmp_path / "ws", kernels=2, headers=1)

    def failing_fatbinary(fatbinary, output, cubins, ptx):  # type: ignore[no-untyped-def]
        return [sys.executable, "-c", "import sys; sys.stderr.write('fatbinary fatal: out of space\\n'); sys.exit(1)"]

    monkeypatch.setattr(nv, "fatbinary_argv", failing_fatbinary)
    with pytest.raises(CheckFailed) as failure:
        _build(root, archs=("sm_90",))
    assert "fatbinary failed bundling 2 kernel file(s)" in failure.value.message
    assert "crates/gpu-kernels/kernels/k0.cu" in failure.value.message
    assert not (root / "target" / "cuda" / "manifest.json").exists()  # no manifest naming fatbins that are not there
