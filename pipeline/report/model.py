"""What a report shows, as plain data (gathered by ``report.gather``, drawn by ``report.html``/``markdown``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    detail: str = ""  # second line: runner, matrix size, minutes
    kind: str = ""  # css class: "gpu", "dup", ...


@dataclass(frozen=True)
class Graph:
    """A directed acyclic graph; ``critical`` is a chain of node ids drawn highlighted."""

    title: str
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]  # (from, to): `to` waits for / depends on `from`
    critical: tuple[str, ...] = ()
    critical_minutes: int = 0


@dataclass(frozen=True)
class KernelRow:
    kernel: str
    arch: str
    function: str
    registers: int
    shared_bytes: int
    stack_bytes: int
    spill_stores: int
    spill_loads: int

    @property
    def spills(self) -> bool:
        return bool(self.spill_stores or self.spill_loads)


@dataclass(frozen=True)
class DuplicateRow:
    name: str
    versions: tuple[tuple[str, str, str | None], ...]  # (version, why-path, accepted reason)
    finding: bool


@dataclass(frozen=True)
class ReleaseRow:
    crate: str
    old: str
    new: str
    reason: str


@dataclass(frozen=True)
class Report:
    workspace: str
    tool_version: str
    job_graphs: tuple[Graph, ...]
    kernels: tuple[KernelRow, ...]
    kernels_note: str  # why the table is empty, or where it comes from
    duplicates: tuple[DuplicateRow, ...]
    duplicate_graph: Graph | None
    duplicates_note: str
    release: tuple[ReleaseRow, ...]
    release_note: str  # the target and tags, or why no plan could be made
    notes: tuple[str, ...] = field(default=())
