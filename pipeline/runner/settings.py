"""Configuration of GPU runner hosts (`[workspace.metadata.pipeline.runner]`).

`pipeline runner check` compares a host with these values and `pipeline runner setup`
renders a shell script from them, so every value that reaches the script is checked
against a strict pattern here (a governor, a GPU model name, whole numbers): nothing
from the configuration can add a command to a script that root will run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from pipeline.foundation.config import setting

GOVERNOR = re.compile(r"[a-z][a-z0-9_]{0,31}")
# NVML model names: "NVIDIA H200", "NVIDIA GeForce RTX 5090", "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB".
GPU_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")
TOOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
KNOWN_TOOLS = ("nvidia-smi", "nvcc", "perf", "nsys", "ncu")
# Reasons that say nothing is wrong: an idle GPU, clocks held by the configured application clocks or
# locks, the power cap of a busy GPU, a sync-boost group, the display clock.
DEFAULT_THROTTLE_ALLOWED = ("gpu_idle", "applications_clocks_setting", "sw_power_cap", "sync_boost",
                            "display_clock_setting")
Switch = Literal["on", "off", "any"]


@dataclass(frozen=True)
class GpuClocks:
    """Clocks of one GPU model, in MHz; 0 leaves that clock alone."""

    graphics: int = setting(0, doc="graphics clock lock (`nvidia-smi -lgc N,N`)")
    memory: int = setting(0, doc="memory clock lock (`nvidia-smi -lmc N,N`)")
    application_graphics: int = setting(0, doc="application graphics clock (`nvidia-smi -ac MEM,N`)")
    application_memory: int = setting(0, doc="application memory clock (`nvidia-smi -ac N,GRAPHICS`)")

    def __post_init__(self) -> None:
        for name in ("graphics", "memory", "application_graphics", "application_memory"):
            value = getattr(self, name)
            if not 0 <= value <= 100_000:
                raise ValueError(f"clock `{name.replace('_', '-')}` = {value} must be 0 (not set) to 100000 MHz")
        if bool(self.application_graphics) != bool(self.application_memory):
            raise ValueError("`application-graphics` and `application-memory` are set together (`nvidia-smi -ac` "
                             "takes both)")

    @property
    def any(self) -> bool:
        return bool(self.graphics or self.memory or self.application_graphics)


@dataclass(frozen=True)
class RunnerSettings:
    """Keys of this section; each is documented in the README."""

    enforce: bool = setting(
        False, doc="generated GPU jobs stop when `pipeline runner check` finds a mismatch (default: they warn)"
    )
    strict: bool = setting(False, doc="a value the host cannot report (unknown) fails `runner check` too")
    governor: str = setting(
        "performance", doc="`scaling_governor` every CPU should have (`runner setup` sets it); empty: not checked"
    )
    turbo: Switch = setting("any", doc='CPU turbo/boost: "on", "off" or "any" (not checked)')
    smt: Switch = setting("any", doc='simultaneous multithreading: "on", "off" or "any" (not checked)')
    hugepages: int = setting(0, doc="`vm.nr_hugepages` at least this many (`runner setup` reserves them); 0: any")
    transparent_hugepages: Literal["always", "madvise", "never", "any"] = setting(
        "any", doc='transparent huge pages mode: "always", "madvise", "never" or "any" (not checked)'
    )
    numa_nodes: int = setting(0, doc="number of NUMA nodes the host should show; 0: not checked")
    persistence: bool = setting(True, doc="GPU persistence mode on (`nvidia-smi -pm 1`)")
    clocks: Mapping[str, GpuClocks] = setting(
        factory=lambda: MappingProxyType({}),
        doc='clock locks per GPU model, a table per NVML name (`[...runner.clocks."NVIDIA H200"]`) with '
        "`graphics`, `memory`, `application-graphics`, `application-memory` in MHz; the longest name "
        "contained in a GPU's name applies",
    )
    ecc: Switch = setting("any", doc='GPU ECC mode: "on", "off" or "any" (not checked)')
    mig: Switch = setting("off", doc='GPU MIG mode: "on", "off" or "any"; whole GPUs (off) by default')
    min_driver: str = setting(
        "", doc="lowest NVIDIA driver version; empty: the minimum of the installed CUDA toolkit's major version"
    )
    pcie_min_gen: int = setting(
        0, doc="lowest PCIe link generation now; 0: not checked (an idle GPU lowers its link generation)"
    )
    pcie_full_width: bool = setting(True, doc="each GPU's PCIe link runs at its full width (x16)")
    max_temperature: int = setting(85, doc="highest GPU temperature (°C) at check time")
    throttle_allowed: tuple[str, ...] = setting(
        DEFAULT_THROTTLE_ALLOWED, doc="clock event (throttle) reasons that are no finding"
    )
    min_free_gib: float = setting(
        20.0, doc="free GiB needed under target/, the cargo and sccache caches and the lease directory"
    )
    disk_paths: tuple[str, ...] = setting(factory=tuple, doc="more directories whose free space is checked")
    tools: tuple[str, ...] = setting(
        ("nvidia-smi", "nvcc"), doc="tools the runner must have (of nvidia-smi, nvcc, perf, nsys, ncu); "
        "the others are reported only"
    )

    def __post_init__(self) -> None:
        if self.governor and not GOVERNOR.fullmatch(self.governor):
            raise ValueError(f"`governor` = {self.governor!r} is not a cpufreq governor name (e.g. performance)")
        for model in self.clocks:
            if not GPU_MODEL.fullmatch(model):
                raise ValueError(f"`clocks` model {model!r} may hold letters, digits, spaces, '.', '_' and '-' only")
        for key in ("hugepages", "numa_nodes", "pcie_min_gen", "max_temperature"):
            if getattr(self, key) < 0:
                raise ValueError(f"`{key.replace('_', '-')}` must be >= 0")
        if self.min_driver and not re.fullmatch(r"\d+(\.\d+){0,2}", self.min_driver):
            raise ValueError(f"`min-driver` = {self.min_driver!r} is not a driver version like 580.65.06")
        if self.throttle_allowed != DEFAULT_THROTTLE_ALLOWED:  # NVML's names, read only when configured
            from pipeline.gpu.nvml import CLOCK_EVENT_REASONS

            known = set(CLOCK_EVENT_REASONS.values())
        for reason in self.throttle_allowed if self.throttle_allowed != DEFAULT_THROTTLE_ALLOWED else ():
            if reason not in known:
                raise ValueError(f"`throttle-allowed`: unknown reason {reason!r} (known: {', '.join(sorted(known))})")
        if self.min_free_gib < 0:
            raise ValueError("`min-free-gib` must be >= 0")
        for tool in self.tools:
            if tool not in KNOWN_TOOLS:
                raise ValueError(f"`tools`: {tool!r} is none of {', '.join(KNOWN_TOOLS)}")

    def clocks_for(self, gpu_name: str) -> tuple[str, GpuClocks] | None:
        """The configured model that names this GPU: the longest one its name contains."""
        matches = [model for model in self.clocks if model in gpu_name]
        if not matches:
            return None
        model = max(matches, key=len)
        return model, self.clocks[model]
