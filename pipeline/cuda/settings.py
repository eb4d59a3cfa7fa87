"""Configuration of CUDA kernel compilation (`[workspace.metadata.pipeline.cuda]`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pipeline.foundation.config import setting

# Used for `architectures = "auto"` when NVML sees no GPU: Ampere (sm_80, sm_86), Ada (sm_89),
# Hopper (sm_90), Blackwell (sm_100, sm_120); filtered to what the installed nvcc can build.
FALLBACK_ARCHITECTURES: tuple[str, ...] = ("sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120")

# The one pattern of a real GPU architecture (also what generated CI accepts in `cuda-archs`):
# ASCII digits only and no trailing newline (`$` would allow one), as values end up in YAML.
ARCH_PATTERN = re.compile(r"^sm_([0-9]{2,3})([af]?)\Z")
_DEFINE = re.compile(r"^[A-Za-z_]\w*(=.*)?$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_LIB_NAME = re.compile(r"^[A-Za-z0-9_-]+\Z")
# A CUDA toolkit release as nvcc reports it (`release 12.9`): what `toolkits` lists and `--toolkit` takes.
TOOLKIT_PATTERN = re.compile(r"^([0-9]{1,2})\.([0-9]{1,2})\Z")


def check_toolkit(version: str) -> str:
    if not TOOLKIT_PATTERN.match(version):
        raise ValueError(f"CUDA toolkit {version!r} is not a release like 12.9 or 13.0 (MAJOR.MINOR)")
    return version


def toolkit_key(version: str) -> tuple[int, int]:
    """``12.9`` -> (12, 9), so that 12.10 sorts after 12.9."""
    major, minor = version.split(".")
    return int(major), int(minor)


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
    exclude: tuple[str, ...] = setting(
        factory=tuple,
        doc="globs (relative to the workspace root, like `sources`) of files left out of this set "
        "(e.g. `crates/*/kernels/experimental/*.cu`)",
    )
    include_dirs: tuple[str, ...] = setting(
        factory=tuple,
        doc="extra `-I` directories relative to the workspace root (each file's own directory is searched first)",
    )
    defines: tuple[str, ...] = setting(factory=tuple, doc="preprocessor defines, `NAME` or `NAME=VALUE` (`-D`)")
    flags: tuple[str, ...] = setting(factory=tuple, doc="extra nvcc flags for this set (e.g. `-O3`, `--use_fast_math`)")
    kind: Literal["fatbin", "static-lib"] = setting(
        "fatbin",
        doc='"fatbin": device-only kernels, one fatbin each; "static-lib": files with host code, compiled to '
        "objects (`nvcc -c`, every architecture, `-fPIC`) and archived into `lib<name>.a` (`nvcc -lib`) that "
        "build.rs links (`cargo:rustc-link-lib=static=<name>`)",
    )

    def __post_init__(self) -> None:
        if self.kind not in ("fatbin", "static-lib"):
            raise ValueError(f'kernel set {self.name!r}: `kind` must be "fatbin" or "static-lib", not {self.kind!r}')
        if self.kind == "static-lib" and not _LIB_NAME.match(self.name):
            raise ValueError(f"kernel set {self.name!r}: a static-lib set's name is its library's (`lib<name>.a`, "
                             "`rustc-link-lib=static=<name>`): letters, digits, '_' and '-' only")
        if not _NAME.match(self.name):
            raise ValueError(f"kernel set name {self.name!r} may only hold letters, digits, '.', '_' and '-'")
        if not self.sources:
            raise ValueError(f"kernel set {self.name!r} needs at least one glob in `sources`")
        for define in self.defines:
            if not _DEFINE.match(define):
                raise ValueError(f"kernel set {self.name!r}: define {define!r} is not NAME or NAME=VALUE")


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
    cache: Literal["local", "sccache"] = setting(
        "local",
        doc='"local": the content-addressed cache in `cache-dir`; "sccache": also every nvcc call through '
        "sccache ($SCCACHE_PATH, else `sccache` on PATH or beside Python), so runners share its Redis/S3/GHA "
        "backend (docs/cuda.md)",
    )
    jobs: int = setting(0, doc="parallel nvcc jobs; 0 = the number of CPUs (`--jobs` overrides)")
    werror: bool = setting(False, doc="treat nvcc warnings as errors (`--werror` turns it on too)")
    flags: tuple[str, ...] = setting(factory=tuple, doc="nvcc flags for every kernel set (e.g. `-O3`, `-lineinfo`)")
    toolkits: tuple[str, ...] = setting(
        factory=tuple,
        doc='CUDA toolkits to build with (`["12.9", "13.0"]`), each found by version ($CUDA_HOME_12_9, '
        "`toolkit-homes`, /usr/local/cuda-12.9, or the nvidia-cuda-nvcc wheels in this Python); the newest "
        "builds into `target/cuda`, `--toolkit` picks another; empty: the one nvcc found on PATH/CUDA_HOME",
    )
    toolkit_homes: Mapping[str, str] = setting(
        factory=dict,
        doc='where a toolkit lives (`{ "12.9" = "/opt/cuda-12.9" }`, holding bin/nvcc; relative to the '
        "workspace root or absolute); checked before the other places",
    )

    def __post_init__(self) -> None:
        for version in self.toolkits:
            check_toolkit(version)
        if len(set(self.toolkits)) != len(self.toolkits):
            raise ValueError(f"`toolkits` lists a version twice: {', '.join(self.toolkits)}")
        for version in self.toolkit_homes:
            if version not in self.toolkits:
                raise ValueError(f"`toolkit-homes` names toolkit {version!r}, which `toolkits` does not list "
                                 f"({', '.join(self.toolkits) or 'none'})")
        if self.architectures != "auto":
            if not self.architectures:
                raise ValueError('`architectures` is empty: list at least one (e.g. ["sm_90"]) or use "auto"')
            for arch in self.architectures:
                check_arch(arch)
        if self.cache not in ("local", "sccache"):
            raise ValueError(f'`cache` must be "local" or "sccache", not {self.cache!r}')
        if self.jobs < 0:
            raise ValueError("`jobs` must be 0 (CPU count) or positive")
        names = [s.name for s in self.kernel_sets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"kernel set name(s) used twice: {', '.join(duplicates)}")

    @property
    def newest_toolkit(self) -> str | None:
        """The toolkit of `target/cuda`, build.rs and the GPU jobs: the newest configured (None: unversioned)."""
        return max(self.toolkits, key=toolkit_key) if self.toolkits else None
