"""Finding CUDA toolkits: the unversioned one (CUDA_HOME / CUDA_PATH, else PATH, else /usr/local/cuda/bin)
and, for `toolkits = ["12.9", "13.0"]`, each one by its version.

A versioned toolkit is looked for, in this order, at ``$CUDA_HOME_12_9``, the configured
``toolkit-homes`` entry, ``/usr/local/cuda-12.9``, the NVIDIA wheels installed in this Python
(the ``nvidia`` namespace package: ``nvidia/cu13`` for the 13.x wheels, ``nvidia/cuda_nvcc`` for
the cu12 ones), and the unversioned toolkit. A candidate counts only when it is complete (nvcc
alone cannot compile: it drives cicc, ptxas and fatbinary) and its ``nvcc --version`` reports
that release; every rejected candidate is named in the error, with why.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation import proc
from pipeline.foundation.errors import PipelineError, ToolMissing, UsageError

DEFAULT_CUDA_BIN = Path("/usr/local/cuda/bin")
VERSIONED_ROOT = Path("/usr/local")  # /usr/local/cuda-12.9, as NVIDIA's installers lay toolkits out
NVCC_HINT = "install the CUDA toolkit and set CUDA_HOME (or CUDA_PATH), or put nvcc on PATH"
# What `nvcc -cubin/-ptx/-c` runs besides itself, relative to the toolkit's home (nvcc.profile's TOP).
REQUIRED_PARTS = ("bin/nvcc", "bin/ptxas", "bin/fatbinary", "nvvm/bin/cicc")


def find_cuda_tool(tool: str = "nvcc") -> Path:
    """``tool`` (nvcc, ptxas, cuobjdump...) from the toolkit, in DESIGN's order."""
    unusable = []
    for variable in ("CUDA_HOME", "CUDA_PATH"):
        home = os.environ.get(variable)
        if home:
            candidate = Path(home) / "bin" / tool
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
            unusable.append(f"${variable} ({home}) has no bin/{tool}")
    on_path = shutil.which(tool)
    if on_path:
        return Path(on_path)
    candidate = DEFAULT_CUDA_BIN / tool
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    # Say where it looked: a CUDA_HOME pointing at nothing is the usual cause.
    raise ToolMissing(tool, "; ".join([*unusable, f"not on PATH nor in {DEFAULT_CUDA_BIN}", NVCC_HINT]))


def nvcc_version(nvcc: Path) -> str:
    """``13.0`` style release number from ``nvcc --version``."""
    output = proc.run([str(nvcc), "--version"]).stdout
    match = re.search(r"release (\d+\.\d+)", output)
    return match.group(1) if match else output.strip().splitlines()[-1]


@dataclass(frozen=True)
class Toolkit:
    """One CUDA toolkit: its nvcc and the tools beside it."""

    version: str | None  # "12.9" as configured; None: the unversioned toolkit (no `toolkits` configured)
    nvcc: Path
    origin: str  # how it was found, for messages: "$CUDA_HOME_12_9", "/usr/local/cuda-12.9", "wheel ..."

    def tool(self, name: str) -> Path:
        """``fatbinary``, ``ptxas``... of *this* toolkit: beside its nvcc (another toolkit's would mix versions)."""
        beside = self.nvcc.parent / name
        if self.version is not None or (beside.is_file() and os.access(beside, os.X_OK)):
            return beside
        return find_cuda_tool(name)

    @property
    def label(self) -> str:
        return f"toolkit {self.version} ({self.nvcc})" if self.version else f"nvcc {self.nvcc}"


def default_toolkit() -> Toolkit:
    return Toolkit(None, find_cuda_tool("nvcc"), "CUDA_HOME/PATH")


def home_variable(version: str) -> str:
    """``12.9`` -> ``CUDA_HOME_12_9``."""
    return "CUDA_HOME_" + version.replace(".", "_")


def _wheel_homes(major: int, search_path: list[str]) -> Iterator[tuple[Path, str]]:
    """Toolkit homes inside the ``nvidia`` namespace package on ``search_path`` (this Python's sys.path)."""
    # The 13.x wheels install into nvidia/cu13; the cu12 (and cu11) ones into nvidia/cuda_nvcc.
    layouts = [f"cu{major}"] if major >= 13 else ["cuda_nvcc"]
    seen: set[Path] = set()
    for entry in search_path:
        base = Path(entry or ".") / "nvidia"
        for layout in layouts:
            home = base / layout
            if home.is_dir() and home.resolve() not in seen:
                seen.add(home.resolve())
                yield home, f"wheel {_wheel_name(base.parent, layout)} in {base.parent}"


