"""Facts about a GPU runner host, read from ``/sys`` and ``/proc`` under a root directory.

Every file is read through ``root`` (``/`` on a real host), so tests hand in fake
``/sys`` and ``/proc`` trees. A file that is missing or unreadable gives ``None``
(unknown), never an exception: a container or a VM often hides cpufreq, and the
check reports that as unknown instead of failing. GPU facts come from the NVML
boundary (:mod:`pipeline.gpu.nvml`), free space from ``statvfs``, tools from PATH.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.gpu.nvml import Inventory

CPU_DIR = "sys/devices/system/cpu"
NODE_DIR = "sys/devices/system/node"
THP_FILE = "sys/kernel/mm/transparent_hugepage/enabled"
HUGEPAGES_FILE = "proc/sys/vm/nr_hugepages"
PARANOID_FILE = "proc/sys/kernel/perf_event_paranoid"
SYSCTL_DROP_IN = "etc/sysctl.d/90-cargo-gpu-pipeline.conf"
UNIT_FILE = "etc/systemd/system/cargo-gpu-pipeline-runner.service"
SETUP_SCRIPT = "usr/local/sbin/cargo-gpu-pipeline-runner-setup"


def read_text(root: Path, relative: str) -> str | None:
    try:
        return (root / relative).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def read_int(root: Path, relative: str) -> int | None:
    text = read_text(root, relative)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def parse_cpu_list(text: str) -> list[int]:
    """The kernel's cpu list format: ``0-3,8,10-11``."""
    cpus: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError(f"not a cpu list: {text!r}")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def selected_mode(text: str | None) -> str | None:
    """``always [madvise] never`` -> ``madvise``."""
    if text is None:
        return None
    match = re.search(r"\[(\w+)\]", text)
    return match.group(1) if match else None


@dataclass(frozen=True)
class CpuFacts:
    online: tuple[int, ...] | None
    governors: tuple[tuple[int, str | None], ...]  # (cpu, scaling_governor or None when cpufreq is absent)
    turbo: bool | None
    turbo_source: str | None  # which file said it
    smt: bool | None
    smt_control: str | None  # on, off, forceoff, notsupported, notimplemented
    nr_hugepages: int | None
    transparent_hugepages: str | None
    numa_nodes: int | None
    perf_event_paranoid: int | None


def read_cpu(root: Path) -> CpuFacts:
    online_text = read_text(root, f"{CPU_DIR}/online")
    try:
        online = tuple(parse_cpu_list(online_text)) if online_text is not None else None
    except ValueError:
        online = None
    cpus = online if online is not None else tuple(
        sorted(int(p.name[3:]) for p in (root / CPU_DIR).glob("cpu[0-9]*") if p.name[3:].isdigit())
    )
    governors = tuple((cpu, read_text(root, f"{CPU_DIR}/cpu{cpu}/cpufreq/scaling_governor")) for cpu in cpus)
    # intel_pstate says "no_turbo" (1: off); acpi-cpufreq and amd-pstate say "boost" (1: on).
    turbo: bool | None = None
    source = None
    no_turbo = read_int(root, f"{CPU_DIR}/intel_pstate/no_turbo")
    if no_turbo is not None:
        turbo, source = no_turbo == 0, f"/{CPU_DIR}/intel_pstate/no_turbo"
    else:
        boost = read_int(root, f"{CPU_DIR}/cpufreq/boost")
        if boost is not None:
            turbo, source = boost == 1, f"/{CPU_DIR}/cpufreq/boost"
    smt_active = read_int(root, f"{CPU_DIR}/smt/active")
    smt_control = read_text(root, f"{CPU_DIR}/smt/control")
    smt = None if smt_active is None else smt_active == 1
    node_dir = root / NODE_DIR
    nodes = len([p for p in node_dir.glob("node[0-9]*") if p.is_dir()]) if node_dir.is_dir() else None
    return CpuFacts(
        online=online,
        governors=governors,
        turbo=turbo,
        turbo_source=source,
        smt=smt,
        smt_control=smt_control,
        nr_hugepages=read_int(root, HUGEPAGES_FILE),
        transparent_hugepages=selected_mode(read_text(root, THP_FILE)),
        numa_nodes=nodes or None,
        perf_event_paranoid=read_int(root, PARANOID_FILE),
    )


