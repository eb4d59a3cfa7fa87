"""GPU inventory through NVML (`nvidia-ml-py`, imported as ``pynvml`` only when asked).

The one boundary of the GPU code with the driver: everything above takes an
:class:`Inventory` (plain data), so tests replace ``pynvml`` with a fake
module and nothing else. No library, no driver or no GPU is an explicit
result with the reason, never an exception.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from dataclasses import dataclass, field
from typing import Any

NO_GPU = "no NVIDIA driver/GPU"

# NVML's clock types and temperature sensor (nvmlClockType_t, nvmlTemperatureSensors_t), as numbers so the
# fake bindings in the tests need no constants.
_CLOCK_GRAPHICS = 0
_CLOCK_MEM = 2
_TEMPERATURE_GPU = 0
# nvmlClocksEventReason* bits (called throttle reasons before driver 535), by the names `runner check` uses.
CLOCK_EVENT_REASONS: dict[int, str] = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}


def reason_names(mask: int) -> tuple[str, ...]:
    """Names of the set bits; a bit this table does not know keeps its hex value."""
    names = []
    bit = 1
    while bit <= mask:
        if mask & bit:
            names.append(CLOCK_EVENT_REASONS.get(bit, f"0x{bit:x}"))
        bit <<= 1
    return tuple(names)


@dataclass(frozen=True)
class GpuState:
    """What `pipeline runner check` compares per GPU; None: NVML cannot say (old GPU, GeForce, MIG...)."""

    graphics_clock_mhz: int | None = None  # current; a `-lgc` lock shows here (NVML has no getter for the lock)
    memory_clock_mhz: int | None = None
    app_graphics_clock_mhz: int | None = None  # application clocks (`nvidia-smi -ac`)
    app_memory_clock_mhz: int | None = None
    max_graphics_clock_mhz: int | None = None
    max_memory_clock_mhz: int | None = None
    ecc_enabled: bool | None = None
    mig_enabled: bool | None = None
    pcie_gen: int | None = None
    pcie_gen_max: int | None = None
    pcie_width: int | None = None
    pcie_width_max: int | None = None
    temperature_c: int | None = None
    clock_event_reasons: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.clock_event_reasons is not None:
            data["clock_event_reasons"] = list(self.clock_event_reasons)
        return data


@dataclass(frozen=True)
class Gpu:
    index: int
    uuid: str
    name: str
    compute_capability: str  # "9.0"
    memory_total_mib: int
    memory_used_mib: int | None
    persistence_mode: bool | None
    state: GpuState = field(default_factory=GpuState)

    @property
    def arch(self) -> str:
        """``sm_90`` for compute capability 9.0."""
        major, _, minor = self.compute_capability.partition(".")
        return f"sm_{major}{minor}"


@dataclass(frozen=True)
class Inventory:
    available: bool
    reason: str | None = None  # why no GPU is usable, when not available
    driver_version: str | None = None
    cuda_driver_version: str | None = None  # "13.0": the newest CUDA the driver supports
    nvml_version: str | None = None
    gpus: tuple[Gpu, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "reason": self.reason,
            "driver_version": self.driver_version,
            "cuda_driver_version": self.cuda_driver_version,
            "nvml_version": self.nvml_version,
            "gpus": [
                {
                    "index": g.index,
                    "uuid": g.uuid,
                    "name": g.name,
                    "compute_capability": g.compute_capability,
                    "arch": g.arch,
                    "memory_total_mib": g.memory_total_mib,
                    "memory_used_mib": g.memory_used_mib,
                    "persistence_mode": g.persistence_mode,
                    "state": g.state.to_json(),
                }
                for g in self.gpus
            ],
        }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _cuda_version(code: int) -> str:
    """NVML's 13000 -> "13.0", 12080 -> "12.8"."""
    return f"{code // 1000}.{(code % 1000) // 10}"


