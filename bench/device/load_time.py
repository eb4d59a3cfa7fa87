"""Load every fatbin of a `pipeline cuda` output directory on GPU 0 with the CUDA driver API (ctypes, no
dependencies) and print how long cuModuleLoadData takes: run it with CUDA_FORCE_PTX_JIT=0 (the SASS for
this GPU is used) and =1 (the driver JIT-compiles the embedded PTX) to see what the PTX fallback costs.

    python load_time.py DIR [--repeat N]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time
from pathlib import Path


def _check(lib: ctypes.CDLL, code: int, what: str) -> None:
    if code != 0:
        name = ctypes.c_char_p()
        lib.cuGetErrorName(code, ctypes.byref(name))
        raise SystemExit(f"{what} failed: {code} {name.value.decode() if name.value else ''}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    fatbins = sorted(args.dir.glob("*.fatbin"))
    if not fatbins:
        print(f"no .fatbin in {args.dir}", file=sys.stderr)
        return 2
    lib = ctypes.CDLL("libcuda.so.1")
    _check(lib, lib.cuInit(0), "cuInit")
    device = ctypes.c_int()
    _check(lib, lib.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.cuDeviceGetAttribute(ctypes.byref(major), 75, device)  # COMPUTE_CAPABILITY_MAJOR
    lib.cuDeviceGetAttribute(ctypes.byref(minor), 76, device)  # COMPUTE_CAPABILITY_MINOR
    context = ctypes.c_void_p()
    _check(lib, lib.cuDevicePrimaryCtxRetain(ctypes.byref(context), device), "cuDevicePrimaryCtxRetain")
    _check(lib, lib.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    jit = os.environ.get("CUDA_FORCE_PTX_JIT", "0")
    print(f"GPU 0: sm_{major.value}{minor.value}; CUDA_FORCE_PTX_JIT={jit}")
    for path in fatbins:
        data = path.read_bytes()
        times = []
        for _ in range(args.repeat):
            module = ctypes.c_void_p()
            started = time.perf_counter()
            _check(lib, lib.cuModuleLoadData(ctypes.byref(module), data), f"cuModuleLoadData({path.name})")
            times.append(time.perf_counter() - started)
            _check(lib, lib.cuModuleUnload(module), "cuModuleUnload")
        print(f"{path.name}: first {times[0] * 1e3:.2f} ms, median {statistics.median(times) * 1e3:.2f} ms "
              f"over {args.repeat}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
