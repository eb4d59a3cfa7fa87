"""The kernel ABI: PTX `.entry` parameter lists (real nvcc output), and the diff that decides the bump level."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.cuda.abi import PtxError, diff, from_release_manifest, parse_ptx, read_kernel_abi
from pipeline.release.levels import auto_level
from pipeline.workspace.cargo_semver import parse_version

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ptx"
KERNELS = Path(__file__).resolve().parent.parent / "examples" / "prism4d" / "crates" / "prism-gpu" / "kernels"


def test_parse_real_nvcc_ptx() -> None:
    # tests/fixtures/ptx/shapes-nvcc13.ptx: nvcc 13.0 -ptx of a struct by value, no parameters,
    # __launch_bounds__ (a `.maxntid` after the list), integer widths, a template (mangled), an array.
    entries = parse_ptx((FIXTURES / "shapes-nvcc13.ptx").read_text())
    assert entries == {
        "by_value": ("align 8 b8[16]", "u64"),
        "no_args": (),
        "bounded": ("u64", "u64", "u64", "u8", "u16", "u8"),
        "_Z5templIfEvPT_": ("u64",),
        "arr": ("u64",),
    }
    assert parse_ptx((FIXTURES / "saxpy-nvcc13.ptx").read_text()) == {"saxpy": ("u32", "f32", "u64", "u64")}


def test_parse_other_declaration_shapes() -> None:
    text = """
    // .globl k
    .entry k( /* old toolkits: no .visible */
        .param .u64 .ptr .global .align 4 k_param_0,
        .param .align 16 .b8 k_param_1 [ 32 ]
    )
    .weak .entry w ( .param .f64 w_param_0 )
    """
    assert parse_ptx(text) == {"k": ("u64 ptr global align 4", "align 16 b8[32]"), "w": ("f64",)}
    with pytest.raises(PtxError, match="no `\\)`"):
        parse_ptx(".visible .entry broken(\n .param .u32 broken_param_0,\n")
    with pytest.raises(PtxError, match="cannot read parameter"):
        parse_ptx(".visible .entry odd( .param )")


@pytest.mark.nvcc
@pytest.mark.skipif(shutil.which("nvcc") is None and not Path("/usr/local/cuda/bin/nvcc").exists(),
                    reason="nvcc (CUDA toolkit) is not installed")
def test_example_kernels_from_nvcc(tmp_path: Path) -> None:
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    out = tmp_path / "stencil.ptx"
    subprocess.run([nvcc, "-ptx", "-arch=compute_80", "-I", str(KERNELS), str(KERNELS / "stencil.cu"), "-o", str(out)],
                   check=True, capture_output=True)
    # `stencil3(int n, float wl, float wc, float wr, const float* in, float* out)`
    assert parse_ptx(out.read_text()) == {"stencil3": ("u32", "f32", "f32", "f32", "u64", "u64")}


OLD = {"saxpy": {"saxpy": ("u32", "f32", "u64", "u64")}, "reduce": {"reduce_sum": ("u32", "u64", "u64")}}


def test_diff_levels() -> None:
    assert diff(OLD, OLD, "v0.4.2").changes == ()
    assert diff(OLD, OLD, "v0.4.2").lines() == ["kernel ABI: unchanged since v0.4.2"]
    assert diff(None, OLD, None).lines() == ["kernel ABI: no earlier release manifest to compare with"]

    added = diff(OLD, {**OLD, "saxpy": {**OLD["saxpy"], "saxpy_v2": ("u64",)}}, "v0.4.2")
    assert (added.breaking, added.feature) == (False, True)
    assert added.lines() == ["kernel ABI since v0.4.2:", "  added saxpy: saxpy_v2(u64) (feature)"]

    changed = diff(OLD, {**OLD, "saxpy": {"saxpy": ("u32", "f64", "u64", "u64")}}, "v0.4.2")
    assert changed.breaking and [c.kind for c in changed.changes] == ["changed"]
    assert "changed saxpy: saxpy(u32, f32, u64, u64) -> (u32, f64, u64, u64) (breaking)" in changed.lines()[1]

    removed = diff(OLD, {"saxpy": OLD["saxpy"], "reduce": {"reduce_max": ("u32", "u64", "u64")}}, "v0.4.2")
    assert [(c.kind, c.entry) for c in removed.changes] == [("removed", "reduce_sum"), ("added", "reduce_max")]
    assert removed.breaking and removed.feature
    # A whole kernel module gone removes each of its entries.
    gone = diff(OLD, {"saxpy": OLD["saxpy"]}, "v0.4.2")
    assert [(c.kind, c.kernel, c.entry) for c in gone.changes] == [("removed", "reduce", "reduce_sum")]
    # Moving an entry to another module breaks callers that load it from the old one.
    moved = diff(OLD, {"saxpy": OLD["saxpy"], "sum": {"reduce_sum": OLD["reduce"]["reduce_sum"]}}, "v0.4.2")
    assert [(c.kind, c.kernel) for c in moved.changes] == [("removed", "reduce"), ("added", "sum")]


def test_diff_feeds_the_auto_level() -> None:
    breaking = diff(OLD, {"saxpy": OLD["saxpy"]}, "v1.2.0")
    feature = diff(OLD, {**OLD, "new": {"k": ()}}, "v1.2.0")
    v1, v0 = parse_version("1.2.0"), parse_version("0.4.2")
    assert auto_level(v1, breaking=breaking.breaking, feature=breaking.feature, other=False) == "major"
    assert auto_level(v0, breaking=breaking.breaking, feature=False, other=False) == "minor"
    assert auto_level(v1, breaking=feature.breaking, feature=feature.feature, other=False) == "minor"


def test_release_manifest_round_trip_and_reading_a_cuda_build() -> None:
    manifest = {"kernel_abi": {k: {e: list(p) for e, p in v.items()} for k, v in OLD.items()}}
    assert from_release_manifest(manifest) == OLD
    assert from_release_manifest({"schema": 1}) is None
    with pytest.raises(PtxError):
        from_release_manifest({"kernel_abi": {"saxpy": ["u32"]}})
    cuda_manifest = {"kernels": [{"name": "saxpy", "ptx": "saxpy.compute_90.ptx"}, {"name": "reduce", "ptx": None}]}
    files = {"saxpy.compute_90.ptx": (FIXTURES / "saxpy-nvcc13.ptx").read_text()}
    abi, missing = read_kernel_abi(cuda_manifest, files.__getitem__)
    assert abi == {"saxpy": {"saxpy": ("u32", "f32", "u64", "u64")}} and missing == ["reduce"]
