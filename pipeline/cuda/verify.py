"""What ships: ``cuobjdump --list-elf`` / ``--list-ptx`` on release binaries, cdylibs and packaged fatbins.

Every configured architecture must be there as SASS, and PTX for the newest one (the JIT's way onto
GPUs newer than the list). ``release`` runs :func:`check_files` before tagging and records
:func:`report` in ``dist/manifest.json``: the architectures found, the nvcc version and the
minimum driver that toolkit's code needs.

cuobjdump comes from the toolkit (``$CUDA_HOME/bin``, ``PATH``) or from the PyPI wheel
``nvidia-cuda-cuobjdump`` (the ``cuda`` extra), which puts it under ``nvidia/cu13/bin``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.cuda import nvcc as nv
from pipeline.foundation import proc
from pipeline.foundation.errors import CheckFailed, PipelineError, ToolMissing

# Linux minimum driver per CUDA toolkit major.minor (NVIDIA's CUDA toolkit release notes, table 3,
# "Toolkit Driver Version"); code built by that toolkit needs at least this driver.
MIN_DRIVER: dict[str, str] = {
    "12.0": "525.60.13", "12.1": "530.30.02", "12.2": "535.54.03", "12.3": "545.23.06",
    "12.4": "550.54.14", "12.5": "555.42.02", "12.6": "560.28.03", "12.8": "570.26",
    "12.9": "575.51.03", "13.0": "580.65.06",
}

_ELF = re.compile(r"^ELF file\s+\d+:\s+\S*?\.(sm_\d+[af]?)\.cubin\s*$")
_PTX = re.compile(r"^PTX file\s+\d+:\s+\S*?\.sm_(\d+[af]?)\.ptx\s*$")


def min_driver(nvcc_version: str | None) -> str | None:
    if not nvcc_version:
        return None
    major_minor = ".".join(nvcc_version.split(".")[:2])
    return MIN_DRIVER.get(major_minor)


def find_cuobjdump() -> Path:
    from pipeline.cuda.toolkit import find_cuda_tool

    try:
        return find_cuda_tool("cuobjdump")
    except ToolMissing:
        pass
    try:
        import nvidia  # the namespace package of NVIDIA's wheels
    except ImportError:
        nvidia = None  # type: ignore[assignment]
    for base in getattr(nvidia, "__path__", []) if nvidia is not None else []:
        for candidate in sorted(Path(base).glob("*/bin/cuobjdump")):
            if candidate.is_file():
                return candidate
    raise ToolMissing("cuobjdump", "install the `cuda` extra (`pip install cargo-gpu-pipeline[cuda]`, which brings "
                      "nvidia-cuda-cuobjdump) or the CUDA toolkit")


@dataclass(frozen=True)
class Found:
    """Architectures embedded in one file: SASS (``sm_90``) and PTX (as the ``sm_120`` it targets)."""

    path: Path
    sass: tuple[str, ...]
    ptx: tuple[str, ...]

    @property
    def has_device_code(self) -> bool:
        return bool(self.sass or self.ptx)


def parse_listing(elf_text: str, ptx_text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(SASS archs, PTX archs) from ``cuobjdump --list-elf`` and ``--list-ptx`` output (pure)."""
    sass = {m.group(1) for line in elf_text.splitlines() if (m := _ELF.match(line.strip()))}
    ptx = {f"sm_{m.group(1)}" for line in ptx_text.splitlines() if (m := _PTX.match(line.strip()))}
    return tuple(nv.sort_archs(sass)), tuple(nv.sort_archs(ptx))


def inspect(cuobjdump: Path, path: Path) -> Found:
    listings = []
    for flag in ("--list-elf", "--list-ptx"):
        result = proc.run([str(cuobjdump), flag, str(path)], check=False)
        text = result.stdout + result.stderr
        if result.returncode != 0 and "does not contain device code" not in text:
            raise CheckFailed(f"cuobjdump {flag} {path} failed (exit {result.returncode}): {proc.tail(text, 3)}",
                              "is it an ELF binary, shared library or fatbin?")
        listings.append(result.stdout)
    sass, ptx = parse_listing(*listings)
    return Found(path, sass, ptx)


def missing(found: Found, archs: Sequence[str], ptx: str | None) -> list[str]:
    """What of ``archs`` (SASS) and ``ptx`` (``compute_120``) ``found`` lacks, as ``sm_80``, ``PTX compute_120``."""
    result = [a for a in nv.sort_archs(archs) if a not in found.sass]
    if ptx and f"sm_{ptx.removeprefix('compute_')}" not in found.ptx:
        result.append(f"PTX {ptx}")
    return result


def check_files(paths: Iterable[tuple[Path, bool]], archs: Sequence[str], ptx: str | None,
                cuobjdump: Path | None = None) -> list[Found]:
    """cuobjdump every file; ``(path, required)``: a required file must hold device code at all.

    Raises CheckFailed naming each file and what it lacks; files without device code that are
    not required (a binary that links no kernel crate) are returned and not checked further.
    """
    tool = cuobjdump or find_cuobjdump()
    found: list[Found] = []
    problems: list[str] = []
    for path, required in paths:
        item = inspect(tool, path)
        found.append(item)
        if not item.has_device_code:
            if required:
                problems.append(f"{path}: no device code at all (needs {', '.join(archs)} and PTX {ptx})")
            continue
        lacking = missing(item, archs, ptx)
        if lacking:
            problems.append(f"{path}: missing {', '.join(lacking)} (has SASS {', '.join(item.sass) or 'none'}, "
                            f"PTX {', '.join(item.ptx) or 'none'})")
    if problems:
        raise CheckFailed(
            "cuda: what would ship lacks configured architectures:\n" + "\n".join(problems),
            "build the kernels for every configured architecture (`pipeline cuda`; build.rs takes the same list), "
            "then release again",
        )
    return found


def report(found: Sequence[Found], root: Path, nvcc_version: str | None) -> dict[str, object]:
    """The release manifest's ``cuda`` block."""
    def shown(path: Path) -> str:
        return str(path.relative_to(root)) if path.is_relative_to(root) else path.name

    return {
        "nvcc": nvcc_version,
        "min_driver": min_driver(nvcc_version),
        "files": {shown(f.path): {"sass": list(f.sass), "ptx": list(f.ptx)} for f in found},
    }


def nvcc_version_or_none() -> str | None:
    from pipeline.cuda.toolkit import find_cuda_tool, nvcc_version

    try:
        return nvcc_version(find_cuda_tool("nvcc"))
    except PipelineError:
        return None
