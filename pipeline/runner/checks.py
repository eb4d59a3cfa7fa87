"""`pipeline runner check`: host facts against `[workspace.metadata.pipeline.runner]`, purely.

Each finding is one line: what was checked, on what, the expected and the actual
value, and a hint. Statuses: ``ok``; ``mismatch`` (exit 1); ``unknown`` (the host
could not say: exit 1 only with ``strict = true``); ``info`` (reported, not
checked: a value set to "any", an optional tool).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from pipeline.gpu.nvml import Gpu
from pipeline.runner.host import DiskFacts, HostFacts
from pipeline.runner.settings import RunnerSettings

OK, MISMATCH, UNKNOWN, INFO = "ok", "mismatch", "unknown", "info"
JSON_VERSION = 1
GIB = 1024**3
# Lowest driver of each CUDA major release (minor-version compatibility), from NVIDIA's CUDA release notes.
MIN_DRIVER_FOR_CUDA = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}
# Clock readings step by ~15 MHz; a lock is held when the current clock is this close to it.
CLOCK_TOLERANCE_MHZ = 15
SETUP_HINT = "`pipeline runner setup` renders a script that sets it"


@dataclass(frozen=True)
class Finding:
    check: str  # "cpu.governor", "gpu.persistence", "disk.free", "tool", ...
    subject: str  # "cpu3", "all CPUs", "gpu0 (NVIDIA H200)", "target", "perf"
    status: str
    expected: str
    actual: str
    hint: str = ""

    def line(self) -> str:
        text = (f"{self.status.upper():<8} {self.check:<22} {self.subject}: expected {self.expected}, "
                f"actual {self.actual}")
        return f"{text}  hint: {self.hint}" if self.hint and self.status != OK else text


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    strict: bool
    enforce: bool
    root: str

    @property
    def failing(self) -> tuple[Finding, ...]:
        bad = {MISMATCH, UNKNOWN} if self.strict else {MISMATCH}
        return tuple(f for f in self.findings if f.status in bad)

    @property
    def ok(self) -> bool:
        return not self.failing

    def to_json(self) -> dict[str, object]:
        counts = {status: sum(1 for f in self.findings if f.status == status)
                  for status in (OK, MISMATCH, UNKNOWN, INFO)}
        return {"version": JSON_VERSION, "ok": self.ok, "strict": self.strict, "enforce": self.enforce,
                "root": self.root, "summary": counts, "findings": [asdict(f) for f in self.findings]}


def _shown(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _switch(check: str, subject: str, wanted: str, actual: bool | None, hint: str) -> Finding:
    if wanted == "any":
        return Finding(check, subject, INFO, "any", _shown(actual))
    if actual is None:
        return Finding(check, subject, UNKNOWN, wanted, "unknown", hint)
    return Finding(check, subject, OK if _shown(actual) == wanted else MISMATCH, wanted, _shown(actual), hint)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


# ---------------------------------------------------------------- CPU


def cpu_findings(settings: RunnerSettings, facts: HostFacts) -> list[Finding]:
    cpu = facts.cpu
    findings: list[Finding] = []
    if settings.governor:
        governors = cpu.governors
        hint = (f"echo {settings.governor} | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor "
                f"({SETUP_HINT})")
        if not governors or all(g is None for _, g in governors):
            findings.append(Finding("cpu.governor", "all CPUs", UNKNOWN, settings.governor,
                                    "unknown (no cpufreq in /sys: a VM or container hides it)", hint))
        else:
            wrong = [(c, g) for c, g in governors if g != settings.governor]
            if not wrong:
                findings.append(Finding("cpu.governor", f"all {len(governors)} CPUs", OK, settings.governor,
                                        settings.governor))
            for cpu_index, governor in wrong:
                findings.append(Finding("cpu.governor", f"cpu{cpu_index}", MISMATCH if governor else UNKNOWN,
                                        settings.governor, _shown(governor), hint))
    findings.append(_switch("cpu.turbo", "CPU", settings.turbo, cpu.turbo,
                            "intel_pstate: /sys/devices/system/cpu/intel_pstate/no_turbo; "
                            "others: /sys/devices/system/cpu/cpufreq/boost"))
    smt_actual = cpu.smt
    smt = _switch("cpu.smt", "CPU", settings.smt, smt_actual,
                  "echo on|off | sudo tee /sys/devices/system/cpu/smt/control")
    if cpu.smt_control and smt.actual != "unknown":
        smt = Finding(smt.check, smt.subject, smt.status, smt.expected, f"{smt.actual} (control: {cpu.smt_control})",
                      smt.hint)
    findings.append(smt)
    if settings.hugepages:
        pages = cpu.nr_hugepages
        hint = f"sudo sysctl -w vm.nr_hugepages={settings.hugepages} ({SETUP_HINT} and a sysctl drop-in)"
        status = UNKNOWN if pages is None else OK if pages >= settings.hugepages else MISMATCH
        findings.append(Finding("cpu.hugepages", "vm.nr_hugepages", status, f">= {settings.hugepages}",
                                _shown(pages), hint))
    else:
        findings.append(Finding("cpu.hugepages", "vm.nr_hugepages", INFO, "any", _shown(cpu.nr_hugepages)))
    thp = cpu.transparent_hugepages
    if settings.transparent_hugepages == "any":
        findings.append(Finding("cpu.thp", "transparent_hugepage", INFO, "any", _shown(thp)))
    else:
        status = UNKNOWN if thp is None else OK if thp == settings.transparent_hugepages else MISMATCH
        findings.append(Finding("cpu.thp", "transparent_hugepage", status, settings.transparent_hugepages,
                                _shown(thp), f"echo {settings.transparent_hugepages} | sudo tee "
                                "/sys/kernel/mm/transparent_hugepage/enabled"))
    if settings.numa_nodes:
        nodes = cpu.numa_nodes
        status = UNKNOWN if nodes is None else OK if nodes == settings.numa_nodes else MISMATCH
        findings.append(Finding("cpu.numa", "NUMA nodes", status, str(settings.numa_nodes), _shown(nodes),
                                "check the BIOS NUMA setting (nodes per socket) or `numa-nodes` in the configuration"))
    else:
        findings.append(Finding("cpu.numa", "NUMA nodes", INFO, "any", _shown(cpu.numa_nodes)))
    return findings


# ---------------------------------------------------------------- GPU


def minimum_driver(settings: RunnerSettings, nvcc_version: str | None) -> tuple[str | None, str]:
    """(lowest driver version, where the number comes from)."""
    if settings.min_driver:
        return settings.min_driver, "min-driver"
    if nvcc_version is None:
        return None, "no CUDA toolkit found"
    major = _version(nvcc_version)[0]
    known = MIN_DRIVER_FOR_CUDA.get(major)
    if known is None:
        return None, f"CUDA {nvcc_version}: minimum driver not known"
    return known, f"CUDA {nvcc_version} toolkit"


def _gpu_subject(gpu: Gpu) -> str:
    return f"gpu{gpu.index} ({gpu.name})"


def _clock_finding(check: str, subject: str, wanted: int, actual: int | None, hint: str, tolerance: int) -> Finding:
    if actual is None:
        return Finding(check, subject, UNKNOWN, f"{wanted} MHz", "unknown", hint)
    status = OK if abs(actual - wanted) <= tolerance else MISMATCH
    return Finding(check, subject, status, f"{wanted} MHz", f"{actual} MHz", hint)


def gpu_findings(settings: RunnerSettings, facts: HostFacts) -> list[Finding]:
    inventory = facts.gpu
    if not inventory.available:
        return [Finding("gpu.nvml", "GPUs", UNKNOWN, "NVIDIA driver and GPUs", inventory.reason or "no GPU",
                        "install the NVIDIA driver and nvidia-ml-py; `pipeline gpu info` shows what NVML sees")]
    findings: list[Finding] = []
    minimum, origin = minimum_driver(settings, facts.nvcc_version)
    driver = inventory.driver_version
    if minimum is None or driver is None:
        findings.append(Finding("gpu.driver", "NVIDIA driver", UNKNOWN, f">= ? ({origin})", _shown(driver),
                                "set `min-driver` in [workspace.metadata.pipeline.runner], or install the toolkit"))
    else:
        status = OK if _version(driver) >= _version(minimum) else MISMATCH
        findings.append(Finding("gpu.driver", "NVIDIA driver", status, f">= {minimum} ({origin})", driver,
                                "upgrade the NVIDIA driver (or use an older CUDA toolkit)"))
    for gpu in inventory.gpus:
        findings += _one_gpu(settings, gpu)
    return findings


def _one_gpu(settings: RunnerSettings, gpu: Gpu) -> list[Finding]:
    subject = _gpu_subject(gpu)
    state = gpu.state
    findings: list[Finding] = []
    if settings.persistence:
        findings.append(_switch("gpu.persistence", subject, "on", gpu.persistence_mode,
                                f"sudo nvidia-smi -i {gpu.index} -pm 1 ({SETUP_HINT})"))
    else:
        findings.append(Finding("gpu.persistence", subject, INFO, "any", _shown(gpu.persistence_mode)))
    configured = settings.clocks_for(gpu.name)
    if configured is None:
        findings.append(Finding(
            "gpu.clocks", subject, INFO, "not configured",
            f"graphics {_shown(state.graphics_clock_mhz)}/{_shown(state.max_graphics_clock_mhz)} MHz, memory "
            f"{_shown(state.memory_clock_mhz)}/{_shown(state.max_memory_clock_mhz)} MHz (current/max), application "
            f"{_shown(state.app_graphics_clock_mhz)}/{_shown(state.app_memory_clock_mhz)} MHz",
            f'lock them with [workspace.metadata.pipeline.runner.clocks."{gpu.name}"] graphics = N',
        ))
    else:
        model, clocks = configured
        where = f' ([...runner.clocks."{model}"])'
        if clocks.graphics:
            findings.append(_clock_finding(
                "gpu.locked-graphics", subject, clocks.graphics, state.graphics_clock_mhz,
                f"sudo nvidia-smi -i {gpu.index} -lgc {clocks.graphics},{clocks.graphics}{where}; NVML shows a lock "
                "only as the current clock", CLOCK_TOLERANCE_MHZ))
        if clocks.memory:
            findings.append(_clock_finding(
                "gpu.locked-memory", subject, clocks.memory, state.memory_clock_mhz,
                f"sudo nvidia-smi -i {gpu.index} -lmc {clocks.memory},{clocks.memory}{where}", CLOCK_TOLERANCE_MHZ))
        if clocks.application_graphics:
            hint = (f"sudo nvidia-smi -i {gpu.index} -ac {clocks.application_memory},{clocks.application_graphics}"
                    f"{where}")
            findings.append(_clock_finding("gpu.app-graphics", subject, clocks.application_graphics,
                                           state.app_graphics_clock_mhz, hint, 0))
            findings.append(_clock_finding("gpu.app-memory", subject, clocks.application_memory,
                                           state.app_memory_clock_mhz, hint, 0))
    findings.append(_switch("gpu.ecc", subject, settings.ecc, state.ecc_enabled,
                            f"sudo nvidia-smi -i {gpu.index} -e {1 if settings.ecc == 'on' else 0} (takes effect at "
                            "the next reboot)"))
    findings.append(_switch("gpu.mig", subject, settings.mig, state.mig_enabled,
                            f"sudo nvidia-smi -i {gpu.index} -mig {1 if settings.mig == 'on' else 0} (no process may "
                            "use the GPU meanwhile)"))
    findings += _pcie(settings, subject, gpu)
    temperature = state.temperature_c
    status = UNKNOWN if temperature is None else OK if temperature <= settings.max_temperature else MISMATCH
    findings.append(Finding("gpu.temperature", subject, status, f"<= {settings.max_temperature} C",
                            "unknown" if temperature is None else f"{temperature} C",
                            "check the cooling (fans, airflow) and what else runs on the GPU (`nvidia-smi`)"))
    reasons = state.clock_event_reasons
    if reasons is None:
        findings.append(Finding("gpu.throttle", subject, UNKNOWN, "none outside throttle-allowed", "unknown",
                                "NVML does not report clock event reasons for this GPU"))
    else:
        bad = [r for r in reasons if r not in settings.throttle_allowed]
        findings.append(Finding("gpu.throttle", subject, MISMATCH if bad else OK, "none outside throttle-allowed",
                                ", ".join(reasons) or "none",
                                "thermal or power slowdown: check cooling and power (`nvidia-smi -q -d PERFORMANCE`)"))
    return findings


def _pcie(settings: RunnerSettings, subject: str, gpu: Gpu) -> list[Finding]:
    state = gpu.state
    findings = []
    gen = f"gen {_shown(state.pcie_gen)} (max {_shown(state.pcie_gen_max)})"
    if settings.pcie_min_gen:
        status = UNKNOWN if state.pcie_gen is None else OK if state.pcie_gen >= settings.pcie_min_gen else MISMATCH
        findings.append(Finding("gpu.pcie-gen", subject, status, f">= gen {settings.pcie_min_gen}", gen,
                                "reseat the card or check the slot and BIOS PCIe settings"))
    else:
        findings.append(Finding("gpu.pcie-gen", subject, INFO, "any (an idle GPU lowers it)", gen))
    width = f"x{_shown(state.pcie_width)} (max x{_shown(state.pcie_width_max)})"
    if settings.pcie_full_width:
        if state.pcie_width is None or state.pcie_width_max is None:
            findings.append(Finding("gpu.pcie-width", subject, UNKNOWN, "full width", width, ""))
        else:
            status = OK if state.pcie_width >= state.pcie_width_max else MISMATCH
            findings.append(Finding("gpu.pcie-width", subject, status, f"x{state.pcie_width_max}", width,
                                    "the card runs on fewer lanes: check the slot, riser and BIOS bifurcation"))
    else:
        findings.append(Finding("gpu.pcie-width", subject, INFO, "any", width))
    return findings


# ---------------------------------------------------------------- disk and tools


def disk_findings(settings: RunnerSettings, disks: Iterable[DiskFacts]) -> list[Finding]:
    findings = []
    want = f">= {settings.min_free_gib:g} GiB free"
    for disk in disks:
        subject = f"{disk.label} ({disk.path})"
        if disk.free_bytes is None:
            findings.append(Finding("disk.free", subject, UNKNOWN, want, "unknown", "check that the path is readable"))
            continue
        free = disk.free_bytes / GIB
        status = OK if free >= settings.min_free_gib else MISMATCH
        findings.append(Finding("disk.free", subject, status, want, f"{free:.1f} GiB free on {disk.measured_at}",
                                "free space (`cargo clean`, prune old caches) or lower `min-free-gib`"))
    return findings


TOOL_HINTS = {
    "nvidia-smi": "install the NVIDIA driver's utilities (nvidia-utils)",
    "nvcc": "install the CUDA toolkit and set CUDA_HOME, or put nvcc on PATH",
    "perf": "apt-get install linux-perf (Debian) or linux-tools-$(uname -r) (Ubuntu)",
    "nsys": "install Nsight Systems (cuda-nsight-systems or the CUDA toolkit) and put nsys on PATH",
    "ncu": "install Nsight Compute (cuda-nsight-compute or the CUDA toolkit) and put ncu on PATH",
}


def tool_findings(settings: RunnerSettings, facts: HostFacts) -> list[Finding]:
    findings = []
    for tool in facts.tools:
        required = tool.name in settings.tools
        if tool.path is not None:
            version = f" {facts.nvcc_version}" if tool.name == "nvcc" and facts.nvcc_version else ""
            findings.append(Finding("tool", tool.name, OK if required else INFO,
                                    "installed" if required else "optional", f"{tool.path}{version}"))
        else:
            findings.append(Finding("tool", tool.name, MISMATCH if required else INFO,
                                    "installed" if required else "optional", "missing", TOOL_HINTS[tool.name]))
    return findings


def check(settings: RunnerSettings, facts: HostFacts) -> Report:
    findings = [*cpu_findings(settings, facts), *gpu_findings(settings, facts),
                *disk_findings(settings, facts.disks), *tool_findings(settings, facts)]
    return Report(tuple(findings), settings.strict, settings.enforce, facts.root)


def summary_line(report: Report) -> str:
    counts = report.to_json()["summary"]
    assert isinstance(counts, dict)
    verdict = "ok" if report.ok else f"{len(report.failing)} problem(s)"
    return (f"runner check: {verdict} ({counts[OK]} ok, {counts[MISMATCH]} mismatch, {counts[UNKNOWN]} unknown, "
            f"{counts[INFO]} info)")
