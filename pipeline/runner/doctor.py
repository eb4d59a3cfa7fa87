"""Tool and toolchain report for `pipeline doctor` (the GPU checks join it in gpu/)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.cuda.toolkit import NVCC_HINT, find_cuda_tool
from pipeline.foundation import proc
from pipeline.foundation.errors import CommandFailed, ToolMissing
from pipeline.gpu.nvml import Gpu, Inventory


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


def _probe(name: str, argv: tuple[str, ...], required: bool, hint: str, cwd: Path | None = None) -> ToolReport:
    from pipeline.runner.toolchain import NO_AUTO_INSTALL

    try:
        path = proc.find_tool(argv[0], hint)
        # In the workspace, so rustup's proxies pick the toolchain it pins; never installing one.
        output = proc.run([path, *argv[1:]], cwd=cwd, env=NO_AUTO_INSTALL).stdout
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


def probe_tools(cwd: Path | None = None) -> list[ToolReport]:
    """Every tool's version, run in ``cwd`` (the workspace root: where its rust-toolchain.toml applies)."""
    return [*(_probe(*tool, cwd=cwd) for tool in TOOLS), probe_nvcc()]


# Tools a rustup toolchain provides: missing ones mean "toolchain not installed" when a pin is missing.
RUST_TOOLS = frozenset({"cargo", "rustc", "rustfmt", "clippy"})


# ---------------------------------------------------------------------------
# GPU checks: NVML inventory, toolkit vs driver, target architectures vs GPUs.
# Pure: data in (inventory, versions, architectures), findings out.


@dataclass(frozen=True)
class Finding:
    level: str  # "ok" | "warning" | "error"
    check: str  # "nvml" | "toolkit-driver" | "arch-support" | "arch-coverage" | "config"
    message: str
    hint: str | None = None


def _major_minor(version: str | None) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def toolkit_driver_finding(nvcc_version: str | None, driver_cuda: str | None, driver: str | None) -> Finding | None:
    """A toolkit newer than the driver supports is the classic 'CUDA version mismatch'."""
    toolkit, supported = _major_minor(nvcc_version), _major_minor(driver_cuda)
    if toolkit is None or supported is None:
        return None
    shown_t, shown_d = f"{toolkit[0]}.{toolkit[1]}", f"{supported[0]}.{supported[1]}"
    if toolkit[0] > supported[0]:
        return Finding(
            "error", "toolkit-driver",
            f"CUDA toolkit {shown_t} (nvcc) is newer than driver {driver} supports (CUDA {shown_d}): "
            "kernels it builds will not load (CUDA_ERROR_UNSUPPORTED_PTX_VERSION / 'unsupported toolchain')",
            f"upgrade the NVIDIA driver to one supporting CUDA {shown_t}, or point CUDA_HOME at a "
            f"CUDA {supported[0]}.x toolkit",
        )
    if toolkit > supported:
        return Finding(
            "warning", "toolkit-driver",
            f"CUDA toolkit {shown_t} is newer than driver {driver} supports (CUDA {shown_d}): cubins load through "
            "minor-version compatibility, but PTX from this toolkit cannot be JIT-compiled by the driver",
            f"upgrade the driver to one supporting CUDA {shown_t}, or build for every GPU's architecture "
            "so no PTX JIT is needed",
        )
    return Finding("ok", "toolkit-driver", f"nvcc {shown_t} <= driver's CUDA {shown_d}")


def arch_findings(
    targets: Sequence[str], origin: str, supported: Sequence[str] | None, gpus: Sequence[Gpu], ptx: str | None
) -> list[Finding]:
    from pipeline.cuda import nvcc as nv

    findings: list[Finding] = []
    cannot = nv.unsupported(targets, supported) if supported is not None else []
    if supported is not None:
        for arch in cannot:
            findings.append(Finding(
                "error", "arch-support",
                f"target architecture {arch} ({origin}) cannot be built by this nvcc (it supports "
                f"{', '.join(supported)})",
                "remove it from [workspace.metadata.pipeline.cuda] architectures, or install a CUDA toolkit "
                "that supports it",
            ))
    targets = [a for a in targets if a not in cannot]  # what will really be built
    built = {f"sm_{nv.arch_number(a)}" for a in targets}
    for gpu in gpus:
        if gpu.arch in built:
            findings.append(Finding("ok", "arch-coverage", f"GPU {gpu.index} ({gpu.name}, {gpu.arch}) is built for"))
            continue
        number = nv.arch_number(gpu.arch)
        same_major = [a for a in targets if nv.arch_number(a) // 10 == number // 10 and nv.arch_number(a) <= number]
        if same_major:
            fallback = f"it runs the {nv.sort_archs(same_major)[-1]} cubin (compatible, not tuned for it)"
        elif ptx and nv.arch_number(ptx) <= number:
            fallback = f"it JIT-compiles the {ptx} PTX at every first load"
        else:
            fallback = "no image in the fatbins will load on it"
        findings.append(Finding(
            "warning", "arch-coverage",
            f"GPU {gpu.index} ({gpu.name}, {gpu.arch}) is not among the target architectures "
            f"({', '.join(targets)}, {origin}): {fallback}",
            f"add \"{gpu.arch}\" to [workspace.metadata.pipeline.cuda] architectures (or use \"auto\")",
        ))
    return findings


def gpu_findings(
    inventory: Inventory,
    nvcc_version: str | None,
    targets: Sequence[str],
    origin: str,
    supported: Sequence[str] | None,
    ptx: str | None,
) -> list[Finding]:
    findings: list[Finding] = []
    if not inventory.available:
        findings.append(Finding(
            "warning", "nvml", inventory.reason or "no NVIDIA driver/GPU",
            "kernels still compile here; GPU checks, smoke tests and leases need the NVIDIA driver and a GPU",
        ))
    else:
        findings.append(Finding(
            "ok", "nvml",
            f"driver {inventory.driver_version}, CUDA {inventory.cuda_driver_version}, {len(inventory.gpus)} GPU(s)",
        ))
        toolkit = toolkit_driver_finding(nvcc_version, inventory.cuda_driver_version, inventory.driver_version)
        if toolkit is not None:
            findings.append(toolkit)
    findings += arch_findings(targets, origin, supported, inventory.gpus if inventory.available else (), ptx)
    return findings
