"""Pure parts of the CUDA stage: nvcc output parsing, architecture rules, settings validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cuda import nvcc as nv
from pipeline.cuda.archs import resolve_architectures
from pipeline.cuda.settings import CudaSettings
from pipeline.foundation.errors import ConfigError, UsageError
from pipeline.gpu.linear import parse_linear
from pipeline.project import load_config

PTXAS = """\
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'reduce_sum' for 'sm_90'
ptxas info    : Function properties for reduce_sum
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 16 registers, used 1 barriers, 1024 bytes smem
ptxas info    : Compiling entry function '_Z6heavyPf' for 'sm_90'
ptxas info    : Function properties for _Z6heavyPf
    48 bytes stack frame, 40 bytes spill stores, 36 bytes spill loads
ptxas info    : Used 255 registers, used 0 barriers, 380 bytes cmem[0]
"""


def test_resource_usage_from_ptxas_verbose() -> None:
    usage = nv.parse_resource_usage(PTXAS)
    assert usage["reduce_sum"] == nv.Usage(registers=16, shared_bytes=1024, constant_bytes=0, stack_bytes=0,
                                           spill_stores=0, spill_loads=0)
    assert usage["_Z6heavyPf"] == nv.Usage(registers=255, shared_bytes=0, constant_bytes=380, stack_bytes=48,
                                           spill_stores=40, spill_loads=36)
    assert nv.entry_functions(PTXAS) == ["reduce_sum", "_Z6heavyPf"]
    assert [n for n in nv.entry_functions(PTXAS) if nv.is_extern_c(n)] == ["reduce_sum"]


def test_diagnostics_become_file_line_message() -> None:
    stderr = (
        'kernels/bad.cu(4): error: identifier "x" is undefined\n'
        "    p[0] = x;\n"
        'kernels/bad.cu(2): warning #177-D: variable "y" was declared but never referenced\n'
        "kernels/bad.cu:1:10: fatal error: nope.cuh: No such file or directory\n"
        "ptxas fatal   : Unresolved extern function 'f'\n"
        "1 error detected in the compilation of \"kernels/bad.cu\".\n"
    )
    found = nv.parse_diagnostics(stderr, lambda f: f"crate/{f}", "crate/kernels/bad.cu")
    assert [d.render() for d in found] == [
        'crate/kernels/bad.cu:4: error: identifier "x" is undefined',
        'crate/kernels/bad.cu:2: warning: variable "y" was declared but never referenced',
        "crate/kernels/bad.cu:1: error: nope.cuh: No such file or directory",
        "crate/kernels/bad.cu: error: ptxas: Unresolved extern function 'f'",
    ]


def test_deps_make_rule(tmp_path: Path) -> None:
    text = "k.o : k.cu \\\n    /usr/include/stdio.h \\\n    common.cuh \\\n    dir\\ with\\ space/x.cuh\n"
    assert nv.parse_deps(text, tmp_path) == [
        tmp_path / "k.cu", Path("/usr/include/stdio.h"), tmp_path / "common.cuh", tmp_path / "dir with space/x.cuh",
    ]


def test_architecture_helpers() -> None:
    assert nv.sort_archs(["sm_120", "sm_90a", "sm_80", "sm_90"]) == ["sm_80", "sm_90", "sm_90a", "sm_120"]
    assert nv.ptx_arch(["sm_90a", "sm_80"]) == "compute_90"
    assert nv.compute_of("sm_90a") == "compute_90a"
    assert nv.unsupported(["sm_70", "sm_90a", "sm_100f", "sm_130"], ["sm_75", "sm_90", "sm_100"]) == [
        "sm_70", "sm_130"]


def test_argv_shapes(tmp_path: Path) -> None:
    flags = nv.CompileFlags((tmp_path / "inc",), ("A=1",), ("-O3",), werror=True)
    argv = nv.cubin_argv(Path("/cuda/nvcc"), tmp_path / "k.cu", "sm_90", tmp_path / "k.cubin", flags)
    assert argv[:5] == ["/cuda/nvcc", "-cubin", "-arch=sm_90", "-Xptxas", "-v"]
    assert ["-I", str(tmp_path)] == argv[5:7] and "-DA=1" in argv and "-O3" in argv
    assert argv[-5:] == ["-Werror", "all-warnings", "-o", str(tmp_path / "k.cubin"), str(tmp_path / "k.cu")]
    fat = nv.fatbinary_argv(Path("fatbinary"), Path("k.fatbin"), [("sm_90", Path("a.cubin"))],
                            ("compute_90", Path("a.ptx")))
    assert fat == ["fatbinary", "--create=k.fatbin", "-64", "--image3=kind=elf,sm=90,file=a.cubin",
                   "--image3=kind=ptx,sm=90,file=a.ptx"]


SUPPORTED = ["sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120"]


def test_resolve_architectures_order_of_precedence() -> None:
    listed = CudaSettings(architectures=("sm_90", "sm_80"))
    auto = CudaSettings()
    assert resolve_architectures(["sm_120"], listed, SUPPORTED, lambda: []).archs == ("sm_120",)
    assert resolve_architectures([], listed, SUPPORTED, lambda: []).archs == ("sm_80", "sm_90")
    assert resolve_architectures([], auto, SUPPORTED, lambda: ["sm_90", "sm_90"]).origin == "GPUs present"
    fallback = resolve_architectures([], auto, ["sm_80", "sm_90"], lambda: [])
    assert fallback.archs == ("sm_80", "sm_90") and fallback.origin == "fallback list"
    with pytest.raises(UsageError, match="nvcc cannot build sm_70"):
        resolve_architectures(["sm_70"], auto, SUPPORTED, lambda: [])
    with pytest.raises(UsageError, match="sm_XY"):
        resolve_architectures(["compute_90"], auto, SUPPORTED, lambda: [])
    with pytest.raises(ConfigError, match="from configuration"):
        resolve_architectures([], CudaSettings(architectures=("sm_61",)), SUPPORTED, lambda: [])


def test_settings_validation_names_the_problem() -> None:
    source = Path("Cargo.toml")
    with pytest.raises(ConfigError, match="sm_XY"):
        load_config({"pipeline": {"cuda": {"architectures": ["90"]}}}, source)
    with pytest.raises(ConfigError, match="auto"):
        load_config({"pipeline": {"cuda": {"architectures": "all"}}}, source)
    with pytest.raises(ConfigError) as unknown:
        load_config({"pipeline": {"cuda": {"architecture": ["sm_90"]}}}, source)
    assert unknown.value.hint == "did you mean `architectures`?"
    with pytest.raises(ConfigError, match="names no array"):
        load_config({"pipeline": {"cuda": {"smoke": [{"kernel": "saxpy", "args": ["@x"]}]}}}, source)
    with pytest.raises(ConfigError, match="linear expression"):
        load_config({"pipeline": {"cuda": {"smoke": [{"kernel": "k", "arrays": {"x": "i*i"}}]}}}, source)
    with pytest.raises(ConfigError, match="at least one glob"):
        load_config({"pipeline": {"cuda": {"kernel-sets": [{"name": "a"}]}}}, source)
    config = load_config({"pipeline": {"cuda": {"architectures": ["sm_90a"], "jobs": 4},
                                       "gpu": {"lease-dir": "/var/lock/gpus", "test-crates": ["a"]}}}, source)
    assert config.cuda.architectures == ("sm_90a",) and config.cuda.jobs == 4
    assert config.gpu.lease_dir == "/var/lock/gpus" and config.gpu.test_crates == ("a",)
    # Relative to each job's working directory, two jobs would lock different files for one GPU.
    with pytest.raises(ConfigError, match="`lease-dir` = 'leases' must be absolute"):
        load_config({"pipeline": {"gpu": {"lease-dir": "leases"}}}, source)
    assert load_config({"pipeline": {"gpu": {"lease-dir": "~/leases"}}}, source).gpu.lease_dir == "~/leases"


def test_linear_expressions() -> None:
    assert parse_linear("i") == (1.0, 0.0)
    assert parse_linear("2*i+1") == (2.0, 1.0)
    assert parse_linear(" -0.5 * i - 3 ") == (-0.5, -3.0)
    assert parse_linear("7") == (0.0, 7.0)
    for bad in ("i*i", "x", "2**i", "__import__('os')"):
        with pytest.raises(ValueError):
            parse_linear(bad)


def test_missing_nvcc_says_where_it_looked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pipeline.cuda import toolkit
    from pipeline.foundation.errors import ToolMissing

    monkeypatch.setattr(toolkit, "DEFAULT_CUDA_BIN", tmp_path / "no-cuda" / "bin")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "nowhere"))
    monkeypatch.delenv("CUDA_PATH", raising=False)
    with pytest.raises(ToolMissing) as missing:
        toolkit.find_cuda_tool("nvcc")
    assert f"$CUDA_HOME ({tmp_path / 'nowhere'}) has no bin/nvcc" in missing.value.hint
    assert f"nor in {tmp_path / 'no-cuda' / 'bin'}" in missing.value.hint
