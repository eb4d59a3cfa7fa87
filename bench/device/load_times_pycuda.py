"""Load each CUDA image in a fresh context and time cuModuleLoadData; launch saxpy where present.

Run once per CUDA_FORCE_PTX_JIT setting (each in a new process, CUDA_CACHE_DISABLE=1 so a JIT is
really a JIT). Prints one JSON document.
"""
import json
import os
import sys
import time

import numpy as np
import pycuda.driver as cuda

cuda.init()
ctx = cuda.Device(0).make_context()
out = {"CUDA_FORCE_PTX_JIT": os.environ.get("CUDA_FORCE_PTX_JIT"), "device": cuda.Device(0).name(),
       "cc": "{}.{}".format(*cuda.Device(0).compute_capability()), "images": {}}
entries = {"saxpy": "saxpy", "reduce": "reduce_sum", "stencil": "stencil3"}
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    name = os.path.basename(path)
    rec = {"bytes": len(data)}
    t0 = time.perf_counter()
    try:
        mod = cuda.module_from_buffer(data)
        rec["load_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        # A cubin cut out of a test binary carries no kernel name in its file name: try each entry.
        candidates = [v for k, v in entries.items() if name.startswith(k)] or list(entries.values())
        for kernel in candidates:
            try:
                fn = mod.get_function(kernel)
                break
            except cuda.LogicError:
                continue
        rec["entry"] = kernel
        rec["regs"] = fn.get_attribute(cuda.function_attribute.NUM_REGS)
        rec["binary_version"] = fn.get_attribute(cuda.function_attribute.BINARY_VERSION)
        rec["ptx_version"] = fn.get_attribute(cuda.function_attribute.PTX_VERSION)
        if kernel == "saxpy":
            n = 1 << 20
            x = np.random.rand(n).astype(np.float32)
            y = np.random.rand(n).astype(np.float32)
            want = 2.0 * x + y
            fn(np.int32(n), np.float32(2.0), cuda.In(x), cuda.InOut(y), block=(256, 1, 1), grid=((n + 255) // 256, 1))
            rec["saxpy_max_rel_err"] = float(np.max(np.abs(y - want) / np.maximum(np.abs(want), 1e-6)))
    except Exception as exc:  # noqa: BLE001 - report, don't stop: a PTX-only image for a newer arch must fail here
        rec["error"] = f"{type(exc).__name__}: {exc}"
        rec["load_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    out["images"][name] = rec
ctx.pop()
print(json.dumps(out, indent=1))
