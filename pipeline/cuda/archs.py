"""Which GPU architectures ``pipeline cuda`` builds for, and why: ``--arch``, configuration, GPUs present, fallback.

:func:`choose_architectures` is the one policy (``pipeline doctor`` reports what it picks);
:func:`resolve_architectures` also checks the pick against what this nvcc can build,
before anything compiles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipeline.cuda import nvcc as nv
from pipeline.cuda.settings import FALLBACK_ARCHITECTURES, CudaSettings, check_arch
from pipeline.foundation.errors import ConfigError, UsageError

_UNSUPPORTED_HINT = (
    "drop the architecture, or use a CUDA toolkit that supports it (`nvcc --list-gpu-code` lists them; "
    "sm_100/sm_120 need CUDA >= 12.8, CUDA 13 dropped sm_50 to sm_72); with several `toolkits`, every one "
    "must build every configured architecture"
)


@dataclass(frozen=True)
class ArchChoice:
    archs: tuple[str, ...]
    origin: str  # "--arch", "configuration", "GPUs present", "fallback list"

    @property
    def auto(self) -> bool:
        """Picked by `architectures = "auto"` (GPUs present or the fallback list)."""
        return self.origin in ("GPUs present", "fallback list")


def choose_architectures(
    requested: Sequence[str],
    settings: CudaSettings,
    supported: Sequence[str] | None,
    gpu_archs: Callable[[], Sequence[str]],
) -> ArchChoice:
    """--arch, else the configured list, else (auto) the GPUs present, else the fallback list.

    Pure and never raising: ``supported`` (None when nvcc is missing: no filter) only
    narrows what ``auto`` picks; an explicit list is taken as written.
    """
    if requested:
        return ArchChoice(tuple(nv.sort_archs(requested)), "--arch")
    if settings.architectures != "auto":
        return ArchChoice(tuple(nv.sort_archs(settings.architectures)), "configuration")

    def buildable(arch: str) -> bool:
        return supported is None or not nv.unsupported([arch], supported)

    present = [a for a in gpu_archs() if buildable(a)]
    if present:
        return ArchChoice(tuple(nv.sort_archs(present)), "GPUs present")
    return ArchChoice(tuple(a for a in FALLBACK_ARCHITECTURES if buildable(a)), "fallback list")


def _unsupported(choice: ArchChoice, supported: Sequence[str], compiler: str = "nvcc",
                 where: str | None = None) -> str | None:
    bad = nv.unsupported(choice.archs, supported)
    if not bad:
        return None
    located = f"{where}: " if where and choice.origin == "configuration" else ""
    return (f"{located}{compiler} cannot build {', '.join(bad)} (from {choice.origin}); "
            f"it supports {', '.join(supported)}")


def resolve_architectures(
    requested: Sequence[str],
    settings: CudaSettings,
    supported: Sequence[str],
    gpu_archs: Callable[[], Sequence[str]],
    compiler: str = "nvcc",
    where: str | None = None,
) -> ArchChoice:
    """:func:`choose_architectures`, checked: raises before anything compiles when nvcc cannot build one.

    A bad ``--arch`` is a usage error; a bad configured list (or none that auto can use) a configuration one.
    ``compiler`` names the toolkit in messages (``toolkit 12.9 (/usr/local/cuda-12.9/bin/nvcc)``), as each
    toolkit of a matrix supports other architectures; ``where`` (``Cargo.toml:LINE:COL`` of
    ``architectures``) locates a refused configured list.
    """
    for arch in requested:
        try:
            check_arch(arch)
        except ValueError as exc:
            raise UsageError(f"--arch: {exc}", "pass architectures like --arch sm_90 --arch sm_120") from None
    choice = choose_architectures(requested, settings, supported, gpu_archs)
    if requested:
        problem = _unsupported(choice, supported, compiler)
        if problem:
            raise UsageError(problem, _UNSUPPORTED_HINT)
        return choice
    if not choice.archs:
        raise ConfigError(
            "architectures = \"auto\": no GPU is visible and this nvcc supports none of "
            + ", ".join(FALLBACK_ARCHITECTURES),
            "set [workspace.metadata.pipeline.cuda] architectures explicitly",
        )
    problem = _unsupported(choice, supported, compiler, where)
    if problem:
        raise ConfigError(problem, _UNSUPPORTED_HINT)
    return choice
