"""The job model of a CUDA build: the files each kernel produces and the units of scheduled work (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.cuda import nvcc as nv
from pipeline.cuda.kernels import Kernel


@dataclass(frozen=True)
class Product:
    """One output file of one kernel: a cubin for a real arch or PTX for a virtual one; one cache entry."""

    kernel: Kernel
    kind: Literal["cubin", "ptx", "object"]
    arch: str  # sm_90 for a cubin, compute_120 for PTX, sm_80+sm_90+compute_90 for an object (every -gencode)

    @property
    def output_name(self) -> str:
        if self.kind == "object":
            return f"{self.kernel.name}.o"
        return f"{self.kernel.name}.{self.arch}.{self.kind}"

    @property
    def gencodes(self) -> tuple[str, ...]:
        """An object's architectures (real ones, then the PTX's virtual one)."""
        return tuple(self.arch.split("+"))

    @property
    def label(self) -> str:
        return f"{self.kernel.name} {self.arch}"


@dataclass(frozen=True)
class Job:
    """One unit of scheduled work: one cubin, one PTX, or PTX then the newest cubin from that PTX.

    The last form runs the front end (cicc) once for both files: nvcc -cubin for
    the newest arch would compile the same compute_XY PTX again.
    """

    kernel: Kernel
    products: tuple[Product, ...]

    @property
    def label(self) -> str:
        return f"{self.kernel.name} {'+'.join(p.arch for p in self.products)}"

    @property
    def timing_key(self) -> str:
        return f"{self.kernel.relative}|{'+'.join(p.arch for p in self.products)}"


def plan_jobs(kernels: Sequence[Kernel], archs: Sequence[str], ptx: str | None, combine: bool = True) -> list[Job]:
    """One job per (kernel, arch) plus PTX; ``combine``: the newest cubin from the PTX job's output.

    Under sccache ``combine`` is off: sccache caches nvcc's cicc and ptxas steps of a ``.cu``
    compile, but not a compile whose input is a ``.ptx`` file.
    """
    jobs = []
    for kernel in kernels:
        if kernel.kind == "static-lib":
            # Host code and device code in one object: nvcc -c with every -gencode (--threads runs them
            # in parallel inside nvcc); a static library cannot be split per architecture.
            targets = [*archs, *([ptx] if ptx else [])]
            jobs.append(Job(kernel, (Product(kernel, "object", "+".join(targets)),)))
            continue
        for arch in archs:
            cubin = Product(kernel, "cubin", arch)
            if combine and ptx is not None and nv.compute_of(arch) == ptx:
                jobs.append(Job(kernel, (Product(kernel, "ptx", ptx), cubin)))
            else:
                jobs.append(Job(kernel, (cubin,)))
        if ptx is not None and (not combine or not any(nv.compute_of(a) == ptx for a in archs)):
            jobs.append(Job(kernel, (Product(kernel, "ptx", ptx),)))
    return jobs

