"""The edge of `pipeline report`: read what the report shows (CI model, kernel manifest, dupes, plan).

The duplicate check and the release plan come from the tool's own `--json` outputs, run as
`python -m pipeline`: those are the documented, stable shapes, and a failing part (no git
history, a lockfile missing) becomes a note in its section instead of stopping the report.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.foundation import proc
from pipeline.report.model import DuplicateRow, Graph, KernelRow, Node, ReleaseRow, Report

PACKAGE_PARENT = Path(__file__).resolve().parents[2]


def _tool_json(root: Path, *args: str) -> tuple[dict[str, Any] | None, str]:
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")) if p)}
    result = proc.run([sys.executable, "-m", "pipeline", "--workspace", str(root), *args], env=env, check=False)
    try:
        data = json.loads(result.stdout) if result.stdout.strip() else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return None, proc.tail(result.stderr, 3) or f"`pipeline {' '.join(args)}` exited {result.returncode}"
    return data, ""


def job_graphs(project: Any) -> tuple[tuple[Graph, ...], tuple[str, ...]]:
    from pipeline.ci.generate import pipeline_for
    from pipeline.ci.model import Runner, Workflow, critical_path

    try:
        pipeline, _ = pipeline_for(project)
    except Exception as exc:  # noqa: BLE001 - a report section, never a reason to stop
        return (), (f"CI job graph not drawn: {exc}",)
    graphs = []
    for workflow, title in ((Workflow.CI, "CI workflow"), (Workflow.RELEASE, "release workflow")):
        jobs = pipeline.jobs(workflow)
        if not jobs:
            continue
        chain, minutes = critical_path(jobs)
        nodes = []
        for job in jobs:
            entries = len(job.matrix_entries)
            runner = "GPU" if job.runner is Runner.GPU else "CPU"
            detail = f"{runner}, {job.timeout} min" + (f", ×{entries}" if entries else "")
            nodes.append(Node(job.id, job.id, detail, "gpu" if job.runner is Runner.GPU else ""))
        edges = tuple((need, job.id) for job in jobs for need in job.needs)
        graphs.append(Graph(title, tuple(nodes), edges, tuple(chain), minutes))
    return tuple(graphs), ()


def kernel_rows(root: Path) -> tuple[tuple[KernelRow, ...], str]:
    manifest = root / "target" / "cuda" / "manifest.json"
    if not manifest.is_file():
        return (), f"no {manifest.relative_to(root)} yet: `pipeline cuda` writes it (resource usage from ptxas -v)"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return (), f"{manifest}: unreadable ({exc})"
    rows = []
    for kernel in data.get("kernels", []):
        for arch, info in kernel.get("architectures", {}).items():
            for function, usage in sorted(info.get("functions", {}).items()):
                rows.append(KernelRow(kernel["name"], arch, function, int(usage.get("registers", 0)),
                                      int(usage.get("shared_bytes", 0)), int(usage.get("stack_bytes", 0)),
                                      int(usage.get("spill_stores", 0)), int(usage.get("spill_loads", 0))))
    return tuple(rows), f"{manifest.relative_to(root)} (nvcc {data.get('nvcc', '?')})"


def duplicates(root: Path) -> tuple[tuple[DuplicateRow, ...], Graph | None, str]:
    data, error = _tool_json(root, "dupes", "--json")
    if data is None:
        return (), None, f"duplicate check failed: {error}"
    rows, nodes, edges = [], {}, set()
    for dup in data.get("duplicates", []):
        versions = []
        for version in dup["versions"]:
            versions.append((version["version"], version["why"], version.get("accepted")))
            # The path runs from the duplicated version to the workspace member: draw member -> dependency.
            steps = [f"{s['name']} {s['version']}" for s in version["path"]]
            for index, step in enumerate(steps):
                kind = "dup" if index == 0 else ("member" if index == len(steps) - 1 else "")
                nodes.setdefault(step, Node(step, step.rsplit(" ", 1)[0] if kind == "member" else step,
                                            "duplicated" if kind == "dup" else kind, kind))
            for child, parent in itertools.pairwise(steps):
                edges.add((parent, child))
        rows.append(DuplicateRow(dup["name"], tuple(versions), bool(dup.get("finding"))))
    graph = Graph("duplicate versions", tuple(nodes.values()), tuple(sorted(edges))) if nodes else None
    summary = data.get("summary", {})
    note = (f"{summary.get('duplicated', len(rows))} duplicated crate(s) among {data.get('packages')} locked "
            f"packages; policy `{data.get('multiple_versions')}`")
    return tuple(rows), graph, note


def release_plan(root: Path) -> tuple[tuple[ReleaseRow, ...], str]:
    data, error = _tool_json(root, "release", "--json")
    if data is None:
        return (), f"no release plan: {error}"
    rows = tuple(ReleaseRow(c["name"], c["old"], c["new"], c.get("reason", "")) for c in data.get("crates", []))
    tags = data.get("tags") or []
    shown = ", ".join(t if isinstance(t, str) else str(t.get("name", t)) for t in tags)
    return rows, f"`pipeline release {data.get('target', '')}` (dry run)" + (f": tags {shown}" if shown else "")


def gather(project: Any) -> Report:
    root = project.root
    graphs, notes = job_graphs(project)
    kernels, kernels_note = kernel_rows(root)
    dupes, dupes_graph, dupes_note = duplicates(root)
    release, release_note = release_plan(root)
    return Report(str(root), __version__, graphs, kernels, kernels_note, dupes, dupes_graph, dupes_note,
                  release, release_note, notes)
