"""Benchmark of GPU test sharding (`pipeline test --gpu`): wall time on all GPUs vs on one GPU.

    python bench/bench_gpu_shard.py [--crates 8] [--seconds 2.0]
    python bench/bench_gpu_shard.py --emit-prebuilt DIR      # build the test binaries here (needs cargo)
    python bench/bench_gpu_shard.py --prebuilt DIR           # run them on a GPU machine without cargo

A generated workspace of N crates, each with one test that keeps a GPU busy for a known time: the
test starts a small pycuda program that spins one kernel on the GPU it was leased
(``clock64`` loop) for ``--seconds``. The test binaries come from
``cargo test --no-run --message-format=json``; they run through the same sharding code as
`pipeline test --gpu` (one worker per leased GPU, a shared queue), first restricted to one GPU,
then on every GPU. Target (issue 8): the speed-up is close to the GPU count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.cuda.toolkit import find_cuda_tool  # noqa: E402
from pipeline.gpu.nvml import read_inventory, visible  # noqa: E402
from pipeline.gpu.testing import TestBinary, parse_binaries, shard_and_run  # noqa: E402

TEST = """
#[test]
fn keeps_a_gpu_busy() {{
    let command = std::env::var("GPU_BUSY_CMD").expect("GPU_BUSY_CMD names the busy program");
    let parts: Vec<&str> = command.split_whitespace().collect();
    let status = std::process::Command::new(parts[0]).args(&parts[1..]).arg("crate-{index}")
        .status().expect("start the busy program");
    assert!(status.success(), "the GPU program failed");
}}
"""

SPIN = r"""
extern "C" __global__ void spin(long long cycles, int* done) {
    long long start = clock64();
    while (clock64() - start < cycles) { }
    done[0] = 1;
}
"""

BUSY = r"""
import os, sys, time
import numpy as np
import pycuda.driver as cuda
seconds, cubin, label = float(sys.argv[1]), sys.argv[2], sys.argv[3]
cuda.init()
device = cuda.Device(0)  # the one GPU of this lease (CUDA_VISIBLE_DEVICES holds its UUID)
context = device.make_context()
try:
    spin = cuda.module_from_file(cubin).get_function("spin")
    done = np.zeros(1, dtype=np.int32)
    cycles = int(seconds * device.get_attribute(cuda.device_attribute.CLOCK_RATE) * 1000)
    started = time.time()
    spin(np.int64(cycles), cuda.InOut(done), block=(1, 1, 1), grid=(1, 1))
    context.synchronize()
    print(f"{label}: {time.time() - started:.2f} s on {device.name()} ({os.environ['CUDA_VISIBLE_DEVICES']})")
    assert done[0] == 1
finally:
    context.pop()
"""


def generate(root: Path, crates: int) -> None:
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n\n[profile.dev]\ndebug = 0\nstrip = "symbols"\n'
    )
    for index in range(crates):
        crate = root / "crates" / f"gpu-busy-{index:02d}"
        (crate / "src").mkdir(parents=True)
        (crate / "Cargo.toml").write_text(
            f'[package]\nname = "gpu-busy-{index:02d}"\nversion = "0.1.0"\nedition = "2021"\n'
        )
        (crate / "src" / "lib.rs").write_text(TEST.format(index=index))


def cargo_binaries(root: Path) -> tuple[list[TestBinary], str]:
    result = subprocess.run(["cargo", "test", "--no-run", "--message-format=json", "--workspace"], cwd=root,
                            capture_output=True, text=True, check=True)
    return parse_binaries(result.stdout), result.stdout


def emit_prebuilt(target: Path, crates: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-shard-") as temp:
        root = Path(temp)
        generate(root, crates)
        binaries, _ = cargo_binaries(root)
        (target / "bin").mkdir(parents=True, exist_ok=True)
        records = []
        for binary in binaries:
            shutil.copy2(binary.executable, target / "bin" / binary.executable.name)
            records.append({"package": binary.package, "target": binary.target, "kind": binary.kind,
                            "executable": binary.executable.name})
        (target / "binaries.json").write_text(json.dumps(records, indent=1))
    print(f"{len(records)} test binaries in {target}")
    return 0


def prebuilt(directory: Path) -> list[TestBinary]:
    records = json.loads((directory / "binaries.json").read_text())
    return [TestBinary(r["package"], r["target"], r["kind"], directory / "bin" / r["executable"], directory)
            for r in records]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crates", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0, help="GPU time each test takes")
    parser.add_argument("--prebuilt", type=Path, help="run test binaries made by --emit-prebuilt")
    parser.add_argument("--emit-prebuilt", type=Path, help="only build the test binaries into this directory")
    args = parser.parse_args()
    if args.emit_prebuilt:
        return emit_prebuilt(args.emit_prebuilt.resolve(), args.crates)
    inventory = read_inventory()
    if not inventory.available:
        print(f"skipped: {inventory.reason}")
        return 0
    uuids = [gpu.uuid for gpu in visible(inventory)]
    with tempfile.TemporaryDirectory(prefix="bench-shard-") as temp:
        work = Path(temp)
        arch = visible(inventory)[0].arch
        nvcc = find_cuda_tool("nvcc")
        (work / "spin.cu").write_text(SPIN)
        subprocess.run([str(nvcc), "-cubin", f"-arch={arch}", "-o", str(work / "spin.cubin"), str(work / "spin.cu")],
                       check=True)
        (work / "busy.py").write_text(BUSY)
        os.environ["GPU_BUSY_CMD"] = f"{sys.executable} {work / 'busy.py'} {args.seconds} {work / 'spin.cubin'}"
        if args.prebuilt:
            binaries = prebuilt(args.prebuilt.resolve())
        else:
            generate(work / "ws", args.crates)
            binaries, _ = cargo_binaries(work / "ws")
        print(f"{len(binaries)} test binaries, each keeping a GPU busy for {args.seconds} s; "
              f"{len(uuids)} GPU(s): {', '.join(uuids)}")
        rows = []
        for count in sorted({1, len(uuids)}):
            started = time.perf_counter()
            run = shard_and_run(binaries, uuids[:count], work / "leases", timeout=600)
            wall = time.perf_counter() - started
            failed = [r.binary.label for r in run.results if r.returncode != 0]
            per_gpu = {gpu: sum(1 for r in run.results if r.gpu == gpu) for gpu in sorted(run.gpus_used)}
            rows.append((count, wall, len(run.results), failed, per_gpu))
        base = rows[0][1]
        print(f"\n{'GPUs':>4}  {'wall s':>7}  {'speed-up':>8}  binaries per GPU")
        for count, wall, ran, failed, per_gpu in rows:
            spread = ", ".join(f"{uuid[:12]}: {n}" for uuid, n in per_gpu.items())
            state = f"  FAILED: {', '.join(failed)}" if failed else ""
            print(f"{count:>4}  {wall:7.2f}  {base / wall:7.2f}x  {spread} ({ran} run){state}")
        if len(rows) > 1:
            print(f"\nspeed-up with {rows[-1][0]} GPUs: {base / rows[-1][1]:.2f}x (target: close to {rows[-1][0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
