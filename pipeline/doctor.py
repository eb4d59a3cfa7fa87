"""Tool and toolchain report for `pipeline doctor` (the GPU checks join it in gpu/)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline import proc
from pipeline.cuda.toolkit import NVCC_HINT, find_cuda_tool
from pipeline.errors import CommandFailed, ToolMissing


@dataclass(frozen=True)
class ToolReport:
    name: str
    required: bool
    version: str | None
    path: str | None
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.version is not None


# (name, argv, required, hint)
TOOLS: tuple[tuple[str, tuple[str, ...], bool, str], ...] = (
    ("cargo", ("cargo", "--version"), True, proc.INSTALL_HINTS["cargo"]),
    ("rustc", ("rustc", "--version"), True, proc.INSTALL_HINTS["rustc"]),
    ("rustfmt", ("rustfmt", "--version"), True, proc.INSTALL_HINTS["rustfmt"]),
    ("clippy", ("cargo-clippy", "--version"), True, proc.INSTALL_HINTS["cargo-clippy"]),
    ("git", ("git", "--version"), True, proc.INSTALL_HINTS["git"]),
)

_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?(?:[-+][\w.]+)?")


def _probe(name: str, argv: tuple[str, ...], required: bool, hint: str) -> ToolReport:
    try:
        path = proc.find_tool(argv[0], hint)
        output = proc.run([path, *argv[1:]]).stdout
    except (ToolMissing, CommandFailed):
        return ToolReport(name, required, None, None, hint)
    match = _VERSION.search(output)
    return ToolReport(name, required, match.group(0) if match else output.strip(), path)


def probe_nvcc() -> ToolReport:
    try:
        nvcc = find_cuda_tool("nvcc")
        output = proc.run([str(nvcc), "--version"]).stdout
    except (ToolMissing, CommandFailed):
        return ToolReport("nvcc", False, None, None, NVCC_HINT)
    match = re.search(r"release (\d+\.\d+), V([\d.]+)", output)
    return ToolReport("nvcc", False, match.group(2) if match else output.strip(), str(Path(nvcc)))


def probe_tools() -> list[ToolReport]:
    return [*(_probe(*tool) for tool in TOOLS), probe_nvcc()]
