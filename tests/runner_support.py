"""Fake host trees (`/sys`, `/proc`, `/etc` under a root) and NVML states for the runner tests.

The file names and formats are the kernel's: a 2-socket host with cpufreq (intel_pstate),
SMT, huge pages and two NUMA nodes; the bad host is the same machine left at its
distribution defaults plus a GPU in trouble.
"""

from __future__ import annotations

import json
from pathlib import Path

H200 = {"name": "NVIDIA H200", "cc": [9, 0], "persistence": 1, "clocks": [1980, 3201], "app_clocks": [1980, 3201],
        "max_clocks": [1980, 3201], "ecc": [1, 1], "mig": [0, 0], "pcie": [5, 5, 16, 16], "temperature": 41,
        "reasons": 0x1}

GOOD_CONFIG = """
[workspace.metadata.pipeline.runner]
governor = "performance"
turbo = "off"
smt = "on"
hugepages = 1024
transparent-hugepages = "madvise"
numa-nodes = 2
ecc = "on"
mig = "off"
min-driver = "550.54.14"
min-free-gib = 0.001
tools = []

[workspace.metadata.pipeline.runner.clocks."NVIDIA H200"]
graphics = 1980
memory = 3201
"""


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def fake_host(root: Path, *, governors: list[str], no_turbo: int = 1, smt_active: int = 1, hugepages: int = 1024,
              thp: str = "always [madvise] never", nodes: int = 2, cpufreq: bool = True) -> Path:
    cpu = "sys/devices/system/cpu"
    write(root, f"{cpu}/online", f"0-{len(governors) - 1}")
    for index, governor in enumerate(governors):
        (root / cpu / f"cpu{index}").mkdir(parents=True, exist_ok=True)
        if cpufreq:
            write(root, f"{cpu}/cpu{index}/cpufreq/scaling_governor", governor)
    if cpufreq:
        write(root, f"{cpu}/intel_pstate/no_turbo", str(no_turbo))
    write(root, f"{cpu}/smt/active", str(smt_active))
    write(root, f"{cpu}/smt/control", "on" if smt_active else "off")
    write(root, "proc/sys/vm/nr_hugepages", str(hugepages))
    write(root, "sys/kernel/mm/transparent_hugepage/enabled", thp)
    write(root, "proc/sys/kernel/perf_event_paranoid", "2")
    for node in range(nodes):
        (root / "sys/devices/system/node" / f"node{node}").mkdir(parents=True, exist_ok=True)
    return root


def good_host(root: Path) -> Path:
    return fake_host(root, governors=["performance"] * 4)


def bad_host(root: Path) -> Path:
    return fake_host(root, governors=["performance", "powersave", "performance", "schedutil"], no_turbo=0,
                     smt_active=0, hugepages=0, thp="[always] madvise never", nodes=1)


def nvml_state(*gpus: dict[str, object], driver: str = "580.159.04") -> str:
    return json.dumps({"driver": driver, "cuda": 13000, "gpus": [
        {"uuid": f"GPU-fake{i:04d}-0000-0000-0000-000000000000", **gpu} for i, gpu in enumerate(gpus)]})


def good_gpus() -> str:
    return nvml_state(H200, H200)


def bad_gpus() -> str:
    troubled = {**H200, "persistence": 0, "clocks": [1410, 2619], "ecc": [0, 1], "mig": [1, 1],
                "pcie": [4, 5, 8, 16], "temperature": 91, "reasons": 0x8 | 0x40}
    return nvml_state(H200, troubled, driver="535.54.03")


def runner_workspace(root: Path, config: str = GOOD_CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = []\n' + config)
    return root
