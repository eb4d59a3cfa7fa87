"""Helpers for the CUDA and GPU tests: a fake ``pynvml`` (the one mocked boundary) and kernel workspaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _have_nvcc() -> bool:
    from pipeline.cuda.toolkit import find_cuda_tool
    from pipeline.foundation.errors import PipelineError

    try:
        find_cuda_tool("nvcc")
    except PipelineError:
        return False
    return True


HAVE_NVCC = _have_nvcc()
NVCC_MISSING = "needs the CUDA toolkit's nvcc"

# A stand-in for nvidia-ml-py's module, driven by $FAKE_NVML (JSON) so real child processes use it too.
FAKE_PYNVML = r'''
"""Fake pynvml for tests: GPUs from $FAKE_NVML (JSON), or a failing nvmlInit when it says so."""
import json, os

class NVMLError(Exception):
    pass

def _state():
    return json.loads(os.environ.get("FAKE_NVML", '{"fail": "NVML Shared Library Not Found"}'))

class _Memory:
    def __init__(self, total, used):
        self.total, self.used, self.free = total, used, total - used

def nvmlInit():
    if _state().get("fail"):
        raise NVMLError(_state()["fail"])

def nvmlShutdown():
    pass

def nvmlSystemGetDriverVersion():
    return _state().get("driver", "580.159.04")

def nvmlSystemGetCudaDriverVersion():
    return _state().get("cuda", 13000)

def nvmlSystemGetNVMLVersion():
    return "13.580.159.04"

def nvmlDeviceGetCount():
    return len(_state().get("gpus", []))

def nvmlDeviceGetHandleByIndex(index):
    return _state()["gpus"][index]

def nvmlDeviceGetUUID(handle):
    return handle["uuid"]

def nvmlDeviceGetName(handle):
    return handle.get("name", "NVIDIA H200").encode()

def nvmlDeviceGetCudaComputeCapability(handle):
    return tuple(handle.get("cc", [9, 0]))

def nvmlDeviceGetMemoryInfo(handle):
    return _Memory(handle.get("memory", 150754820096), 1 << 20)

def nvmlDeviceGetPersistenceMode(handle):
    if "persistence" not in handle:
        raise NVMLError("Not Supported")
    return handle["persistence"]

# The runner-check fields: each from handle[key] ([graphics, memory] for clocks, [current, pending] for
# modes), NVMLError "Not Supported" where the key is absent (a GeForce card has no ECC, MIG...).
def _field(handle, key):
    if key not in handle:
        raise NVMLError("Not Supported")
    return handle[key]

def _clock(handle, key, clock_type):
    return _field(handle, key)[{0: 0, 2: 1}[clock_type]]

def nvmlDeviceGetClockInfo(handle, clock_type):
    return _clock(handle, "clocks", clock_type)

def nvmlDeviceGetApplicationsClock(handle, clock_type):
    return _clock(handle, "app_clocks", clock_type)

def nvmlDeviceGetMaxClockInfo(handle, clock_type):
    return _clock(handle, "max_clocks", clock_type)

def nvmlDeviceGetEccMode(handle):
    return tuple(_field(handle, "ecc"))

def nvmlDeviceGetMigMode(handle):
    return tuple(_field(handle, "mig"))

def nvmlDeviceGetCurrPcieLinkGeneration(handle):
    return _field(handle, "pcie")[0]

def nvmlDeviceGetMaxPcieLinkGeneration(handle):
    return _field(handle, "pcie")[1]

def nvmlDeviceGetCurrPcieLinkWidth(handle):
    return _field(handle, "pcie")[2]

def nvmlDeviceGetMaxPcieLinkWidth(handle):
    return _field(handle, "pcie")[3]

def nvmlDeviceGetTemperature(handle, sensor):
    return _field(handle, "temperature")

def nvmlDeviceGetCurrentClocksEventReasons(handle):
    return _field(handle, "reasons")
'''


def fake_gpus(count: int, cc: tuple[int, int] = (9, 0), **extra: object) -> str:
    """$FAKE_NVML for ``count`` GPUs."""
    gpus = [{"uuid": f"GPU-fake{i:04d}-0000-0000-0000-000000000000", "cc": list(cc), "persistence": 1}
            for i in range(count)]
    return json.dumps({"gpus": gpus, **extra})


def write_fake_pynvml(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pynvml.py").write_text(FAKE_PYNVML)
    return directory


def fake_pynvml_module() -> types.ModuleType:
    module = types.ModuleType("pynvml")
    exec(compile(FAKE_PYNVML, "<fake pynvml>", "exec"), module.__dict__)
    return module


def pipeline_env(fake_dir: Path | None, fake_nvml: str | None, **extra: str) -> dict[str, str]:
    """Environment for a child `python -m pipeline` using this checkout (and the fake NVML when given)."""
    env = dict(os.environ)
    paths = [str(REPO)]
    if fake_dir is not None:
        paths.insert(0, str(fake_dir))
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if fake_nvml is not None:
        env["FAKE_NVML"] = fake_nvml
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.update(extra)
    return env


def run_pipeline(args: list[str], *, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], env=env, cwd=cwd or REPO,
                          capture_output=True, text=True)


KERNEL_TEMPLATE = """// generated kernel {index}
#include "{header}"

extern "C" __global__ void k{index}(int n, const float* in, float* out) {{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {{
        out[i] = SCALE_{hname}(in[i]) + {index}.0f;
    }}
}}
"""

HEADER_TEMPLATE = """#pragma once
#define SCALE_{hname}(x) ((x) * {factor}.0f)
"""


def kernel_workspace(root: Path, kernels: int = 3, headers: int = 2, config: str = "") -> Path:
    """A one-crate workspace whose crate holds ``kernels`` .cu files; kernel i includes header i % headers."""
    crate = root / "crates" / "gpu-kernels"
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "kernels").mkdir(exist_ok=True)
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n\n[workspace.package]\nversion = "0.1.0"\n'
        'edition = "2021"\n' + config
    )
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "gpu-kernels"\nversion.workspace = true\nedition.workspace = true\n'
    )
    (crate / "src" / "lib.rs").write_text("")
    for h in range(headers):
        (crate / "kernels" / f"h{h}.cuh").write_text(HEADER_TEMPLATE.format(hname=f"H{h}", factor=h + 2))
    for i in range(kernels):
        h = i % headers
        (crate / "kernels" / f"k{i}.cu").write_text(
            KERNEL_TEMPLATE.format(index=i, header=f"h{h}.cuh", hname=f"H{h}")
        )
    return root
