"""``pipeline gpu smoke``: load every fatbin on every visible GPU and launch the smoke cases (pycuda).

pycuda (optional extra ``gpu``) is imported only here, and only when a GPU is
there to use. The checks need plain data (the manifest, the settings); what
pycuda returns is reduced to a report of plain dataclasses.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.gpu.linear import parse_linear
from pipeline.gpu.nvml import Inventory
from pipeline.gpu.settings import SmokeCase

PYCUDA_HINT = (
    "install the optional extra: pip install 'cargo-gpu-pipeline[gpu]' (pycuda builds against the CUDA toolkit)"
)


@dataclass
class ModuleCheck:
    module: str
    ok: bool
    kernels: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class CaseCheck:
    kernel: str
    module: str
    ok: bool
    n: int
    grid: int
    block: int
    max_error: float | None = None
    error: str | None = None


@dataclass
class DeviceReport:
    ordinal: int
    name: str
    arch: str
    pci_bus_id: str
    modules: list[ModuleCheck] = field(default_factory=list)
    cases: list[CaseCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.modules) and all(c.ok for c in self.cases)


@dataclass
class SmokeReport:
    status: str  # "passed" | "failed" | "skipped"
    reason: str | None = None
    devices: list[DeviceReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "devices": [{**asdict(d), "ok": d.ok} for d in self.devices],
        }


def _import_pycuda() -> Any:
    return importlib.import_module("pycuda.driver")


def plan_problems(manifest: dict[str, Any], cases: Sequence[SmokeCase]) -> list[str]:
    """Smoke cases that name a module or kernel the manifest does not have (checked before any GPU work)."""
    modules = {k["name"]: k for k in manifest.get("kernels", [])}
    problems = []
    for case in cases:
        kernel = modules.get(case.module_name)
        if kernel is None:
            problems.append(f"smoke case {case.kernel!r}: no kernel file {case.module_name!r} in the manifest "
                            f"(known: {', '.join(sorted(modules)) or 'none'})")
        elif case.kernel not in kernel.get("entries", []):
            problems.append(f"smoke case {case.kernel!r}: {case.module_name}.fatbin has no extern \"C\" kernel "
                            f"{case.kernel!r} (it has {', '.join(kernel.get('entries', [])) or 'none'})")
    return problems


def run_smoke(manifest: dict[str, Any], out_dir: Path, cases: Sequence[SmokeCase], inventory: Inventory) -> SmokeReport:
    if not inventory.available:
        return SmokeReport("skipped", inventory.reason)
    try:
        cuda = _import_pycuda()
    except ImportError as exc:
        return SmokeReport("skipped", f"pycuda is not importable ({exc}); {PYCUDA_HINT}")
    try:
        cuda.init()
        count = cuda.Device.count()
    except Exception as exc:  # noqa: BLE001 - pycuda.driver.Error and friends: report, don't crash
        return SmokeReport("failed", f"CUDA driver initialisation failed: {exc}")
    if count == 0:
        return SmokeReport("skipped", "no NVIDIA driver/GPU: CUDA sees no device (check CUDA_VISIBLE_DEVICES)")
    devices = []
    for ordinal in range(count):
        try:
            devices.append(_check_device(cuda, ordinal, manifest, out_dir, cases))
        except Exception as exc:  # noqa: BLE001 - a GPU the driver cannot open (busy in exclusive mode, ECC, OOM)
            failed = DeviceReport(ordinal, "?", "?", "?")
            failed.modules.append(ModuleCheck("(CUDA context)", False, error=f"GPU {ordinal} unusable: {exc}"))
            devices.append(failed)
    return SmokeReport("passed" if all(d.ok for d in devices) else "failed", None, devices)


def _check_device(cuda: Any, ordinal: int, manifest: dict[str, Any], out_dir: Path,
                  cases: Sequence[SmokeCase]) -> DeviceReport:
    device = cuda.Device(ordinal)
    major, minor = device.compute_capability()
    report = DeviceReport(ordinal, str(device.name()), f"sm_{major}{minor}", str(device.pci_bus_id()))
    context = device.make_context()
    try:
        loaded: dict[str, Any] = {}
        for kernel in manifest.get("kernels", []):
            if not kernel.get("fatbin"):  # a static-lib set's object: linked into the binary, not loaded
                continue
            check = ModuleCheck(kernel["fatbin"], True)
            try:
                module = cuda.module_from_buffer((out_dir / kernel["fatbin"]).read_bytes())
            except Exception as exc:  # noqa: BLE001 - e.g. no image for this architecture
                check.ok, check.error = False, f"load failed: {exc}"
                report.modules.append(check)
                continue
            loaded[kernel["name"]] = module
            for name in kernel.get("entries", []):
                try:
                    module.get_function(name)
                    check.kernels.append(name)
                except Exception as exc:  # noqa: BLE001
                    check.ok = False
                    check.error = f"kernel {name!r} not found: {exc}"
            report.modules.append(check)
        for case in cases:
            report.cases.append(_launch(cuda, context, loaded.get(case.module_name), case))
    finally:
        context.pop()
        context.detach()
    return report


def _launch(cuda: Any, context: Any, module: Any, case: SmokeCase) -> CaseCheck:
    import numpy as np

    grid = case.grid or math.ceil(case.n / case.block)
    check = CaseCheck(case.kernel, case.module_name, False, case.n, grid, case.block)
    if module is None:
        check.error = f"module {case.module_name!r} did not load"
        return check
    index = np.arange(case.n, dtype=np.float64)
    host = {}
    for name, expr in case.arrays.items():
        a, b = parse_linear(expr)
        host[name] = (a * index + b).astype(np.float32)
    buffers = {}
    try:
        for name, array in host.items():
            buffers[name] = cuda.mem_alloc(array.nbytes)
            cuda.memcpy_htod(buffers[name], array)
        scalars = {"i32": np.int32, "u32": np.uint32, "i64": np.int64, "f32": np.float32, "f64": np.float64}
        args: list[Any] = []
        for arg in case.args:
            if arg == "n":
                args.append(np.int32(case.n))
            elif arg.startswith("@"):
                args.append(buffers[arg[1:]])
            else:
                kind, _, value = arg.partition(":")
                args.append(scalars[kind](float(value) if kind.startswith("f") else int(value)))
        function = module.get_function(case.kernel)
        function(*args, block=(case.block, 1, 1), grid=(grid, 1))
        context.synchronize()
        worst = 0.0
        for name, expr in case.expect.items():
            out = np.empty_like(host[name])
            cuda.memcpy_dtoh(out, buffers[name])
            a, b = parse_linear(expr)
            expected = (a * index + b).astype(np.float32)
            scale = np.maximum(np.abs(expected), 1.0)
            worst = max(worst, float(np.max(np.abs(out - expected) / scale)))
        check.max_error = worst
        check.ok = worst <= case.tolerance
        if not check.ok:
            check.error = f"result differs from the expected values (max relative error {worst:g} > {case.tolerance:g})"
    except Exception as exc:  # noqa: BLE001 - a launch failure is a finding of the smoke test
        check.error = f"launch failed: {exc}"
    finally:
        for buffer in buffers.values():
            buffer.free()
    return check
