"""On a real NVIDIA GPU (marked `gpu`; skipped with the reason elsewhere): NVML, doctor, smoke launch, leases."""

from __future__ import annotations

import importlib.util
import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import REPO, pipeline_env, run_pipeline

from pipeline.gpu.nvml import read_inventory

INVENTORY = read_inventory()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not INVENTORY.available, reason=f"needs an NVIDIA GPU: {INVENTORY.reason}"),
]
needs_pycuda = pytest.mark.skipif(importlib.util.find_spec("pycuda") is None,
                                  reason="needs pycuda (the `gpu` extra)")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return pipeline_env(None, None, PIPELINE_GPU_LEASE_DIR=str(tmp_path / "leases"))


@pytest.fixture
def example(tmp_path: Path) -> Path:
    root = tmp_path / "prism4d"
    shutil.copytree(REPO / "examples" / "prism4d", root, ignore=shutil.ignore_patterns("target"))
    return root


def test_real_inventory(env: dict[str, str]) -> None:
    data = json.loads(run_pipeline(["gpu", "info", "--json"], env=env).stdout)
    assert data["available"] and data["driver_version"] and data["cuda_driver_version"]
    uuids = [g["uuid"] for g in data["gpus"]]
    assert uuids and all(u.startswith("GPU-") for u in uuids) and len(set(uuids)) == len(uuids)
    assert all(g["arch"].startswith("sm_") and g["memory_total_mib"] > 0 for g in data["gpus"])


def test_real_doctor_checks_driver_and_architectures(env: dict[str, str]) -> None:
    data = json.loads(run_pipeline(["doctor", "--json"], env=env).stdout)
    checks = {(f["check"], f["level"]) for f in data["findings"]}
    assert ("nvml", "ok") in checks
    assert data["cuda"]["targets_from"] == "auto: GPUs present"
    assert sorted(data["cuda"]["targets"]) == sorted({g["arch"] for g in data["gpu"]["gpus"]})


def test_auto_builds_for_the_gpus_present(example: Path, env: dict[str, str]) -> None:
    result = run_pipeline(["--workspace", str(example), "cuda", "--json"], env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["architectures_from"] == "GPUs present"
    assert data["architectures"] == sorted({g.arch for g in INVENTORY.gpus})


@needs_pycuda
def test_real_smoke_loads_every_fatbin_and_checks_saxpy(example: Path, env: dict[str, str]) -> None:
    result = run_pipeline(["--workspace", str(example), "gpu", "smoke", "--require-gpu", "--json"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "passed" and len(report["devices"]) == len(INVENTORY.gpus)
    for device in report["devices"]:
        assert {m["module"] for m in device["modules"] if m["ok"]} == {"saxpy.fatbin", "reduce.fatbin",
                                                                        "stencil.fatbin"}
        assert [(c["kernel"], c["ok"], c["max_error"]) for c in device["cases"]] == [("saxpy", True, 0.0)]


@needs_pycuda
def test_real_concurrent_runs_share_one_gpu_in_turn(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    script = (
        "import json, os, sys, time\n"
        "import pycuda.driver as cuda\n"
        "cuda.init(); start = time.time()\n"
        "names = [cuda.Device(i).name() for i in range(cuda.Device.count())]\n"
        "time.sleep(1.0)\n"
        "record = [start, time.time(), os.environ['CUDA_VISIBLE_DEVICES'], names]\n"
        "open(sys.argv[1], 'a').write(json.dumps(record) + '\\n')\n"
    )
    gpus = len(INVENTORY.gpus)
    runs = [subprocess.Popen([sys.executable, "-m", "pipeline", "gpu", "run", "--gpus", "1", "--", sys.executable,
                              "-c", script, str(log)], env=env, cwd=REPO, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(gpus + 1)]
    outputs = [r.communicate() for r in runs]
    assert all(r.returncode == 0 for r in runs), outputs
    records = sorted(json.loads(line) for line in log.read_text().splitlines())
    assert all(len(r[3]) == 1 for r in records)  # each command sees exactly its leased GPU
    assert {r[2] for r in records} <= {g.uuid for g in INVENTORY.gpus}
    for uuid in {r[2] for r in records}:  # on each GPU, one command after the other
        same = [r for r in records if r[2] == uuid]
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(same))


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo on the GPU machine")
def test_real_gpu_test_stage(example: Path, env: dict[str, str]) -> None:
    result = run_pipeline(["--workspace", str(example), "test", "--gpu", "--require-gpu"], env=env)
    assert result.returncode == 0, result.stderr
    assert "test binaries on" in result.stdout
