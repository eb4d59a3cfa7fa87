"""Configuration of CUDA kernel compilation (`[workspace.metadata.pipeline.cuda]`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from pipeline.foundation.fields import setting

# Used for `architectures = "auto"` when NVML sees no GPU: Ampere (sm_80, sm_86), Ada (sm_89),
# Hopper (sm_90), Blackwell (sm_100, sm_120); filtered to what the installed nvcc can build.
FALLBACK_ARCHITECTURES: tuple[str, ...] = ("sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120")

ARCH_PATTERN = re.compile(r"^sm_(\d{2,3})([af]?)$")
_DEFINE = re.compile(r"^[A-Za-z_]\w*(=.*)?$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_C_IDENT = re.compile(r"^[A-Za-z_]\w*$")
SCALAR_TYPES = ("i32", "u32", "i64", "f32", "f64")


def check_arch(arch: str) -> str:
    if not ARCH_PATTERN.match(arch):
        raise ValueError(f"architecture {arch!r} is not of the form sm_XY (e.g. sm_80, sm_90, sm_90a, sm_120)")
    return arch


@dataclass(frozen=True)
class KernelSet:
    """A group of `.cu` files compiled with the same include dirs, defines and flags."""

    name: str = setting("default", doc="name of the set (shown in messages and in manifest.json)")
    sources: tuple[str, ...] = setting(
        factory=tuple, doc="globs of `.cu` files relative to the workspace root (e.g. `crates/*/kernels/*.cu`)"
    )
    include_dirs: tuple[str, ...] = setting(
        factory=tuple,
        doc="extra `-I` directories relative to the workspace root (each file's own directory is searched first)",
    )
    defines: tuple[str, ...] = setting(factory=tuple, doc="preprocessor defines, `NAME` or `NAME=VALUE` (`-D`)")
    flags: tuple[str, ...] = setting(factory=tuple, doc="extra nvcc flags for this set (e.g. `-O3`, `--use_fast_math`)")

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"kernel set name {self.name!r} may only hold letters, digits, '.', '_' and '-'")
        if not self.sources:
            raise ValueError(f"kernel set {self.name!r} needs at least one glob in `sources`")
        for define in self.defines:
            if not _DEFINE.match(define):
                raise ValueError(f"kernel set {self.name!r}: define {define!r} is not NAME or NAME=VALUE")


@dataclass(frozen=True)
class SmokeCase:
    """A small launch checked on every GPU by `pipeline gpu smoke`.

    Arrays are linear in the element index ``i``: ``"i"``, ``"2*i+1"``, ``"0.5"``.
    Arguments are ``"n"`` (the element count as i32), ``"TYPE:VALUE"`` scalars
    (``f32:2.0``, ``i32:7``) or ``"@NAME"`` (a device pointer to array NAME).
    """

    kernel: str = setting("", doc='the `extern "C"` function to launch (e.g. `saxpy`)')
    module: str = setting("", doc="the kernel file (fatbin) holding it, by stem; default: the same as `kernel`")
    n: int = setting(1024, doc="number of elements of every array")
    block: int = setting(256, doc="threads per block")
    grid: int = setting(0, doc="blocks per grid; 0 = enough blocks to cover `n`")
    args: tuple[str, ...] = setting(factory=tuple, doc='kernel arguments in order: `"n"`, `"f32:2.0"`, `"@x"`')
    arrays: Mapping[str, str] = setting(
        factory=lambda: MappingProxyType({}), doc='float32 input arrays by name, linear in the index i (`x = "i"`)'
    )
    expect: Mapping[str, str] = setting(
        factory=lambda: MappingProxyType({}), doc='expected float32 contents after the launch (`y = "2*i+1"`)'
    )
    tolerance: float = setting(1e-5, doc="relative tolerance of the comparison")

    def __post_init__(self) -> None:
        from pipeline.gpu.linear import parse_linear  # the tiny expression language

        if not _C_IDENT.match(self.kernel):
            raise ValueError(f"smoke case kernel {self.kernel!r} is not a C identifier")
        if self.n <= 0 or self.block <= 0 or self.grid < 0:
            raise ValueError(f"smoke case {self.kernel!r}: n and block must be positive, grid >= 0")
        for name, expr in [*self.arrays.items(), *self.expect.items()]:
            try:
                parse_linear(expr)
            except ValueError as exc:
                raise ValueError(f"smoke case {self.kernel!r}: array {name!r}: {exc}") from None
        for name in self.expect:
            if name not in self.arrays:
                raise ValueError(f"smoke case {self.kernel!r}: expect names {name!r}, which is not in `arrays`")
        for arg in self.args:
            if arg == "n":
                continue
            if arg.startswith("@"):
                if arg[1:] not in self.arrays:
                    raise ValueError(f"smoke case {self.kernel!r}: argument {arg!r} names no array in `arrays`")
                continue
            kind, _, value = arg.partition(":")
            if kind not in SCALAR_TYPES or not value:
                raise ValueError(
                    f"smoke case {self.kernel!r}: argument {arg!r} is not `n`, `@ARRAY` or TYPE:VALUE "
                    f"with TYPE in {', '.join(SCALAR_TYPES)}"
                )
            try:
                float(value) if kind.startswith("f") else int(value)
            except ValueError:
                raise ValueError(f"smoke case {self.kernel!r}: argument {arg!r}: {value!r} is not a number") from None

    @property
    def module_name(self) -> str:
        return self.module or self.kernel


@dataclass(frozen=True)
class CudaSettings:
    """Keys of this section; each is documented in the README."""

    architectures: tuple[str, ...] | Literal["auto"] = setting(
        "auto",
        doc='GPU architectures to build (`["sm_80", "sm_90", "sm_120"]`), or "auto": the GPUs NVML sees, '
        "else sm_80, sm_86, sm_89, sm_90, sm_100, sm_120 (those this nvcc supports)",
    )
    ptx: bool = setting(True, doc="also embed PTX for the newest architecture (forward compatibility through the JIT)")
    kernel_sets: tuple[KernelSet, ...] = setting(
        factory=tuple,
        doc="kernel sets (`[[workspace.metadata.pipeline.cuda.kernel-sets]]`); "
        "none: every `.cu` file inside member crates",
    )
    cache_dir: str = setting(
        "",
        doc="compile cache directory (relative to the workspace root; $PIPELINE_CUDA_CACHE overrides); "
        "empty: `target/cuda-cache`",
    )
    jobs: int = setting(0, doc="parallel nvcc jobs; 0 = the number of CPUs (`--jobs` overrides)")
    werror: bool = setting(False, doc="treat nvcc warnings as errors (`--werror` turns it on too)")
    flags: tuple[str, ...] = setting(factory=tuple, doc="nvcc flags for every kernel set (e.g. `-O3`, `-lineinfo`)")
    smoke: tuple[SmokeCase, ...] = setting(
        factory=tuple, doc="launches checked by `pipeline gpu smoke` (`[[workspace.metadata.pipeline.cuda.smoke]]`)"
    )

    def __post_init__(self) -> None:
        if self.architectures != "auto":
            if not self.architectures:
                raise ValueError('`architectures` is empty: list at least one (e.g. ["sm_90"]) or use "auto"')
            for arch in self.architectures:
                check_arch(arch)
        if self.jobs < 0:
            raise ValueError("`jobs` must be 0 (CPU count) or positive")
        names = [s.name for s in self.kernel_sets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"kernel set name(s) used twice: {', '.join(duplicates)}")