def _wheel_name(site: Path, layout: str) -> str:
    """``nvidia-cuda-nvcc-cu12 12.9.86``, from the dist-info beside the namespace package."""
    stem = "nvidia_cuda_nvcc_cu*" if layout == "cuda_nvcc" else "nvidia_cuda_nvcc-*"
    for info in sorted(site.glob(f"{stem}.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        return f"{name.replace('_', '-')} {version}"
    return f"nvidia/{layout}"


def _missing_parts(home: Path) -> list[str]:
    return [part for part in REQUIRED_PARTS if not (home / part).is_file()]


def _candidates(version: str, homes: Mapping[str, Path], search_path: list[str]) -> Iterator[tuple[Path, str, bool]]:
    """(home or nvcc, where it came from, is it a home whose parts can be checked) in lookup order."""
    variable = home_variable(version)
    if os.environ.get(variable):
        yield Path(os.environ[variable]).expanduser(), f"${variable}", True
    if version in homes:
        yield homes[version], "`toolkit-homes`", True
    yield VERSIONED_ROOT / f"cuda-{version}", f"{VERSIONED_ROOT}/cuda-{version}", True
    yield from ((home, origin, True) for home, origin in _wheel_homes(int(version.split(".")[0]), search_path))
    try:
        yield find_cuda_tool("nvcc"), "CUDA_HOME/PATH", False
    except ToolMissing:
        return


def find_toolkit(version: str, homes: Mapping[str, Path] | None = None,
                 search_path: list[str] | None = None) -> Toolkit:
    """The toolkit of release ``version`` (see the module docstring for where it looks)."""
    rejected: list[str] = []
    for place, origin, is_home in _candidates(version, homes or {}, sys.path if search_path is None else search_path):
        if is_home:
            if not place.exists():
                if origin.startswith(("$", "`")):  # named on purpose: say it points at nothing
                    rejected.append(f"{origin} ({place}) does not exist")
                continue
            missing = _missing_parts(place)
            if missing:
                rejected.append(f"{origin} ({place}) is not a complete toolkit: no {', '.join(missing)}"
                                + (" (the cu12 wheels hold ptxas, libnvvm and headers, not nvcc or cicc)"
                                   if place.name == "cuda_nvcc" and "bin/nvcc" in missing else ""))
                continue
            nvcc = place / "bin" / "nvcc"
        else:
            nvcc = place
        try:
            found = nvcc_version(nvcc)
        except Exception as exc:  # noqa: BLE001 - a broken candidate is reported, the next one tried
            rejected.append(f"{origin} ({nvcc}) does not run: {exc}")
            continue
        if found == version:
            return Toolkit(version, nvcc, origin)
        rejected.append(f"{origin} ({nvcc}) is release {found}")
    major = int(version.split(".")[0])
    wheels = (f"`pip install nvidia-cuda-nvcc=={version}.* nvidia-nvvm=={version}.* nvidia-cuda-crt=={version}.* "
              f"nvidia-cuda-runtime=={version}.*`" if major >= 13 else
              "install it with NVIDIA's installer (PyPI has no nvcc for CUDA 12: nvidia-cuda-nvcc-cu12 ships "
              "ptxas only)")
    raise ToolkitMissing(
        version,
        f"CUDA toolkit {version} is configured but was not found"
        + (": " + "; ".join(rejected) if rejected else f" (no $CUDA_HOME_{version.replace('.', '_')}, "
           f"{VERSIONED_ROOT}/cuda-{version} or wheel)"),
        f"set ${home_variable(version)} to its directory (holding bin/nvcc), add it to `toolkit-homes`, "
        f"install it as {VERSIONED_ROOT}/cuda-{version}, or {wheels}",
    )


class ToolkitMissing(ToolMissing):
    """A configured toolkit version is not installed (exit 1, like any missing tool)."""

    def __init__(self, version: str, message: str, hint: str) -> None:
        PipelineError.__init__(self, message, hint)
        self.tool = f"nvcc {version}"


TOOLKIT_ENV = "PIPELINE_CUDA_TOOLKIT"


def select_toolkit(configured: tuple[str, ...], newest: str | None, requested: str | None) -> str | None:
    """The toolkit version a build uses: ``--toolkit`` (else $PIPELINE_CUDA_TOOLKIT), else the newest configured.

    None: no `toolkits` configured, the unversioned toolkit. Asking for a version that is not
    configured is a usage error: its architectures and outputs were never planned for it.
    """
    source = "--toolkit"
    if requested is None and os.environ.get(TOOLKIT_ENV):
        requested, source = os.environ[TOOLKIT_ENV], f"${TOOLKIT_ENV}"
    if requested is None:
        return newest
    if requested not in configured:
        listed = ", ".join(configured)
        raise UsageError(
            f"{source} {requested}: " + (f"not a configured toolkit (configured: {listed})" if configured
                                         else "no `toolkits` are configured"),
            f'add "{requested}" to `toolkits` in [workspace.metadata.pipeline.cuda] (e.g. `toolkits = '
            f'[{", ".join(chr(34) + v + chr(34) for v in (*configured, requested))}]`), or pass a configured one',
        )
    return requested
