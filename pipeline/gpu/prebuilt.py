"""Prebuilt GPU test binaries: build here, run on a GPU machine without cargo.

``pipeline test --gpu --save-prebuilt DIR`` builds the GPU tests as ``test --gpu`` would
and copies each test executable into DIR with ``binaries.json`` (package, target,
kind, and the crate directory relative to the workspace, where cargo would run it).
``pipeline test --gpu --prebuilt DIR`` runs them under GPU leases, sharded across the
GPUs like a normal ``test --gpu``. ``--lease-record FILE`` writes one JSON line per
binary (GPU, wall-clock start and end, the lease holder its lock file named), and
:func:`overlaps` proves from those lines that no two binaries shared a GPU at once.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.foundation.errors import OperationFailed, UsageError
from pipeline.gpu.testing import BinaryResult, GpuTestRun, TestBinary

INDEX = "binaries.json"
INDEX_VERSION = 1


def save(binaries: Sequence[TestBinary], destination: Path, workspace_root: Path) -> Path:
    """Copy the executables into ``destination`` (names kept, made unique) and write the index."""
    try:
        destination.mkdir(parents=True, exist_ok=True)
        entries = []
        used: set[str] = set()
        for binary in binaries:
            name = binary.executable.name
            while name in used:
                name = f"{binary.package}-{name}"
            used.add(name)
            shutil.copy2(binary.executable, destination / name)
            try:
                cwd = binary.cwd.resolve().relative_to(workspace_root.resolve()).as_posix()
            except ValueError:
                cwd = "."
            entries.append({"file": name, "package": binary.package, "target": binary.target, "kind": binary.kind,
                            "cwd": cwd})
        index = destination / INDEX
        tmp = index.with_name(INDEX + ".tmp")
        tmp.write_text(json.dumps({"version": INDEX_VERSION, "binaries": entries}, indent=2) + "\n")
        tmp.replace(index)
    except OSError as exc:
        raise OperationFailed(f"test --gpu --save-prebuilt: cannot write {destination}: {exc.strerror or exc}",
                              "pass a directory you can write") from None
    return index


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def load(directory: Path, workspace_root: Path) -> list[TestBinary]:
    """The binaries of ``directory``: from its index, else every executable file in it.

    Each runs in its crate's directory under ``workspace_root`` (tests read fixtures
    relative to it) when that exists, else in ``directory``.
    """
    if not directory.is_dir():
        raise UsageError(f"test --gpu --prebuilt {directory}: not a directory",
                         "make it with `pipeline test --gpu --save-prebuilt DIR` (or copy the test executables there)")
    index = directory / INDEX
    if not index.exists():
        found = sorted(p for p in directory.iterdir() if _executable(p))
        if not found:
            raise UsageError(f"test --gpu --prebuilt {directory}: no {INDEX} and no executable file",
                             "make it with `pipeline test --gpu --save-prebuilt DIR`")
        return [TestBinary(p.name, p.name, "test", p.resolve(), directory.resolve()) for p in found]
    try:
        data = json.loads(index.read_text())
        entries = data["binaries"]
        if data.get("version") != INDEX_VERSION or not isinstance(entries, list):
            raise ValueError(f"version {data.get('version')!r}, expected {INDEX_VERSION}")
        binaries = []
        for entry in entries:
            path = directory / str(entry["file"])
            if not _executable(path):
                raise UsageError(f"{index}: {entry['file']} is missing or not executable",
                                 "copy the whole directory that --save-prebuilt wrote (keep the modes: cp -a, rsync)")
            crate_dir = workspace_root / str(entry.get("cwd", "."))
            cwd = crate_dir if crate_dir.is_dir() else directory
            binaries.append(TestBinary(str(entry["package"]), str(entry["target"]), str(entry["kind"]),
                                       path.resolve(), cwd.resolve()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{index}: not a prebuilt test index ({exc})",
                         "write it again with `pipeline test --gpu --save-prebuilt DIR`") from None
    return binaries


# ---------------------------------------------------------------- lease records


def records(run: GpuTestRun) -> list[dict[str, object]]:
    return [_record(r) for r in sorted(run.results, key=lambda r: r.started)]


def _record(result: BinaryResult) -> dict[str, object]:
    return {"binary": result.binary.label, "file": result.binary.executable.name, "gpu": result.gpu,
            "start": result.started, "end": result.ended, "exit": result.returncode, "holder": result.holder}


def write_records(path: Path, run: GpuTestRun) -> None:
    try:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in records(run)))
        tmp.replace(path)
    except OSError as exc:
        raise OperationFailed(f"test --gpu --lease-record {path}: {exc.strerror or exc}",
                              "pass a path in a writable directory") from None


@dataclass(frozen=True)
class Overlap:
    gpu: str
    first: str
    second: str
    seconds: float


def overlaps(lines: Iterable[dict[str, object]]) -> list[Overlap]:
    """Pairs of binaries whose runs on the same GPU overlap in time (none, with working leases)."""
    by_gpu: dict[str, list[tuple[float, float, str]]] = {}
    for line in lines:
        by_gpu.setdefault(str(line["gpu"]), []).append(
            (float(line["start"]), float(line["end"]), str(line["binary"])))  # type: ignore[arg-type]
    found = []
    for gpu, spans in by_gpu.items():
        spans.sort()
        latest_end, latest = float("-inf"), ""
        for start, end, name in spans:
            if start < latest_end:  # began before the longest-running earlier binary ended
                found.append(Overlap(gpu, latest, name, min(latest_end, end) - start))
            if end > latest_end:
                latest_end, latest = end, name
    return found


def read_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
