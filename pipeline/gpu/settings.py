"""Configuration of GPU inventory, leases and GPU tests (`[workspace.metadata.pipeline.gpu]`), and smoke cases."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pipeline.foundation.config import setting
from pipeline.gpu.linear import parse_linear

_C_IDENT = re.compile(r"^[A-Za-z_]\w*$")
SCALAR_TYPES = ("i32", "u32", "i64", "f32", "f64")


# The smoke cases are written under [[workspace.metadata.pipeline.cuda.smoke]] (beside the
# kernels they launch); the composition root puts this section there, so that neither
# cuda/ nor gpu/ imports the other.
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
class GpuSettings:
    """Keys of this section; each is documented in the README."""

    lease_dir: str = setting(
        "",
        doc="absolute directory of the per-GPU lock files shared by this user's jobs on the host; empty: "
        "`$XDG_RUNTIME_DIR/cargo-gpu-pipeline/leases`, else a 0700 `cargo-gpu-pipeline-UID` in the temp dir; "
        "refused when another user owns it or can write it ($PIPELINE_GPU_LEASE_DIR overrides)",
    )
    lease_timeout: float = setting(3600.0, doc="seconds `gpu run` and GPU tests wait for free GPUs (`--timeout`)")
    test_crates: tuple[str, ...] = setting(
        factory=tuple, doc="crates whose tests need a GPU (`pipeline test --gpu`); empty: the whole workspace"
    )
    test_features: tuple[str, ...] = setting(
        factory=tuple, doc="cargo features enabled for the GPU tests (e.g. `gpu`)"
    )

    def __post_init__(self) -> None:
        if self.lease_dir and not self.lease_dir.startswith(("/", "~")):
            # Relative to each job's own working directory, jobs would lock different files.
            raise ValueError(f"`lease-dir` = {self.lease_dir!r} must be absolute (or start with `~`): every job on "
                             "the host has to lock the same files")
        if self.lease_timeout < 0:
            raise ValueError("`lease-timeout` must be >= 0 seconds")
