"""What ships: cuobjdump listings parsed, and `release --execute` refusing a binary that lacks an architecture."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import REPO, pipeline_env, run_pipeline
from release_support import git, init_git

from pipeline.cuda import verify
from pipeline.cuda.ship import packaged_names
from pipeline.foundation.errors import CheckFailed, PipelineError

ELF = """ELF file    1: prism.1.sm_80.cubin
ELF file    2: prism.2.sm_90.cubin
ELF file    3: prism.3.sm_90a.cubin
"""
PTX = "PTX file    1: prism.1.sm_120.ptx\n"


def test_listing_parsed_and_missing_named() -> None:
    sass, ptx = verify.parse_listing(ELF, PTX)
    assert sass == ("sm_80", "sm_90", "sm_90a") and ptx == ("sm_120",)
    found = verify.Found(Path("prism"), sass, ptx)
    assert verify.missing(found, ["sm_80", "sm_90"], "compute_120") == []
    assert verify.missing(found, ["sm_80", "sm_120"], "compute_120") == ["sm_120"]
    assert verify.missing(verify.Found(Path("x"), sass, ()), ["sm_80"], "compute_120") == ["PTX compute_120"]
    assert verify.min_driver("13.0.88") == "580.65.06" and verify.min_driver("12.9.86") == "575.51.03"
    assert verify.min_driver("99.1") is None


def test_packaging_takes_only_manifest_files(tmp_path: Path) -> None:
    out = tmp_path / "cuda"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"kernels": [
        {"fatbin": "a.fatbin", "ptx": "a.compute_90.ptx", "architectures": {"sm_90": {"cubin": "a.sm_90.cubin"}}},
        {"fatbin": "../escape.fatbin", "ptx": None, "architectures": {}},
    ]}))
    for name in ("a.fatbin", "a.compute_90.ptx", "a.sm_90.cubin", "stray.cubin", ".a.123.456.d"):
        (out / name).write_bytes(b"x")
    (tmp_path / "secret").write_text("no")
    (out / "link.fatbin").symlink_to(tmp_path / "secret")
    (tmp_path / "escape.fatbin").write_text("no")
    names = sorted(p.name for p in packaged_names(out))
    assert names == ["a.compute_90.ptx", "a.fatbin", "a.sm_90.cubin", "manifest.json"]


try:
    CUOBJDUMP = verify.find_cuobjdump()
    from pipeline.cuda.toolkit import find_cuda_tool

    find_cuda_tool("nvcc")
    MISSING = "" if shutil.which("cargo") else "cargo is not installed"
except PipelineError as exc:
    MISSING = exc.message


def test_check_files_names_binary_and_arch(tmp_path: Path) -> None:
    if MISSING:
        pytest.skip(MISSING)
    root = tmp_path / "ws"
    shutil.copytree(REPO / "examples" / "prism4d", root, ignore=shutil.ignore_patterns("target", "dist"))
    assert run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_80", "--arch", "sm_90"],
                        env=pipeline_env(None, None)).returncode == 0
    fatbin = root / "target" / "cuda" / "saxpy.fatbin"
    assert verify.check_files([(fatbin, True)], ["sm_80", "sm_90"], "compute_90")[0].sass == ("sm_80", "sm_90")
    with pytest.raises(CheckFailed) as caught:
        verify.check_files([(fatbin, True)], ["sm_80", "sm_90", "sm_120"], "compute_120")
    assert f"{fatbin}: missing sm_120, PTX compute_120" in caught.value.message
    empty = tmp_path / "empty.bin"
    shutil.copy(sys.executable, empty)
    with pytest.raises(CheckFailed, match="no device code"):
        verify.check_files([(empty, True)], ["sm_80"], None)
    assert not verify.check_files([(empty, False)], ["sm_80"], None)[0].has_device_code


@pytest.mark.slow
def test_release_execute_checks_the_shipped_binary(tmp_path: Path) -> None:
    """The example released for real: a binary without sm_120 fails (exit 1, nothing tagged); with it, passes."""
    if MISSING:
        pytest.skip(MISSING)
    root = tmp_path / "prism4d"
    shutil.copytree(REPO / "examples" / "prism4d", root, ignore=shutil.ignore_patterns("target", "dist"))
    (root / ".gitignore").open("a").write("\ntarget/\ndist/\n")
    init_git(root)
    (root / "crates" / "prism-nhs" / "src" / "lib.rs").open("a").write("// boundary fix\n")
    git(root, "commit", "-qam", "fix(nhs): pairs across the boundary")
    base = pipeline_env(None, None, CARGO_TARGET_DIR=str(tmp_path / "target"), SOURCE_DATE_EPOCH="1790000000",
                        PIPELINE_CUDA_TOOL=f"{sys.executable} -m pipeline")
    for name in ("PRISM_NO_CUDA", "PIPELINE_CUDA_ARCHS", "PIPELINE_CUDA_PREBUILT", "PIPELINE_WORKSPACE"):
        base.pop(name, None)
    assert run_pipeline(["--workspace", str(root), "cuda"], env=base).returncode == 0
    head = git(root, "rev-parse", "HEAD")

    # build.rs asked for sm_80 and sm_90 only: the binary lacks the configured sm_120.
    result = run_pipeline(["--workspace", str(root), "release", "minor", "--execute", "--no-verify"],
                          env={**base, "PIPELINE_CUDA_ARCHS": "sm_80,sm_90"})
    assert result.returncode == 1, result.stderr
    assert "/release/prism: missing sm_120, PTX compute_120" in result.stderr
    assert git(root, "rev-parse", "HEAD") == head and git(root, "tag").strip() == ""

    result = run_pipeline(["--workspace", str(root), "release", "minor", "--execute", "--no-verify"], env=base)
    assert result.returncode == 0, result.stderr
    assert "release build: built prism (bin)" in result.stderr  # the release builds report progress
    manifest = json.loads((root / "dist" / "manifest.json").read_text())
    files = manifest["cuda"]["files"]
    binary = files["prism"]  # outside the workspace (CARGO_TARGET_DIR): by name
    assert binary == {"sass": ["sm_80", "sm_90", "sm_120"], "ptx": ["sm_120"]}
    assert files["target/cuda/saxpy.fatbin"]["sass"] == ["sm_80", "sm_90", "sm_120"]
    assert manifest["cuda"]["nvcc"] and manifest["cuda"]["min_driver"] == verify.min_driver(manifest["cuda"]["nvcc"])
    listing = subprocess.run(["tar", "tzf", str(next((root / "dist").glob("prism4d-cuda-*.tar.gz")))],
                             capture_output=True, text=True, check=True).stdout.split()
    assert any(n.endswith("/saxpy.fatbin") for n in listing) and any(n.endswith("/SHA256SUMS") for n in listing)


def test_a_missing_cuobjdump_stops_the_kernel_check_before_the_release_build(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.cuda import ship
    from pipeline.cuda.toolkit import find_cuda_tool
    from pipeline.foundation import proc
    from pipeline.foundation.errors import ToolMissing
    from pipeline.project import load_project

    try:
        find_cuda_tool("nvcc")
    except PipelineError as exc:
        pytest.skip(exc.message)
    root = tmp_path / "ws"
    shutil.copytree(REPO / "examples" / "prism4d", root, ignore=shutil.ignore_patterns("target", "dist"))
    built = run_pipeline(["--workspace", str(root), "cuda", "--arch", "sm_90"], env=pipeline_env(None, None))
    assert built.returncode == 0, built.stderr
    project = load_project(root)

    def absent() -> Path:
        raise ToolMissing("cuobjdump", "install the `cuda` extra")

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the release build ran before the missing cuobjdump was reported")

    monkeypatch.setattr(verify, "find_cuobjdump", absent)
    monkeypatch.setattr(proc, "stream_lines", no_build)
    with pytest.raises(ToolMissing):
        ship.release_gate(project.workspace, project.config.cuda, ["prism"])
