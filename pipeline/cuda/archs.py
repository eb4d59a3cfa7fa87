"""Which GPU architectures ``pipeline cuda`` builds for, and why: ``--arch``, configuration, GPUs present, fallback.

Checked against what this nvcc can build before anything compiles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipeline.cuda import nvcc as nv
from pipeline.cuda.settings import FALLBACK_ARCHITECTURES, CudaSettings, check_arch
from pipeline.foundation.errors import ConfigError, UsageError


@dataclass(frozen=True)
class ArchChoice:
    archs: tuple[str, ...]
    origin: str  # "--arch", "configuration", "GPUs present", "fallback list"


def resolve_architectures(
    requested: Sequence[str],
    settings: CudaSettings,
    supported: Sequence[str],
    gpu_archs: Callable[[], Sequence[str]],
) -> ArchChoice:
    """--arch, else the configured list, else (auto) the GPUs present, else the fallback list.

    Raises before anything compiles when nvcc cannot build one of them.
    """
    if requested:
        for arch in requested:
            try:
                check_arch(arch)
            except ValueError as exc:
                raise UsageError(f"--arch: {exc}", "pass architectures like --arch sm_90 --arch sm_120") from None
        choice = ArchChoice(tuple(nv.sort_archs(requested)), "--arch")
    elif settings.architectures != "auto":
        choice = ArchChoice(tuple(nv.sort_archs(settings.architectures)), "configuration")
    else:
        present = [a for a in gpu_archs() if not nv.unsupported([a], supported)]
        if present:
            choice = ArchChoice(tuple(nv.sort_archs(present)), "GPUs present")
        else:
            fallback = [a for a in FALLBACK_ARCHITECTURES if not nv.unsupported([a], supported)]
            if not fallback:
                raise ConfigError(
                    "architectures = \"auto\": no GPU is visible and this nvcc supports none of "
                    + ", ".join(FALLBACK_ARCHITECTURES),
                    "set [workspace.metadata.pipeline.cuda] architectures explicitly",
                )
            choice = ArchChoice(tuple(fallback), "fallback list")
    bad = nv.unsupported(choice.archs, supported)
    if bad:
        error = UsageError if choice.origin == "--arch" else ConfigError
        raise error(
            f"nvcc cannot build {', '.join(bad)} (from {choice.origin}); it supports {', '.join(supported)}",
            "drop the architecture, or install a CUDA toolkit that supports it (`nvcc --list-gpu-code` lists them)",
        )
    return choice