def _optional(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except Exception:  # noqa: BLE001 - a field NVML cannot give (old GPU, MIG...) stays unknown
        return None


def read_inventory() -> Inventory:
    """What NVML sees now; never raises."""
    try:
        pynvml = importlib.import_module("pynvml")
    except ImportError as exc:
        return Inventory(False, f"{NO_GPU}: NVML bindings not importable ({exc}); install nvidia-ml-py")
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return Inventory(False, f"{NO_GPU}: NVML could not start ({_text(exc) or type(exc).__name__})")
    try:
        return _query(pynvml)
    except Exception as exc:  # noqa: BLE001 - a driver in a bad state must not crash doctor
        return Inventory(False, f"{NO_GPU}: NVML query failed ({_text(exc) or type(exc).__name__})")
    finally:
        _optional(pynvml.nvmlShutdown)


def _query(pynvml: Any) -> Inventory:
    driver = _text(pynvml.nvmlSystemGetDriverVersion())
    cuda_code = _optional(pynvml.nvmlSystemGetCudaDriverVersion)
    nvml_version = _optional(pynvml.nvmlSystemGetNVMLVersion)
    gpus = []
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
        memory = _optional(pynvml.nvmlDeviceGetMemoryInfo, handle)
        persistence = _optional(pynvml.nvmlDeviceGetPersistenceMode, handle)
        gpus.append(
            Gpu(
                index=index,
                uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
                name=_text(pynvml.nvmlDeviceGetName(handle)),
                compute_capability=f"{major}.{minor}",
                memory_total_mib=int(memory.total) // (1024 * 1024) if memory is not None else 0,
                memory_used_mib=int(memory.used) // (1024 * 1024) if memory is not None else None,
                persistence_mode=None if persistence is None else bool(persistence),
                state=_state(pynvml, handle),
            )
        )
    if not gpus:
        return Inventory(
            False, f"{NO_GPU}: the driver ({driver}) sees no GPU", driver,
            _cuda_version(cuda_code) if cuda_code else None, _text(nvml_version) if nvml_version else None,
        )
    return Inventory(
        True, None, driver, _cuda_version(cuda_code) if cuda_code else None,
        _text(nvml_version) if nvml_version else None, tuple(gpus),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _mode(pair: Any) -> bool | None:
    """ECC and MIG modes come as (current, pending): the current one counts."""
    if pair is None:
        return None
    current = pair[0] if isinstance(pair, (tuple, list)) else pair
    return bool(current)


def _state(pynvml: Any, handle: Any) -> GpuState:
    def call(name: str, *args: Any) -> Any:
        # Older bindings lack some functions: unknown, like a field the GPU does not support.
        return _optional(getattr(pynvml, name, None), handle, *args)

    reasons = call("nvmlDeviceGetCurrentClocksEventReasons")
    if reasons is None:
        reasons = call("nvmlDeviceGetCurrentClocksThrottleReasons")  # drivers before 535
    return GpuState(
        graphics_clock_mhz=_int(call("nvmlDeviceGetClockInfo", _CLOCK_GRAPHICS)),
        memory_clock_mhz=_int(call("nvmlDeviceGetClockInfo", _CLOCK_MEM)),
        app_graphics_clock_mhz=_int(call("nvmlDeviceGetApplicationsClock", _CLOCK_GRAPHICS)),
        app_memory_clock_mhz=_int(call("nvmlDeviceGetApplicationsClock", _CLOCK_MEM)),
        max_graphics_clock_mhz=_int(call("nvmlDeviceGetMaxClockInfo", _CLOCK_GRAPHICS)),
        max_memory_clock_mhz=_int(call("nvmlDeviceGetMaxClockInfo", _CLOCK_MEM)),
        ecc_enabled=_mode(call("nvmlDeviceGetEccMode")),
        mig_enabled=_mode(call("nvmlDeviceGetMigMode")),
        pcie_gen=_int(call("nvmlDeviceGetCurrPcieLinkGeneration")),
        pcie_gen_max=_int(call("nvmlDeviceGetMaxPcieLinkGeneration")),
        pcie_width=_int(call("nvmlDeviceGetCurrPcieLinkWidth")),
        pcie_width_max=_int(call("nvmlDeviceGetMaxPcieLinkWidth")),
        temperature_c=_int(call("nvmlDeviceGetTemperature", _TEMPERATURE_GPU)),
        clock_event_reasons=None if reasons is None else reason_names(int(reasons)),
    )


def visible(inventory: Inventory, cuda_visible_devices: str | None = None) -> tuple[Gpu, ...]:
    """The GPUs this process may use: all, or those $CUDA_VISIBLE_DEVICES names (index or UUID).

    A CI runner that already restricts a job to some GPUs keeps that restriction
    for leases and the smoke test.
    """
    value = os.environ.get("CUDA_VISIBLE_DEVICES") if cuda_visible_devices is None else cuda_visible_devices
    if value is None:
        return inventory.gpus
    chosen = []
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        for gpu in inventory.gpus:
            if item == str(gpu.index) or gpu.uuid == item or (item.startswith("GPU-") and gpu.uuid.startswith(item)):
                if gpu not in chosen:
                    chosen.append(gpu)
                break
        else:
            break  # CUDA stops at the first invalid entry
    return tuple(chosen)


def local_archs() -> list[str]:
    """The architectures of the GPUs this process may use (``CUDA_VISIBLE_DEVICES``); [] without a driver."""
    inventory = read_inventory()
    return [gpu.arch for gpu in visible(inventory)] if inventory.available else []