@dataclass(frozen=True)
class DiskFacts:
    label: str  # "target", "cargo home", "lease dir", ...
    path: str
    measured_at: str | None  # the nearest existing directory (target/ may not exist yet)
    free_bytes: int | None


def free_space(label: str, path: Path) -> DiskFacts:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        stat = os.statvfs(probe)
    except OSError:
        return DiskFacts(label, str(path), None, None)
    return DiskFacts(label, str(path), str(probe), stat.f_bavail * stat.f_frsize)


@dataclass(frozen=True)
class ToolFacts:
    name: str
    path: str | None
    version: str | None = None


def find_tool(name: str) -> str | None:
    """PATH first; the CUDA tools (nvcc, nsys, ncu) also in the toolkit, as the CUDA build finds nvcc."""
    if name in ("nvcc", "nsys", "ncu"):
        from pipeline.cuda.toolkit import find_cuda_tool
        from pipeline.foundation.errors import ToolMissing

        try:
            return str(find_cuda_tool(name))
        except ToolMissing:
            return None
    return shutil.which(name)


def read_tools(names: Sequence[str]) -> tuple[ToolFacts, ...]:
    return tuple(ToolFacts(name, find_tool(name)) for name in names)


def nvcc_version(path: str | None) -> str | None:
    if path is None:
        return None
    from pipeline.cuda.toolkit import nvcc_version as read_version
    from pipeline.foundation.errors import PipelineError

    try:
        return read_version(Path(path))
    except PipelineError:
        return None


@dataclass(frozen=True)
class SetupFiles:
    """What `runner setup`'s script installs, as found on the host (for `setup --check`)."""

    sysctl_drop_in: str | None
    unit: str | None
    script: bool


def read_setup_files(root: Path) -> SetupFiles:
    return SetupFiles(read_text(root, SYSCTL_DROP_IN), read_text(root, UNIT_FILE), (root / SETUP_SCRIPT).is_file())


@dataclass(frozen=True)
class HostFacts:
    root: str
    cpu: CpuFacts
    gpu: Inventory
    disks: tuple[DiskFacts, ...]
    tools: tuple[ToolFacts, ...]
    nvcc_version: str | None
    setup_files: SetupFiles = field(default_factory=lambda: SetupFiles(None, None, False))


def default_disk_paths(workspace_root: Path, lease_dir: Path, extra: Sequence[str]) -> list[tuple[str, Path]]:
    home = Path.home()
    cargo_home = Path(os.environ.get("CARGO_HOME") or home / ".cargo")
    sccache = Path(os.environ.get("SCCACHE_DIR") or home / ".cache" / "sccache")
    target = Path(os.environ.get("CARGO_TARGET_DIR") or workspace_root / "target")
    paths = [("target", target), ("cargo home", cargo_home), ("sccache", sccache), ("lease dir", lease_dir)]
    paths += [("disk-paths", Path(p).expanduser()) for p in extra]
    return paths


def gather(root: Path, inventory: Inventory, disk_paths: Sequence[tuple[str, Path]],
           tool_names: Sequence[str]) -> HostFacts:
    tools = read_tools(tool_names)
    nvcc = next((t.path for t in tools if t.name == "nvcc"), None)
    return HostFacts(
        root=str(root),
        cpu=read_cpu(root),
        gpu=inventory,
        disks=tuple(free_space(label, path) for label, path in disk_paths),
        tools=tools,
        nvcc_version=nvcc_version(nvcc),
        setup_files=read_setup_files(root),
    )
