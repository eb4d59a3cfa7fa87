"""Finding the CUDA toolkit: CUDA_HOME / CUDA_PATH, else PATH, else /usr/local/cuda/bin."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from pipeline.foundation import proc
from pipeline.foundation.errors import ToolMissing

DEFAULT_CUDA_BIN = Path("/usr/local/cuda/bin")
NVCC_HINT = "install the CUDA toolkit and set CUDA_HOME (or CUDA_PATH), or put nvcc on PATH"


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
